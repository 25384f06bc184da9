"""Tokenizers: vocabulary order, round trips (property-tested), save/load, determinism and error messages."""

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import sentencepiece as spm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqgen.errors import SeqgenError
from seqgen.tokenization import (
    CharTokenizer,
    SentencePieceTokenizer,
    Tokenizer,
    WordTokenizer,
    load_tokenizer,
    train_tokenizer,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEQGEN_DATA", ROOT.parent / "shared" / "data"))
COCO = DATA / "coco"
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]

# A small corpus with varied characters and spacing (tabs, accents, CJK, emoji) for the sentencepiece tests.
CORPUS = [
    "the cat sat on the mat .",
    "a  dog\tran   after the cat",
    " leading and trailing spaces ",
    "café naïve — déjà vu",
    "東京 タワー 東京",
    "emoji 🙂 and symbols <> & % $ # @ !",
    "numbers 0123456789 and CAPITALS XYZ",
    "quick brown fox jumps over the lazy dog",
    "a line\nthat holds a newline",
] * 20
SPM_ALPHABET = sorted(set("".join(CORPUS)))
settings.register_profile(
    "seqgen", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("seqgen")


@pytest.fixture(scope="module", params=["unigram", "bpe"])
def spm_tok(request):
    return train_tokenizer("sentencepiece", CORPUS, vocab_size=80, model_type=request.param)


def every_kind() -> list[Tokenizer]:
    return [
        train_tokenizer("char", CORPUS),
        train_tokenizer("word", CORPUS),
        train_tokenizer("sentencepiece", CORPUS, vocab_size=80),
    ]


# --------------------------------------------------------------------------- vocabulary order and specials


def test_special_ids_are_the_same_for_every_kind():
    for tok in every_kind():
        assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
        assert [tok.id_to_token(i) for i in range(4)] == SPECIALS
        assert tok.is_char_level == (tok.kind == "char")


def test_char_vocab_is_most_frequent_first_ties_by_code_point():
    tok = train_tokenizer("char", ["abbb", "cc\n", "d"])  # b3 c2 a1 d1 \n1
    assert [tok.id_to_token(i) for i in range(tok.vocab_size)] == SPECIALS + ["b", "c", "\n", "a", "d"]
    assert tok.encode("bad?") == [4, 7, 8, 3]
    assert tok.decode([1, 4, 7, 3, 2, 0]) == "ba\ufffd"
    capped = train_tokenizer("char", ["abbb", "cc\n", "d"], max_vocab=6)  # max_vocab counts the specials too
    assert [capped.id_to_token(i) for i in range(capped.vocab_size)] == SPECIALS + ["b", "c"]


def test_word_vocab_by_frequency_then_lexicographic_with_min_freq_and_max_vocab():
    lines = ["b a c a", "  b a d\t", "e c"]  # a3 b2 c2 d1 e1
    tok = train_tokenizer("word", lines)
    assert [tok.id_to_token(i) for i in range(tok.vocab_size)] == SPECIALS + ["a", "b", "c", "d", "e"]
    assert [WordTokenizer.train(lines, min_freq=2).id_to_token(i) for i in range(7)] == SPECIALS + [
        "a",
        "b",
        "c",
    ]
    assert train_tokenizer("word", lines, max_vocab=5).vocab_size == 5
    assert tok.encode("a zebra  c") == [4, 3, 6]
    assert tok.decode([1, 4, 3, 6, 2, 0, 0]) == "a <unk> c"


def test_word_special_token_strings_in_text_never_become_control_ids():
    tok = train_tokenizer("word", ["<s> hello </s> <pad> <unk> world"])
    assert tok.vocab_size == 6
    assert tok.encode("<s> hello </s> <pad> <unk>") == [3, 4, 3, 3, 3]


def test_decode_accepts_numpy_and_refuses_out_of_range_ids():
    np = pytest.importorskip("numpy")
    for tok in every_kind():
        ids = tok.encode("the cat")
        assert tok.decode(np.array(ids)) == tok.decode(ids)
        for bad in (-1, tok.vocab_size):
            with pytest.raises(SeqgenError, match="out of range"):
                tok.decode([bad])
            with pytest.raises(SeqgenError, match="out of range"):
                tok.id_to_token(bad)


# --------------------------------------------------------------------------- round trips (hypothesis)

CHAR_TRAIN = ["hello world", "The quick\tbrown fox!\n", "naïve café 東京 🙂"]
CHAR_TOK = train_tokenizer("char", CHAR_TRAIN)
CHAR_SEEN = sorted(set("".join(CHAR_TRAIN)))


@given(st.text(alphabet=CHAR_SEEN))
def test_char_round_trip_on_covered_text(s):
    ids = CHAR_TOK.encode(s)
    assert len(ids) == len(s) and 3 not in ids
    assert CHAR_TOK.decode(ids) == s


@given(st.text())
def test_char_unknown_characters_decode_as_replacement_character(s):
    expected = "".join(c if c in CHAR_SEEN else "\ufffd" for c in s)
    assert CHAR_TOK.decode(CHAR_TOK.encode(s)) == expected


WORD_TOK = train_tokenizer("word", CORPUS)
WORD_VOCAB = sorted({w for line in CORPUS for w in line.split()})
SPACES = st.text(alphabet=" \t\n\r\x0b\x0c\u3000\xa0", min_size=1, max_size=3)


@given(st.lists(st.tuples(st.sampled_from(WORD_VOCAB), SPACES)), st.text(alphabet=" \t\n", max_size=2))
def test_word_round_trip_normalises_whitespace(pairs, lead):
    s = lead + "".join(w + sep for w, sep in pairs)
    ids = WORD_TOK.encode(s)
    assert 3 not in ids
    assert WORD_TOK.decode(ids) == " ".join(s.split())


@given(st.text(alphabet=[c for c in SPM_ALPHABET if c != "\u2581"], max_size=60))
def test_sentencepiece_round_trip_on_covered_text(spm_tok, s):
    ids = spm_tok.encode(s)
    assert 3 not in ids
    assert spm_tok.decode(ids) == s


def test_sentencepiece_keeps_any_spacing_and_drops_control_ids(spm_tok):
    for s in ["  the   cat\t\tsat  ", " ", "", "\tcafé\n東京 "]:
        assert spm_tok.decode(spm_tok.encode(s)) == s
    ids = spm_tok.encode("the cat")
    assert spm_tok.decode([1, *ids, 2, 0, 0]) == "the cat"
    assert spm_tok.encode_batch(["the cat", "a dog"]) == [ids, spm_tok.encode("a dog")]
    assert 3 in spm_tok.encode("unseen: ж")


def test_sentencepiece_learns_from_lines_longer_than_its_default_limit():
    long_line = "abc " * 1500 + "ж"  # 6001 bytes: sentencepiece skips lines over 4192 bytes by default
    tok = train_tokenizer("sentencepiece", ["abc abc", long_line], vocab_size=10)
    assert tok.decode(tok.encode("abc ж")) == "abc ж"


def test_sentencepiece_on_coco_round_trips_covered_held_out_lines():
    if not COCO.is_dir():
        pytest.skip(f"COCO corpus not found at {COCO}")
    train = (COCO / "train.txt").read_text(encoding="utf-8").splitlines()
    test = (COCO / "test.txt").read_text(encoding="utf-8").splitlines()
    tok = train_tokenizer("sentencepiece", iter(train), vocab_size=1000)
    assert tok.vocab_size == 1000
    seen = set("".join(train))
    covered = [line for line in test if set(line) <= seen]
    assert len(covered) > 0.99 * len(test)
    encoded = tok.encode_batch(covered)
    assert all(tok.decode(ids) == line for ids, line in zip(encoded, covered, strict=True))
    assert not any(3 in ids for ids in encoded)
    # subwords, not characters: a 1000-piece vocabulary compresses caption text well below one token a char
    assert sum(map(len, encoded)) < 0.4 * sum(map(len, covered))


# --------------------------------------------------------------------------- save / load


def test_save_load_round_trip_gives_identical_encodings(tmp_path):
    texts = [*CORPUS[:8], "unseen words ж here", ""]
    for tok in every_kind():
        folder = tmp_path / tok.kind
        tok.save(folder)
        back = Tokenizer.load(folder)
        assert type(back) is type(tok) and back.vocab_size == tok.vocab_size
        assert [back.encode(t) for t in texts] == [tok.encode(t) for t in texts]
        assert [back.id_to_token(i) for i in range(back.vocab_size)] == [
            tok.id_to_token(i) for i in range(tok.vocab_size)
        ]
        cfg = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        assert cfg["kind"] == tok.kind and [cfg[k] for k in ("pad_id", "bos_id", "eos_id", "unk_id")] == [
            0,
            1,
            2,
            3,
        ]


def test_saved_sentencepiece_model_loads_in_sentencepiece_itself(tmp_path, spm_tok):
    spm_tok.save(tmp_path / "tok")
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "tok" / "spm.model"))
    assert (sp.pad_id(), sp.bos_id(), sp.eos_id(), sp.unk_id()) == (0, 1, 2, 3)
    assert sp.encode("the cat sat") == spm_tok.encode("the cat sat")


def test_save_overwrites_a_tokenizer_folder_and_leaves_no_temporary_folders(tmp_path):
    target = tmp_path / "tok"
    train_tokenizer("sentencepiece", CORPUS, vocab_size=80).save(target)
    train_tokenizer("word", ["x y"]).save(target)
    assert sorted(p.name for p in target.iterdir()) == ["tokenizer.json"]
    assert load_tokenizer(target).kind == "word"
    assert [p.name for p in tmp_path.iterdir()] == ["tok"]


def test_interrupted_save_keeps_the_old_tokenizer(tmp_path, monkeypatch):
    target = tmp_path / "tok"
    old = train_tokenizer("word", ["old words"])
    old.save(target)
    real_fsync = os.fsync

    def crash(fd):
        real_fsync(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        train_tokenizer("char", ["new"]).save(target)
    monkeypatch.undo()
    assert load_tokenizer(target).encode("old words") == old.encode("old words")
    assert [p.name for p in tmp_path.iterdir()] == ["tok"]


def test_save_refuses_to_replace_a_folder_that_is_not_a_tokenizer(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("x: 1\n")
    with pytest.raises(SeqgenError, match="not a tokenizer folder"):
        CHAR_TOK.save(tmp_path / "run")
    assert (tmp_path / "run" / "config.yaml").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(SeqgenError, match="is a file"):
        CHAR_TOK.save(tmp_path / "file")


def _write(folder: Path, cfg, spm_bytes: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = cfg if isinstance(cfg, str) else json.dumps(cfg)
    (folder / "tokenizer.json").write_text(text, encoding="utf-8")
    if spm_bytes is not None:
        (folder / "spm.model").write_bytes(spm_bytes)
    return folder


IDS = {"pad_id": 0, "bos_id": 1, "eos_id": 2, "unk_id": 3}


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "unknown tokenizer kind"),
        ({"kind": "bytes", **IDS}, "unknown tokenizer kind 'bytes'"),
        ({"kind": "word", **IDS, "unk_id": 7, "vocab": SPECIALS}, "special ids"),
        ({"kind": "word", **IDS}, "list of strings"),
        ({"kind": "word", **IDS, "vocab": [*SPECIALS, "a", "b", "a"]}, "duplicate token 'a'"),
        ({"kind": "word", **IDS, "vocab": ["<s>", "<pad>", "</s>", "<unk>", "a"]}, "special tokens"),
        ({"kind": "word", **IDS, "vocab": [*SPECIALS, "two words"]}, "cannot come from word"),
        ({"kind": "char", **IDS, "vocab": [*SPECIALS, "ab"]}, "cannot come from char"),
        ({"kind": "sentencepiece", **IDS, "model_file": "spm.model"}, "model file missing"),
        ({"kind": "sentencepiece", **IDS, "model_file": "../spm.model"}, "must be a file name"),
    ],
)
def test_load_errors_are_one_line_and_name_the_path(tmp_path, cfg, message):
    folder = _write(tmp_path / "tok", cfg)
    with pytest.raises(SeqgenError, match=message) as err:
        load_tokenizer(folder)
    assert str(folder) in str(err.value) and "\n" not in str(err.value)


def test_load_errors_for_missing_folder_non_utf8_and_corrupt_or_mismatched_model(tmp_path, spm_tok):
    with pytest.raises(SeqgenError, match="tokenizer folder not found"):
        load_tokenizer(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeqgenError, match="no tokenizer.json"):
        load_tokenizer(tmp_path / "empty")
    (tmp_path / "latin1").mkdir()
    (tmp_path / "latin1" / "tokenizer.json").write_bytes(b'{"kind": "caf\xe9"}')
    with pytest.raises(SeqgenError, match="not valid JSON"):
        load_tokenizer(tmp_path / "latin1")
    spm_tok.save(tmp_path / "good")
    proto = (tmp_path / "good" / "spm.model").read_bytes()
    cfg = {"kind": "sentencepiece", **IDS, "model_file": "spm.model", "vocab_size": spm_tok.vocab_size}
    with pytest.raises(SeqgenError, match="not a valid sentencepiece model") as err:
        load_tokenizer(_write(tmp_path / "garbage", cfg, b"\x00not a model\xff" * 10))
    assert str(tmp_path / "garbage" / "spm.model") in str(err.value)
    # a model file cut anywhere is refused (cut at a piece boundary it still parses, with fewer pieces)
    for cut in range(0, len(proto), 37):
        with pytest.raises(SeqgenError, match="not a valid sentencepiece model|pieces|special ids"):
            load_tokenizer(_write(tmp_path / "cut", cfg, proto[:cut]))
    with pytest.raises(SeqgenError, match="says vocab_size 7 but"):
        load_tokenizer(_write(tmp_path / "size", {**cfg, "vocab_size": 7}, proto))
    # a valid sentencepiece model with sentencepiece's own special ids (unk=0, no pad) is refused
    raw = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=raw, vocab_size=90, minloglevel=2
    )
    with pytest.raises(SeqgenError, match="special ids"):
        load_tokenizer(_write(tmp_path / "ids", cfg, raw.getvalue()))


# --------------------------------------------------------------------------- training errors and determinism


@pytest.mark.parametrize("kind", ["char", "word", "sentencepiece"])
def test_no_text_is_an_error(kind):
    for lines in ([], ["", ""]):
        with pytest.raises(SeqgenError, match="no text"):
            train_tokenizer(kind, iter(lines))
    if kind == "word":
        with pytest.raises(SeqgenError, match="no text"):
            train_tokenizer(kind, [" \t ", "\n"])


def test_bad_settings_are_errors():
    with pytest.raises(SeqgenError, match="unknown tokenizer kind 'bpe'"):
        train_tokenizer("bpe", ["a b"])
    with pytest.raises(SeqgenError, match="model_type"):
        train_tokenizer("sentencepiece", ["a b"], model_type="word")
    with pytest.raises(SeqgenError, match="max_vocab"):
        train_tokenizer("word", ["a b"], max_vocab=4)
    with pytest.raises(SeqgenError, match="min_freq"):
        train_tokenizer("word", ["a b"], min_freq=0)
    with pytest.raises(SeqgenError, match="more than the 4 special tokens"):
        train_tokenizer("sentencepiece", ["a b"], vocab_size=4)
    with pytest.raises(SeqgenError, match="at least 7"):  # a, b, the space mark, and 4 specials
        train_tokenizer("sentencepiece", ["ab", "ba"], vocab_size=6)


def test_errors_raised_while_reading_lines_pass_through_sentencepiece():
    def lines():
        yield "some text"
        raise SeqgenError("corpus file is not UTF-8: x.txt")

    with pytest.raises(SeqgenError, match="not UTF-8: x.txt"):
        train_tokenizer("sentencepiece", lines(), vocab_size=20)


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_vocab_too_large_shrinks_with_a_warning(model_type):
    exact = train_tokenizer("sentencepiece", CORPUS, vocab_size=80, model_type=model_type)
    with pytest.warns(UserWarning, match=r"supports only \d+ sentencepiece pieces") as rec:
        big = train_tokenizer("sentencepiece", CORPUS, vocab_size=100_000, model_type=model_type)
    n = int(str(rec[0].message).split("only ")[1].split()[0])
    assert big.vocab_size == n and 80 < n < 100_000
    # n is the largest size sentencepiece's own hard limit accepts (its error message suggests one less)
    options = dict(normalization_rule_name="identity", remove_extra_whitespaces=False, character_coverage=1.0)

    def hard(size):
        out = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(CORPUS), model_writer=out, vocab_size=size, model_type=model_type,
            pad_id=0, bos_id=1, eos_id=2, unk_id=3, minloglevel=2, **options,
        )  # fmt: skip
        return spm.SentencePieceProcessor(model_proto=out.getvalue()).get_piece_size()

    assert hard(n) == n
    with pytest.raises(RuntimeError, match="Vocabulary size too high"):
        hard(n + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a reachable size gives no warning
        assert train_tokenizer("sentencepiece", CORPUS, vocab_size=80, model_type=model_type).vocab_size == 80
    assert exact.vocab_size == 80


_SAVE_SCRIPT = """
import sys
from seqgen.tokenization import train_tokenizer
corpus = open(sys.argv[1], encoding="utf-8").read().splitlines()
for kind, model_type in [("char", "unigram"), ("word", "unigram"), ("sentencepiece", "unigram"),
                         ("sentencepiece", "bpe")]:
    tok = train_tokenizer(kind, corpus, vocab_size=100, model_type=model_type)
    tok.save(f"{sys.argv[2]}/{kind}-{model_type}")
"""


def test_training_is_deterministic_across_processes(tmp_path):
    """Same corpus -> byte-identical saved tokenizers, even with different string-hash seeds."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "\n".join(CORPUS + [f"word{i % 37} other{i % 11}" for i in range(300)]), encoding="utf-8"
    )
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"run{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", _SAVE_SCRIPT, str(corpus), str(out)], check=True, env=env)
        outs.append({p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert len(outs[0]) == 6 and outs[0] == outs[1]


def test_sentencepiece_tokenizer_constructor_refuses_garbage():
    with pytest.raises(SeqgenError, match="not a valid sentencepiece model"):
        SentencePieceTokenizer(b"\x01\x02garbage")
    assert isinstance(CHAR_TOK, CharTokenizer)
