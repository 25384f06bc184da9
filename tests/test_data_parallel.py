"""The large-corpus data path (`data.num_proc`): parallel reading, counting and encoding give exactly what one
process gives, and a tokenizer trained on a large split is cached for the next run. The size thresholds
that switch the parallel paths on are lowered here so small corpora take them."""

from __future__ import annotations

import logging
import random
from collections import Counter
from pathlib import Path

import pytest

import seqgen.data.corpus as corpus_module
import seqgen.data.corpus_tokenizer as cache_module
import seqgen.data.parallel_counts as counts_module
from seqgen.data.corpus import load_corpus
from seqgen.data.encoding import encode_corpus
from seqgen.data.parallel_counts import count_symbols, worker_count
from seqgen.data.tokenizer_base import CONFIG_NAME
from seqgen.data.vocab_tokenizers import count_chars, count_words
from seqgen.tokenization import TokenizerConfig, load_tokenizer, train_tokenizer

WORDS = "the a cat dog bird sat ran on under mat log big small red . ,".split()


@pytest.fixture
def shards(tmp_path) -> Path:
    """Five files of 400 lines (a few blank, one starting with a byte-order mark)."""
    rng = random.Random(0)
    folder = tmp_path / "corpus"
    folder.mkdir()
    for k in range(5):
        lines = [" ".join(rng.choices(WORDS, k=rng.randint(1, 12))) if i % 37 else "" for i in range(400)]
        (folder / f"part{k}.txt").write_text(("\ufeff" if k == 2 else "") + "\n".join(lines) + "\n")
    return folder


@pytest.fixture
def small_is_large(monkeypatch):
    monkeypatch.setattr(corpus_module, "MIN_BYTES", 0)
    monkeypatch.setattr(counts_module, "MIN_PARALLEL_ROWS", 0)
    monkeypatch.setattr(counts_module, "BATCH_ROWS", 100)
    monkeypatch.setattr(cache_module, "CACHE_MIN_ROWS", 0)


def _expected_lines(folder: Path) -> list[str]:
    out = []
    for p in sorted(folder.glob("*.txt")):
        out += [ln for ln in p.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    return out


def test_parallel_read_gives_the_rows_of_one_reader_in_order(shards, small_is_large, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-parallel"))
    parallel = load_corpus(shards, num_proc=3)
    assert list(parallel["text"]) == _expected_lines(shards)


def test_parallel_counts_equal_one_counter(shards, small_is_large):
    ds = load_corpus(shards)
    lines = list(ds["text"])
    assert worker_count(2, len(ds)) == 2
    assert count_symbols(ds, count_words, num_proc=2) == Counter(w for ln in lines for w in ln.split())
    assert count_symbols(ds, count_chars, num_proc=3) == Counter("".join(lines))


@pytest.mark.parametrize("kind", ["word", "char"])
def test_vocabulary_is_the_same_for_any_number_of_processes(
    shards, small_is_large, tmp_path, kind, monkeypatch
):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / f"cache-{kind}"))
    ds = load_corpus(shards)
    serial = train_tokenizer(kind, list(ds["text"]), min_freq=2)
    settings = TokenizerConfig(kind=kind, min_freq=2)
    parallel = cache_module.train_on_split(settings, ds, num_proc=2)
    assert [parallel.id_to_token(i) for i in range(parallel.vocab_size)] == [
        serial.id_to_token(i) for i in range(serial.vocab_size)
    ]


def test_parallel_encoding_equals_one_process(shards):
    ds = load_corpus(shards)
    tok = train_tokenizer("word", list(ds["text"]))
    one = encode_corpus(ds, tok, mode="sentence", max_len=8, num_proc=None)
    two = encode_corpus(ds, tok, mode="sentence", max_len=8, num_proc=2, truncation="drop")
    drop_one = encode_corpus(ds, tok, mode="sentence", max_len=8, truncation="drop")
    assert list(two["input_ids"]) == list(drop_one["input_ids"])
    assert len(one) == len(ds) > len(two)


def test_tokenizer_of_a_large_split_is_cached_and_read_back(
    shards, small_is_large, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    ds = load_corpus(shards)
    settings = TokenizerConfig(kind="word")
    first = cache_module.train_on_split(settings, ds)
    stored = list((tmp_path / "cache" / "tokenizers").iterdir())
    assert len(stored) == 1 and (stored[0] / CONFIG_NAME).is_file()  # JSON, as a saved tokenizer is
    monkeypatch.setattr(cache_module, "_train", lambda *a: pytest.fail("trained again instead of reading"))
    with caplog.at_level(logging.INFO, logger="seqgen"):
        again = cache_module.train_on_split(settings, ds)
    assert "tokenizer read from the cache" in caplog.text
    assert again.encode("the cat sat") == first.encode("the cat sat")
    # Other settings are another entry, never the cached one.
    monkeypatch.undo()
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache_module, "CACHE_MIN_ROWS", 0)
    other = cache_module.train_on_split(TokenizerConfig(kind="word", max_vocab=8), ds)
    assert other.vocab_size == 8 and len(list((tmp_path / "cache" / "tokenizers").iterdir())) == 2


def test_damaged_or_unwritable_tokenizer_cache_never_stops_a_run(
    shards, small_is_large, tmp_path, monkeypatch
):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    ds = load_corpus(shards)
    settings = TokenizerConfig(kind="word")
    good = cache_module.train_on_split(settings, ds)
    (entry,) = (tmp_path / "cache" / "tokenizers").iterdir()
    for f in entry.iterdir():
        f.write_text("{ not json")
    assert cache_module.train_on_split(settings, ds).encode("a dog") == good.encode("a dog")  # retrained
    assert load_tokenizer(entry).encode("a dog") == good.encode("a dog")  # ... and stored in its place
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SEQGEN_CACHE", str(blocked))
    assert cache_module.train_on_split(settings, ds).encode("a dog") == good.encode("a dog")


def test_small_splits_leave_nothing_in_the_cache(shards, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    cache_module.train_on_split(TokenizerConfig(kind="word"), load_corpus(shards))
    assert not (tmp_path / "cache").exists()


def test_unk_rate_and_token_count_read_from_the_cache_files_equal_the_table(shards, tmp_path, monkeypatch):
    import seqgen.data.arrow_files as arrow_files
    import seqgen.data.encoding as encoding

    monkeypatch.setattr(corpus_module, "WRITER_ROWS", 100)  # many record batches, shared by two workers
    ds = load_corpus(shards)
    tok = train_tokenizer("word", list(ds["text"]), max_vocab=10)  # 6 words: many <unk>
    two = encode_corpus(ds, tok, mode="sentence", max_len=8, num_proc=2)  # two cache files, concatenated
    assert len(arrow_files.plain_cache_files(two)) == 2
    from_files = encoding.unk_fraction(two, tok), encoding.count_tokens(two)
    monkeypatch.setattr(arrow_files, "batch_spans", lambda ds: None)
    rows = list(two["input_ids"])
    text = [t for r in rows for t in r if t not in (tok.bos_id, tok.eos_id, tok.pad_id)]  # truncated: no EOS
    unk = text.count(tok.unk_id) / len(text)
    assert from_files == (encoding.unk_fraction(two, tok), encoding.count_tokens(two))
    assert from_files == (pytest.approx(unk), sum(len(r) - 1 for r in rows)) and unk > 0


def _write_table(path: Path, texts: list[str], batch_rows: int) -> None:
    import pyarrow as pa

    table = pa.table({"text": texts})
    with pa.OSFile(str(path), "wb") as f, pa.ipc.new_stream(f, table.schema) as w:
        w.write_table(table, max_chunksize=batch_rows)


def test_record_batch_spans_read_back_the_table(tmp_path, monkeypatch):
    from datasets import Dataset, concatenate_datasets

    import seqgen.data.arrow_files as arrow_files

    texts = [f"line {i} " + "x" * (i % 7) for i in range(1000)]
    _write_table(tmp_path / "a.arrow", texts[:600], 64)
    _write_table(tmp_path / "b.arrow", texts[600:], 100)
    ds = concatenate_datasets([Dataset.from_file(str(tmp_path / n)) for n in ("a.arrow", "b.arrow")])
    spans = arrow_files.batch_spans(ds)
    assert [s.rows for s in spans] == [64] * 9 + [24] + [100] * 4
    assert [t for s in spans for t in arrow_files.read_span(s, "text").to_pylist()] == texts
    groups = arrow_files.split_spans(spans, 3)
    assert len(groups) == 3 and [s for g in groups for s in g] == spans
    assert max(sum(s.rows for s in g) for g in groups) <= 1000 // 3 + 100
    # A table with indices is not its files: no spans, and column_chunks still gives its rows.
    picked = ds.select([5, 3, 700])
    assert arrow_files.batch_spans(picked) is None
    assert [t for c in arrow_files.column_chunks(picked, "text") for t in c.to_pylist()] == [
        texts[5], texts[3], texts[700]
    ]  # fmt: skip
    # Big tables keep their spans beside them; a damaged index is found again, never trusted.
    monkeypatch.setattr(arrow_files, "INDEX_MIN_BYTES", 0)
    assert arrow_files.batch_spans(ds) == spans
    (index,) = tmp_path.glob("spans-*.json")
    monkeypatch.setattr(arrow_files, "_file_spans", lambda p: pytest.fail("scanned instead of reading"))
    assert arrow_files.batch_spans(ds) == spans
    index.write_text("[[1, 2")
    monkeypatch.undo()
    assert arrow_files.batch_spans(ds) == spans


@pytest.mark.parametrize("mode", ["sentence", "stream"])
def test_encoding_by_record_batches_equals_the_plain_map(shards, tmp_path, monkeypatch, mode):
    """The encoder reads a table that is its files a record batch at a time with plain reads (flat memory);
    the rows must be exactly those of datasets' own map over the memory-mapped table, in order."""
    import seqgen.data.cached_map as cached_map

    monkeypatch.setattr(cached_map, "CALL_ROWS", 150)  # several calls, each on several record batches
    monkeypatch.setattr(corpus_module, "WRITER_ROWS", 64)
    monkeypatch.setattr(corpus_module, "MIN_BYTES", 0)
    ds = load_corpus(shards, keep_blank=mode == "stream", num_proc=2)  # two files of 64-row batches
    tok = train_tokenizer("word", list(ds["text"]))
    two = list(encode_corpus(ds, tok, mode=mode, max_len=8, num_proc=2)["input_ids"])
    ds.cleanup_cache_files()  # each encoding below is computed, not read from the one before
    read = []
    real = cached_map.read_span
    monkeypatch.setattr(cached_map, "read_span", lambda span, col: read.append(span) or real(span, col))
    one = list(encode_corpus(ds, tok, mode=mode, max_len=8, num_proc=1)["input_ids"])
    assert sum(s.rows for s in read) == len(ds) and len(read) > 1  # every row read from the files, once
    ds.cleanup_cache_files()
    monkeypatch.setattr(cached_map, "batch_spans", lambda ds: None)
    plain = encode_corpus(ds, tok, mode=mode, max_len=8)
    assert two == one == list(plain["input_ids"])
