"""Corpora, splits and token datasets (seqgen.data.corpus, seqgen.data.encoding)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from seqgen.data.config import DataConfig
from seqgen.data.corpus import load_corpus, resolve_splits
from seqgen.data.encoding import collate, count_tokens, encode_corpus
from seqgen.errors import SeqgenError

pytestmark = pytest.mark.usefixtures("datasets_cache")

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"
BOS, EOS = 1, 2


class CharStandIn:
    """A minimal char tokenizer (ids 4.. for its alphabet, unk=3) that counts its encode calls."""

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3
    calls = 0

    def __init__(self, alphabet: str = "abcdefghijklmnopqrstuvwxyz ") -> None:
        self.alphabet = alphabet
        self.index = {c: i + 4 for i, c in enumerate(alphabet)}

    def encode(self, text: str) -> list[int]:
        CharStandIn.calls += 1
        return [self.index.get(c, 3) for c in text]

    def save(self, folder: str | Path) -> None:
        Path(folder).mkdir(parents=True)
        (Path(folder) / "tokenizer.json").write_text(json.dumps({"alphabet": self.alphabet}))


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def rows(ds) -> list[list[int]]:
    return ds[:]["input_ids"]


def texts(ds) -> list[str]:
    return ds[:]["text"]


# --------------------------------------------------------------------------- load_corpus


def test_file_lines_stripped_blank_lines_skipped_or_kept(tmp_path):
    f = write(tmp_path / "c.txt", "\ufeffone two\r\n\n  \nthree\nlast line no newline")
    assert texts(load_corpus(str(f))) == ["one two", "three", "last line no newline"]
    assert texts(load_corpus(str(f), keep_blank=True)) == [
        "one two",
        "",
        "  ",
        "three",
        "last line no newline",
    ]


def test_folder_reads_txt_files_in_name_order_not_subfolders(tmp_path):
    write(tmp_path / "b.txt", "b1\nb2\n")
    write(tmp_path / "a.txt", "a1\n")
    write(tmp_path / "notes.md", "not a corpus\n")
    write(tmp_path / "valid" / "v.txt", "held out\n")
    assert texts(load_corpus(str(tmp_path))) == ["a1", "b1", "b2"]


def test_edited_file_is_reread_not_served_from_cache(tmp_path):
    f = write(tmp_path / "c.txt", "old\n")
    first = load_corpus(str(f))
    assert texts(first) == ["old"]
    assert texts(load_corpus(str(f))) == ["old"] and load_corpus(str(f))._fingerprint == first._fingerprint
    write(f, "new text\nand more\n")
    assert texts(load_corpus(str(f))) == ["new text", "and more"]


def test_cache_lives_in_the_configured_folder(tmp_path, datasets_cache):
    ds = load_corpus(str(write(tmp_path / "c.txt", "x y\n")))
    assert ds.cache_files and all(Path(c["filename"]).is_relative_to(datasets_cache) for c in ds.cache_files)


def test_unusable_or_corrupt_cache_does_not_break_loading(tmp_path, monkeypatch):
    import datasets

    f = write(tmp_path / "c.txt", "a b\nc d\n")
    blocker = write(tmp_path / "not-a-folder", "x")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", blocker / "cache")
    assert texts(load_corpus(str(f))) == ["a b", "c d"]

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache2")
    (arrow,) = [Path(c["filename"]) for c in load_corpus(str(f)).cache_files]
    arrow.write_bytes(arrow.read_bytes()[:100])  # truncate the cached table
    assert texts(load_corpus(str(f))) == ["a b", "c d"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.txt", "corpus not found: {p}"),
        (lambda d: write(d / "empty.txt", ""), "empty corpus (no non-blank lines): {p}"),
        (lambda d: write(d / "blank.txt", "\n  \r\n\n"), "empty corpus (no non-blank lines): {p}"),
        (lambda d: write(d / "sub" / "x.md", "hi\n").parent, "no .txt files in folder {p}"),
    ],
)
def test_bad_corpus_is_a_one_line_error_naming_the_path(tmp_path, make, message):
    p = make(tmp_path)
    with pytest.raises(SeqgenError) as e:
        load_corpus(str(p))
    assert str(e.value) == message.format(p=p)


def test_non_utf8_names_file_line_and_byte_offset(tmp_path):
    good = write(tmp_path / "a.txt", "fine\n")
    bad = write(tmp_path / "b.txt", b"ok line\nbad \xff here\n")
    with pytest.raises(SeqgenError) as e:
        load_corpus(str(tmp_path))
    assert str(e.value) == f"not UTF-8 text: {bad} line 2 (byte offset 12)"
    assert texts(load_corpus(str(good))) == ["fine"]


def test_hub_dataset_offline_is_a_clear_error(monkeypatch):
    import datasets
    import huggingface_hub

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(SeqgenError) as e:
        load_corpus("hf:someone/some-corpus:default")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("cannot load hub dataset 'someone/some-corpus:default'")
    assert "network" in msg


def test_hub_path_selects_the_text_column_and_uses_the_own_test_split(tmp_path_factory):
    # load_dataset also reads a local folder of csv files (splits from the file names): the hf: path offline.
    # (Not tmp_path: datasets would read the "test" in the test's folder name as a split name.)
    import csv

    tmp_path = tmp_path_factory.mktemp("hubcsv")
    for split, n in (("train", 100), ("test", 5)):
        with open(tmp_path / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "sentence"])
            w.writerows([i, f"{split} {i}\n" if i % 10 else ""] for i in range(n))
    source = f"hf:{tmp_path}"
    with pytest.raises(SeqgenError, match="no text column 'text' .*columns: id, sentence"):
        load_corpus(source)
    s = resolve_splits(DataConfig(train=source, text_column="sentence", holdout=3))
    kept = [f"train {i}" for i in range(100) if i % 10]  # blank rows skipped, newlines stripped
    assert texts(s.test) == ["test 1", "test 2", "test 3", "test 4"]
    perm = np.random.default_rng(0).permutation(90)
    assert texts(s.valid) == [kept[i] for i in sorted(perm[3:6])]
    assert texts(s.train) == [kept[i] for i in sorted(set(range(90)) - set(perm[3:6]))]


# --------------------------------------------------------------------------- resolve_splits


def file_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_one_billion_word_splits_are_the_conventional_files(obw_root):
    train_dir = obw_root / "training-monolingual.tokenized.shuffled"
    heldout = obw_root / "heldout-monolingual.tokenized.shuffled"
    s = resolve_splits(DataConfig(train=str(obw_root)))
    expected_train = [line for i in (1, 2, 3) for line in file_lines(train_dir / f"news.en-{i:05d}-of-00100")]
    assert len(expected_train) == 750 and texts(s.train) == expected_train
    assert texts(s.valid) == file_lines(heldout / "news.en.heldout-00001-of-00050") and len(s.valid) == 40
    assert texts(s.test) == file_lines(heldout / "news.en.heldout-00000-of-00050") and len(s.test) == 50
    assert "news.en.heldout-00001-of-00050" in s.rule and "\n" not in s.rule


def test_one_billion_word_explicit_valid_wins_and_missing_shard_is_named(obw_root, tmp_path):
    mine = write(tmp_path / "mine.txt", "my valid sentence .\n")
    s = resolve_splits(DataConfig(train=str(obw_root), valid=str(mine)))
    assert texts(s.valid) == ["my valid sentence ."] and len(s.test) == 50 and len(s.train) == 750

    broken = tmp_path / "broken"
    write(broken / "training-monolingual.tokenized.shuffled" / "news.en-00001-of-00100", "a b\n")
    with pytest.raises(SeqgenError, match="heldout shard not found: .*news.en.heldout-00001-of-00050"):
        resolve_splits(DataConfig(train=str(broken)))


def test_plain_file_holds_out_k_lines_per_missing_split(tmp_path):
    lines = [f"sentence {i}" for i in range(400)]
    f = write(tmp_path / "c.txt", "\n".join(lines) + "\n")
    s = resolve_splits(DataConfig(train=str(f), holdout=15))  # 5% of 400 = 20 > 15, so k = 15
    perm = np.random.default_rng(0).permutation(400)
    assert texts(s.test) == [lines[i] for i in sorted(perm[:15])]
    assert texts(s.valid) == [lines[i] for i in sorted(perm[15:30])]
    assert texts(s.train) == [lines[i] for i in sorted(perm[30:])]
    assert "15 lines held out" in s.rule

    capped = resolve_splits(DataConfig(train=str(f), holdout=1000))  # k = 5% of 400 = 20
    assert (len(capped.train), len(capped.valid), len(capped.test)) == (360, 20, 20)

    # Adding a valid file later leaves the test set where it was; train gets the old valid lines back.
    v = write(tmp_path / "v.txt", "given\n")
    again = resolve_splits(DataConfig(train=str(f), valid=str(v), holdout=15))
    assert texts(again.test) == texts(s.test) and len(again.train) == 385 and texts(again.valid) == ["given"]


def test_tiny_corpus_holds_nothing_out(tmp_path):
    f = write(tmp_path / "c.txt", "".join(f"s {i}\n" for i in range(19)))  # 5% of 19 lines is 0
    s = resolve_splits(DataConfig(train=str(f)))
    assert s.valid is None and s.test is None and len(s.train) == 19


def test_stream_mode_keeps_blank_lines(tmp_path):
    f = write(tmp_path / "book.txt", "ACT I\n\nSCENE I\n")
    t = write(tmp_path / "t.txt", "x\n\ny\n")
    s = resolve_splits(DataConfig(train=str(f), valid=str(t), test=str(t), mode="stream"))
    assert texts(s.train) == ["ACT I", "", "SCENE I"] and texts(s.test) == ["x", "", "y"]


def test_caption_language_splits(monkeypatch, tmp_path):
    seen = []

    def caption_splits(n_train, n_heldout, seed):
        seen.append((n_train, n_heldout, seed))
        return [f"t{i}" for i in range(n_train)], [f"v{i}" for i in range(n_heldout)], ["z"] * n_heldout

    fake = types.ModuleType("seqgen.data.caption_language")
    fake.caption_splits = caption_splits
    monkeypatch.setitem(sys.modules, "seqgen.data.caption_language", fake)
    s = resolve_splits(DataConfig(train="caption", caption_sentences=30, holdout=4, caption_seed=7))
    assert seen == [(30, 4, 7)]
    assert texts(s.train) == [f"t{i}" for i in range(30)] and texts(s.valid) == ["v0", "v1", "v2", "v3"]
    assert texts(s.test) == ["z"] * 4

    t = write(tmp_path / "t.txt", "given test\n")
    assert texts(resolve_splits(DataConfig(train="caption", test=str(t))).test) == ["given test"]


# --------------------------------------------------------------------------- encode_corpus


def corpus(tmp_path: Path, lines: list[str], name: str = "c.txt"):
    return load_corpus(str(write(tmp_path / name, "".join(f"{x}\n" for x in lines))), keep_blank=True)


def test_sentence_mode_truncate_and_drop(tmp_path):
    ds = corpus(tmp_path, ["ab", "abcd", "abcdef", ""])
    tok = CharStandIn()
    a, b, c, d, e, f = range(4, 10)
    got = encode_corpus(ds, tok, mode="sentence", max_len=5)
    assert rows(got) == [[BOS, a, b, EOS], [BOS, a, b, c, d], [BOS, a, b, c, d], [BOS, EOS]]
    assert count_tokens(got) == 3 + 4 + 4 + 1
    assert rows(encode_corpus(ds, tok, mode="sentence", max_len=6, truncation="drop")) == [
        [BOS, a, b, EOS],
        [BOS, a, b, c, d, EOS],
        [BOS, EOS],
    ]
    with pytest.raises(SeqgenError, match="nothing left"):
        encode_corpus(
            corpus(tmp_path, ["abcdef"], "long.txt"), tok, mode="sentence", max_len=3, truncation="drop"
        )


def test_stream_mode_blocks_match_a_plain_python_reference(tmp_path):
    rng = np.random.default_rng(1)
    lines = ["".join(rng.choice(list("abc "), size=int(rng.integers(0, 9)))) for _ in range(2600)]
    tok = CharStandIn()
    stream = [t for x in lines for t in [*tok.encode(x), EOS]]  # > 2 map batches: blocks cross batches
    for block in (7, 64):
        got = encode_corpus(corpus(tmp_path, lines), tok, mode="stream", max_len=block)
        n = len(stream) // block
        assert rows(got) == [stream[i * block : (i + 1) * block] for i in range(n)]
        assert count_tokens(got) == n * (block - 1)

    with pytest.raises(SeqgenError, match="fewer than one block"):
        encode_corpus(corpus(tmp_path, ["ab"], "short.txt"), tok, mode="stream", max_len=4)


def test_encoding_is_cached_by_corpus_tokenizer_and_settings(tmp_path):
    ds = corpus(tmp_path, [f"line {i}" for i in range(50)])
    for mode in ("sentence", "stream"):
        first = rows(encode_corpus(ds, CharStandIn(), mode=mode, max_len=8))
        CharStandIn.calls = 0
        reloaded = load_corpus(str(tmp_path / "c.txt"), keep_blank=True)  # fresh objects, as in a new run
        assert rows(encode_corpus(reloaded, CharStandIn(), mode=mode, max_len=8)) == first
        assert CharStandIn.calls == 0, "a second identical encode must come from the cache"

    # A different tokenizer or setting is a cache miss: every line is encoded again.
    for tok, max_len in ((CharStandIn("enil 0123456789"), 8), (CharStandIn(), 9)):
        CharStandIn.calls = 0
        encode_corpus(ds, tok, mode="sentence", max_len=max_len)
        assert CharStandIn.calls == 50


def test_corrupt_encoding_cache_is_recomputed(tmp_path):
    ds = corpus(tmp_path, ["abc", "ba"])
    good = rows(encode_corpus(ds, CharStandIn(), mode="sentence", max_len=8))
    for c in encode_corpus(ds, CharStandIn(), mode="sentence", max_len=8).cache_files:
        Path(c["filename"]).write_bytes(b"garbage")
    assert rows(encode_corpus(ds, CharStandIn(), mode="sentence", max_len=8)) == good


def test_bad_settings_are_refused(tmp_path):
    ds = corpus(tmp_path, ["ab"])
    for kwargs, match in [
        ({"mode": "lines", "max_len": 8}, "data mode"),
        ({"mode": "sentence", "max_len": 1}, "max_len"),
        ({"mode": "sentence", "max_len": 8, "truncation": "cut"}, "truncation"),
    ]:
        with pytest.raises(SeqgenError, match=match):
            encode_corpus(ds, CharStandIn(), **kwargs)


def test_count_tokens_respects_a_selection(tmp_path):
    enc = encode_corpus(corpus(tmp_path, ["a", "abc", "abcde"]), CharStandIn(), mode="sentence", max_len=16)
    assert count_tokens(enc) == 2 + 4 + 6
    assert count_tokens(enc.select([2, 0])) == 6 + 2


def test_collate_matches_pad_sequence():
    batch = [[1, 5, 6, 2], [1, 2], [1, 7, 8, 9, 10, 2]]
    expected = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor(r) for r in batch], batch_first=True, padding_value=0
    )
    got = collate(batch, pad_id=0)
    assert got.dtype == torch.long and torch.equal(got, expected)


@pytest.mark.skipif(not SHAKESPEARE.is_file(), reason="needs ../shared/data/tinyshakespeare")
def test_tiny_shakespeare_stream_blocks_decode_to_the_book():
    from seqgen.tokenization import CharTokenizer

    text = SHAKESPEARE.read_text(encoding="utf-8")
    ds = load_corpus(str(SHAKESPEARE), keep_blank=True)  # as resolve_splits loads it in stream mode
    tok = CharTokenizer.train(text.splitlines())
    block = 256
    enc = encode_corpus(ds, tok, mode="stream", max_len=block)
    assert len(enc) == len(text) // block  # the file ends in a newline: one EOS per line, one token per char
    for i in (0, 1, 2, len(enc) - 1):
        ids = enc[i]["input_ids"]
        assert (
            "".join("\n" if t == EOS else tok.decode([t]) for t in ids) == text[i * block : (i + 1) * block]
        )
