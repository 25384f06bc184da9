"""Inputs that used to be accepted silently (or ended in a confusing error) and are now refused with ONE line
`seqgen: error: ...` and exit status 2, leaving every file as it was:

- `seqgen sample --max-len 0` (it meant "the default", while --max-len 1 was refused);
- `seqgen evaluate --samples/--references` files holding only blank lines (BLEU 0.0 as if it were a result);
- a word tokenizer whose min_freq leaves only the 4 special tokens;
- sentencepiece on a corpus whose lines are all longer than its max_sentence_length (and a warning when
  only some are);
- `model.pretrained=DIR` with pickle-based weights (refused unopened) or a truncated model.safetensors.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pytest
import torch

from seqgen.cli import build_parser, main
from seqgen.errors import SeqgenError
from seqgen.metrics.text_tokenize import read_lines
from seqgen.models import build_generator
from seqgen.models.checked_loading import quiet_transformers
from seqgen.models.config import ModelConfig
from seqgen.tokenization import UNK_ID, WordTokenizer, load_tokenizer, train_tokenizer

QUIET = ["train.progress=false", "train.tensorboard=false", "train.num_samples=0"]
TINY_DATA = ["data.caption_sentences=300", "data.holdout=30", "data.max_len=20"]
TINY_LSTM = ["model.kind=lstm", "model.emb_dim=16", "model.hidden_dim=32"]
TINY_GPT = ModelConfig(kind="transformer", num_layers=1, d_model=16, num_heads=2, context=32)
SPM_LIMIT = 1 << 16  # sentencepiece's max_sentence_length as seqgen sets it, in bytes


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder` -> content hash ('dir' for folders)."""
    return {
        p.relative_to(folder).as_posix(): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


def fails(capsys: pytest.CaptureFixture, *argv: object, says: tuple[str, ...] = ()) -> str:
    """Run `seqgen argv` in-process: exit status 2, no traceback, and stderr ending in exactly one
    `seqgen: error:` line that contains every string of `says`. Returns that line."""
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("seqgen: error:")]
    assert rc == 2, (rc, err)
    assert len(errors) == 1 and lines[-1] == errors[0], err
    for text in says:
        assert text in errors[0], (text, errors[0])
    return errors[0]


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# --------------------------------------------------------------------------------------- sample --max-len
@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run") / "run"
    tiny = [*TINY_DATA, *TINY_LSTM, "train.max_steps=2", "train.batch_size=8", *QUIET]
    assert main(["train", *tiny, f"out={path}"]) == 0
    return path


@pytest.mark.parametrize("value", ["0", "1", "-3"])
def test_sample_max_len_below_two_is_refused(run, tmp_path, capsys, value):
    before = snapshot(run)
    out = tmp_path / "samples.txt"
    line = fails(capsys, "sample", run, "--max-len", value, "-o", out, says=("--max-len", value))
    assert "at least 2" in line
    assert not out.exists()
    assert snapshot(run) == before


def test_sample_max_len_defaults_to_the_runs_data_max_len(run, capsys):
    assert build_parser().parse_args(["sample", str(run)]).max_len is None  # not 0: 0 is refused
    capsys.readouterr()
    assert main(["sample", str(run), "-n", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and max(len(line.split()) for line in lines) <= 19  # data.max_len=20 incl. BOS


# ------------------------------------------------------------------------------- evaluate blank text files
@pytest.mark.parametrize("blank", ["samples", "references"])
@pytest.mark.parametrize("metrics", ["bleu,self_bleu", "sacrebleu"])
def test_evaluate_refuses_a_file_of_blank_lines(tmp_path, capsys, blank, metrics):
    files = {
        "samples": write(tmp_path / "samples.txt", "a cat sat on the mat .\na dog ran .\n\n"),
        "references": write(tmp_path / "references.txt", "a cat sat on a mat .\na dog ran off .\n\n"),
    }
    files[blank].write_text("\n   \n\t\n", encoding="utf-8")  # three lines, none with text
    out = tmp_path / "eval.json"
    before = snapshot(tmp_path)
    fails(
        capsys,
        "evaluate",
        "--samples",
        files["samples"],
        "--references",
        files["references"],
        "--metrics",
        metrics,
        "-o",
        out,
        says=(str(files[blank]), "no text", "3 blank lines"),
    )
    assert snapshot(tmp_path) == before  # no eval.json, inputs untouched


def test_an_empty_samples_file_is_still_refused_as_empty(tmp_path, capsys):
    samples = write(tmp_path / "samples.txt", b"")
    refs = write(tmp_path / "references.txt", "a cat .\n")
    fails(capsys, "evaluate", "--samples", samples, "--references", refs, says=(f"{samples} is empty",))


def test_read_lines_refuses_blank_only_but_keeps_blank_lines_among_text(tmp_path):
    path = write(tmp_path / "s.txt", "\ufeff\r\n \n")
    with pytest.raises(SeqgenError, match="no text, only 2 blank lines") as err:
        read_lines(path)
    assert str(path) in str(err.value)
    write(path, "\n\na dog .\n")
    assert read_lines(path) == ["", "", "a dog ."]


# ------------------------------------------------------------------------ word vocabulary of specials only
@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """'the' occurs 37 times, 'cat', 'sat', 'on' and 'mat' 18 times, the numbers once."""
    lines = [f"the cat sat on the mat {i}\n" for i in range(18)]
    return write(tmp_path / "corpus.txt", "".join(lines) + "the\n")


def test_tokenizer_train_refuses_a_min_freq_that_leaves_no_word(corpus, tmp_path, capsys):
    out = tmp_path / "tok"
    before = snapshot(tmp_path)
    line = fails(
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
    fails(capsys, "tokenizer", "train", "--kind", "word", "--min-freq", "38", "--input", corpus, "--out", out)
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
    fails(
        capsys,
        "train",
        *TINY_DATA,
        *TINY_LSTM,
        "tokenizer.kind=word",
        "tokenizer.min_freq=100000",
        "train.max_steps=1",
        *QUIET,
        f"out={out}",
        says=("min_freq=100000", "the most frequent word occurs"),
    )
    assert not out.exists()


def test_a_corpus_of_special_token_strings_only_is_refused():
    with pytest.raises(SeqgenError, match="no word other than the special tokens"):
        WordTokenizer.train(["<s> <unk> </s>", "<pad>"])


# ------------------------------------------------------------------------ sentencepiece and long lines
def _words(n: int, seed: int = 0) -> str:
    import random

    rng = random.Random(seed)
    return " ".join(rng.choice(["cat", "dog", "sat", "mat", "on", "the", "a", "ran"]) for _ in range(n))


@pytest.mark.parametrize("extra", ["", "\n   \n\n"], ids=["one-line", "plus-blank-lines"])
def test_sentencepiece_refuses_a_corpus_of_lines_over_its_limit(tmp_path, capsys, extra):
    big = write(tmp_path / "big.txt", _words(300_000)[:1_000_000] + extra)  # 1 MB, no newline inside
    out = tmp_path / "tok"
    before = snapshot(tmp_path)
    line = fails(
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


# ------------------------------------------------------------------------------------ model.pretrained
class _Booby:
    """Unpickling this creates `marker`: a stand-in for the code a malicious pytorch_model.bin runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pretrained(folder: Path) -> Path:
    with quiet_transformers():
        build_generator(TINY_GPT, 7).save(folder)
    return folder


def _train_from(pretrained: Path, out: Path) -> list[str]:
    return [
        "train",
        "model.kind=transformer",
        f"model.pretrained={pretrained}",
        *TINY_DATA,
        "train.max_steps=1",
        "train.batch_size=8",
        *QUIET,
        f"out={out}",
    ]


@pytest.mark.parametrize("payload", ["state-dict", "booby-trapped"])
def test_pretrained_pickle_weights_are_refused_unopened(tmp_path, capsys, payload):
    pre = _pretrained(tmp_path / "pre")
    state = build_generator(TINY_GPT, 7).lm.state_dict()
    (pre / "model.safetensors").unlink()
    marker = tmp_path / "pickle-ran"
    torch.save(state if payload == "state-dict" else {"weights": _Booby(marker)}, pre / "pytorch_model.bin")
    before = snapshot(pre)
    out = tmp_path / "run"
    line = fails(
        capsys,
        *_train_from(pre, out),
        says=(f"model.pretrained={pre}", "pytorch_model.bin", "pickle", "execute code", "only safetensors"),
    )
    assert "convert" in line
    assert not marker.exists()  # nothing was unpickled
    assert not out.exists() and snapshot(pre) == before
    if payload == "booby-trapped":  # the trap is live: a plain torch.load would have sprung it
        torch.load(pre / "pytorch_model.bin", weights_only=False)
        assert marker.exists()


def test_pretrained_truncated_safetensors_names_the_file(tmp_path, capsys):
    pre = _pretrained(tmp_path / "pre")
    weights = pre / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    before = snapshot(pre)
    out = tmp_path / "run"
    fails(capsys, *_train_from(pre, out), says=("corrupt model.safetensors", str(weights)))
    assert not out.exists() and snapshot(pre) == before


def test_pretrained_without_any_weights_is_refused(tmp_path):
    pre = _pretrained(tmp_path / "pre")
    (pre / "model.safetensors").unlink()
    with pytest.raises(SeqgenError, match="has no model.safetensors"):
        build_generator(ModelConfig(kind="transformer", pretrained=str(pre)), 7)


def test_pretrained_sharded_safetensors_still_load_and_a_bad_shard_is_named(tmp_path):
    gen = build_generator(TINY_GPT, 7)
    with quiet_transformers():
        gen.lm.save_pretrained(tmp_path / "pre", max_shard_size="5KB")
    shards = sorted((tmp_path / "pre").glob("model-*.safetensors"))
    assert len(shards) > 1 and (tmp_path / "pre" / "model.safetensors.index.json").is_file()
    cfg = ModelConfig(kind="transformer", pretrained=str(tmp_path / "pre"))
    again = build_generator(cfg, 7)
    x = torch.tensor([[1, 4, 5, 6]])
    assert torch.equal(again.lm(x).logits, gen.lm.eval()(x).logits)
    shards[-1].write_bytes(shards[-1].read_bytes()[:-10])
    with pytest.raises(SeqgenError, match=f"corrupt {shards[-1].name}") as err:
        build_generator(cfg, 7)
    assert str(shards[-1]) in str(err.value)
    shards[0].unlink()
    with pytest.raises(SeqgenError, match=f"shard {shards[0].name} listed in model.safetensors.index.json"):
        build_generator(cfg, 7)
