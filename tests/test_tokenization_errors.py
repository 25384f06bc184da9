"""Tokenizers refusing what they cannot learn (seqgen.tokenization), through `seqgen tokenizer train`,
`seqgen train` and the library:

- a missing, empty or non-UTF-8 input, a vocabulary size of 0, an --out that is a file;
- a word tokenizer whose min_freq leaves only the 4 special tokens (and a corpus of special-token strings);
- sentencepiece on a corpus whose lines are all longer than its max_sentence_length (and a warning with the
  count when only some are).

CLI refusals are the one-line error of helpers.py and write nothing to --out (an existing tokenizer there is
left alone).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from helpers import QUIET_NO_SAMPLES, TINY_DATA, TINY_LSTM, fails, fails_strict, snapshot, write

from seqgen.cli import main
from seqgen.errors import SeqgenError
from seqgen.tokenization import UNK_ID, WordTokenizer, load_tokenizer, train_tokenizer

SPM_LIMIT = 1 << 16  # sentencepiece's max_sentence_length as seqgen sets it, in bytes


# -------------------------------------------------------------------------------- seqgen tokenizer train


def test_tokenizer_train_missing_input(tmp_path, capsys):
    fails(
        capsys,
        "tokenizer",
        "train",
        "--kind",
        "sentencepiece",
        "--vocab-size",
        "400",
        "--input",
        tmp_path / "missing.txt",
        "--out",
        tmp_path / "tok",
        says=("not found", str(tmp_path / "missing.txt")),
    )
    assert not (tmp_path / "tok").exists()


@pytest.mark.parametrize(
    ("content", "says"), [(b"", "empty"), (b"ok\n\xff\n", "UTF-8")], ids=["empty", "non-utf8"]
)
def test_tokenizer_train_bad_input(tmp_path, capsys, content, says):
    corpus = write(tmp_path / "c.txt", content)
    fails(
        capsys,
        "tokenizer",
        "train",
        "--kind",
        "word",
        "--input",
        corpus,
        "--out",
        tmp_path / "tok",
        says=(says, str(corpus)),
    )
    assert not (tmp_path / "tok").exists()


def test_tokenizer_train_vocab_size_too_small(tmp_path, capsys):
    corpus = write(tmp_path / "c.txt", "the cat sat on the mat\n" * 5)
    fails(
        capsys,
        "tokenizer",
        "train",
        "--kind",
        "sentencepiece",
        "--vocab-size",
        "0",
        "--input",
        corpus,
        "--out",
        tmp_path / "tok",
        says=("vocab",),
    )
    assert not (tmp_path / "tok").exists()


def test_tokenizer_train_out_is_a_file(tmp_path, capsys):
    corpus = write(tmp_path / "c.txt", "the cat sat\n")
    target = write(tmp_path / "tok", "keep me\n")
    fails(
        capsys,
        "tokenizer",
        "train",
        "--kind",
        "word",
        "--input",
        corpus,
        "--out",
        target,
        says=(str(target),),
    )
    assert target.read_text() == "keep me\n"


# ---------------------------------------------------------------------- word vocabulary of specials only


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """'the' occurs 37 times, 'cat', 'sat', 'on' and 'mat' 18 times, the numbers once."""
    lines = [f"the cat sat on the mat {i}\n" for i in range(18)]
    return write(tmp_path / "corpus.txt", "".join(lines) + "the\n")


def test_tokenizer_train_refuses_a_min_freq_that_leaves_no_word(corpus, tmp_path, capsys):
    out = tmp_path / "tok"
    before = snapshot(tmp_path)
    line = fails_strict(
        capsys,
        "tokenizer",
        "train",
        "--kind",
        "word",
        "--min-freq",
        "100000",
        "--input",
        corpus,
        "--out",
        out,
        says=("min_freq=100000", "4 special tokens", "the most frequent word occurs 37 times"),
    )
    assert "at most 37" in line
    assert snapshot(tmp_path) == before  # nothing written to --out


def test_tokenizer_refusal_leaves_an_existing_tokenizer_at_out_alone(corpus, tmp_path, capsys):
    out = tmp_path / "tok"
    assert main(["tokenizer", "train", "--kind", "word", "--input", str(corpus), "--out", str(out)]) == 0
    before = snapshot(out)
    fails_strict(
        capsys, "tokenizer", "train", "--kind", "word", "--min-freq", "38", "--input", corpus, "--out", out
    )
    assert snapshot(out) == before
    # the largest min_freq the corpus supports is accepted: it keeps 'the' alone
    argv = [
        "tokenizer",
        "train",
        "--kind",
        "word",
        "--min-freq",
        "37",
        "--input",
        str(corpus),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert load_tokenizer(out).vocab_size == 4 + 1


def test_train_refuses_a_tokenizer_min_freq_that_leaves_no_word(tmp_path, capsys):
    out = tmp_path / "run"
    fails_strict(
        capsys,
        "train",
        *TINY_DATA,
        *TINY_LSTM,
        "tokenizer.kind=word",
        "tokenizer.min_freq=100000",
        "train.max_steps=1",
        *QUIET_NO_SAMPLES,
        f"out={out}",
        says=("min_freq=100000", "the most frequent word occurs"),
    )
    assert not out.exists()


def test_a_corpus_of_special_token_strings_only_is_refused():
    with pytest.raises(SeqgenError, match="no word other than the special tokens"):
        WordTokenizer.train(["<s> <unk> </s>", "<pad>"])


# -------------------------------------------------------------------------- sentencepiece and long lines


def _words(n: int, seed: int = 0) -> str:
    import random

    rng = random.Random(seed)
    return " ".join(rng.choice(["cat", "dog", "sat", "mat", "on", "the", "a", "ran"]) for _ in range(n))


@pytest.mark.parametrize("extra", ["", "\n   \n\n"], ids=["one-line", "plus-blank-lines"])
def test_sentencepiece_refuses_a_corpus_of_lines_over_its_limit(tmp_path, capsys, extra):
    big = write(tmp_path / "big.txt", _words(300_000)[:1_000_000] + extra)  # 1 MB, no newline inside
    out = tmp_path / "tok"
    before = snapshot(tmp_path)
    line = fails_strict(
        capsys,
        "tokenizer",
        "train",
        "--kind",
        "sentencepiece",
        "--input",
        big,
        "--out",
        out,
        "--vocab-size",
        "100",
        says=("1 line longer than", f"max_sentence_length of {SPM_LIMIT} bytes", "1000000 bytes"),
    )
    assert "one sentence or paragraph per line" in line
    assert snapshot(tmp_path) == before


def test_sentencepiece_warns_with_the_count_when_some_lines_are_over_its_limit():
    # Some lines skipped is a warning, not a refusal: the rest trains a usable tokenizer. (bpe because unigram
    # takes seconds on the 64 KiB line that is kept.)
    lines = [_words(12, seed=i) for i in range(300)]
    lines[5] = "x" * (SPM_LIMIT + 1)  # one byte over: skipped ('x' is nowhere else)
    lines[9] = "é" * (SPM_LIMIT // 2 + 1)  # 32769 characters, 65538 bytes: the limit counts UTF-8 bytes
    lines[11] = "q" * SPM_LIMIT  # exactly at the limit: kept
    with pytest.warns(UserWarning, match=r"skipped 2 of the corpus's 300 lines") as rec:
        tok = train_tokenizer("sentencepiece", lines, vocab_size=20, model_type="bpe")
    message = str(rec[0].message)
    assert f"max_sentence_length of {SPM_LIMIT} bytes" in message and f"{SPM_LIMIT + 2} bytes" in message
    assert "2 characters seen only there will encode as <unk>" in message
    assert UNK_ID in tok.encode("x") and UNK_ID in tok.encode("é") and UNK_ID not in tok.encode("q")


def test_sentencepiece_gives_no_warning_for_a_line_at_its_limit():
    lines = [_words(12, seed=i) for i in range(50)] + ["q" * SPM_LIMIT]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tok = train_tokenizer("sentencepiece", lines, vocab_size=20, model_type="bpe")
    assert UNK_ID not in tok.encode("q")
