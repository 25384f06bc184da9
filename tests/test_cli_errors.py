"""Every kind of bad input to the `seqgen` command: exit status 2, ONE line `seqgen: error: ...` naming the
problem (path, key or setting), never a traceback, and nothing lost (run folders and output files unchanged).

Most cases call `seqgen.cli.main` in-process; two run the real `python -m seqgen` to see what a shell sees.
One tiny caption-language run is trained per module; tests that damage a run work on a copy of it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqgen.cli import main

REPO = Path(__file__).resolve().parents[1]
QUIET = ["train.progress=false", "train.tensorboard=false", "train.num_samples=0"]
TINY_DATA = ["data.caption_sentences=300", "data.holdout=30", "data.max_len=20"]
TINY_LSTM = ["model.kind=lstm", "model.emb_dim=16", "model.hidden_dim=32"]
TINY = [*TINY_DATA, *TINY_LSTM, "train.max_steps=5", "train.batch_size=8", *QUIET]
TINY_GPT = [
    "model.kind=transformer",
    "model.num_layers=1",
    "model.d_model=16",
    "model.num_heads=2",
    "model.context=32",
]
PROGRESS_MARKS = ("examples/s]", "it/s]", "%|")  # tqdm bars of `datasets`; see test_real_process_*


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny complete run (valid and test splits, best generator, resumable checkpoint). Never modified."""
    path = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", *TINY, f"out={path}"]) == 0
    return path


@pytest.fixture
def run_copy(run: Path, tmp_path: Path) -> Path:
    """A private copy of `run` to damage. Its config.yaml says out=<the copy> so that resuming it tests only
    what the test damaged (and not whether a moved run folder may be resumed: see test_cli.py)."""
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    cfg = yaml.safe_load((copy / "config.yaml").read_text(encoding="utf-8"))
    cfg["out"] = str(copy)
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return copy


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder` (hidden ones too) -> content hash ('dir' for folders)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        out[p.relative_to(folder).as_posix()] = (
            "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        )
    return out


def error_line(rc: int, err: str) -> str:
    """Check the error contract and return the one `seqgen: error:` line."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and not any(m in line for m in PROGRESS_MARKS)]
    errors = [line for line in lines if line.startswith("seqgen: error:")]
    assert rc == 2, (rc, err)
    assert len(errors) == 1 and lines[-1] == errors[0], err
    return errors[0]


def fails(capsys: pytest.CaptureFixture, *argv: object, says: tuple[str, ...] = ()) -> str:
    """Run `seqgen argv` in-process; it must fail with one error line containing every string of `says`."""
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    line = error_line(rc, err)
    for text in says:
        assert text in line, (text, line)
    return line


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ----------------------------------------------------------------------------------------------- corpora
@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "not found"),
        (b"", "empty"),
        (b"\n   \n\t\n\n", "empty"),
        (b"fine line\n\xff\xfe bad bytes\n", "UTF-8"),
    ],
    ids=["missing", "empty", "blank-lines-only", "non-utf8"],
)
@pytest.mark.parametrize("split", ["train", "test"])
def test_bad_corpus_file(tmp_path, capsys, content, says, split):
    corpus = tmp_path / f"{split}.txt"
    if content is not None:
        write(corpus, content)
    good = write(tmp_path / "good.txt", "".join(f"the cat sat {i}\n" for i in range(40)))
    given = {"train": good, split: corpus}
    out = tmp_path / "run"
    line = fails(
        capsys,
        "train",
        f"data.train={given['train']}",
        *([f"data.test={corpus}"] if split == "test" else []),
        *TINY_LSTM,
        "train.max_steps=1",
        "train.batch_size=8",
        *QUIET,
        f"out={out}",
        says=(says, str(corpus)),
    )
    if says == "UTF-8":
        assert "line 2" in line  # where the bad bytes are
    assert not out.exists()  # a failed start leaves no half-made run folder


def test_corpus_folder_without_txt_files(tmp_path, capsys):
    (tmp_path / "corpus").mkdir()
    write(tmp_path / "corpus/notes.md", "hello\n")
    fails(
        capsys,
        "train",
        f"data.train={tmp_path / 'corpus'}",
        f"out={tmp_path / 'run'}",
        says=(str(tmp_path / "corpus"),),
    )


# ------------------------------------------------------------------------------------------------ config
def test_missing_recipe(tmp_path, capsys):
    fails(capsys, "train", tmp_path / "nope.yaml", says=("not found", str(tmp_path / "nope.yaml")))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("train: {max_steps: 3\n", "YAML"),
        ("- a\n- b\n", "mapping"),
        ("just a string\n", "mapping"),
        (b"train:\n  seed: \xff\n", "UTF-8"),
    ],
    ids=["invalid-yaml", "top-level-list", "top-level-string", "non-utf8"],
)
def test_bad_recipe_file(tmp_path, capsys, content, says):
    recipe = write(tmp_path / "recipe.yaml", content)
    fails(capsys, "train", recipe, says=(says, str(recipe)))


def test_unknown_key_on_the_command_line_is_named_with_a_suggestion(capsys):
    fails(capsys, "train", "train.max_step=3", says=("train.max_step", "did you mean 'train.max_steps'"))


def test_unknown_key_in_a_recipe_is_named_with_a_suggestion(tmp_path, capsys):
    recipe = write(tmp_path / "r.yaml", "model:\n  hiden_dim: 8\n")
    fails(capsys, "train", recipe, says=("model.hiden_dim", "model.hidden_dim"))


def test_unknown_section(capsys):
    fails(capsys, "train", "optim.lr=0.1", says=("optim.lr",))


def test_override_without_equals_sign(tmp_path, capsys):
    recipe = write(tmp_path / "r.yaml", "train:\n  seed: 1\n")
    fails(capsys, "train", recipe, "max_steps", says=("max_steps", "KEY=VALUE"))


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("train.max_steps=abc", ("train.max_steps", "int", "abc")),
        ("train.max_steps=2.5", ("train.max_steps", "int")),
        ("train.lr=fast", ("train.lr", "float", "fast")),
        ("model.kind=cnn", ("model.kind", "cnn", "transformer")),
        ("tokenizer.kind=bytes", ("tokenizer.kind", "bytes")),
        ("train.progress=maybe", ("train.progress", "bool")),
        ("train=3", ("'train'", "section")),
        ("model.hidden_dim=[1, 2]", ("model.hidden_dim", "int")),
    ],
)
def test_wrong_type_or_choice(capsys, item, says):
    fails(capsys, "train", item, says=says)


@pytest.mark.parametrize(
    ("items", "says"),
    [
        (["train.grad_accum=3", "train.batch_size=8"], ("train.grad_accum=3", "train.batch_size=8")),
        ([*TINY_GPT, "data.max_len=64"], ("data.max_len=64", "model.context=32")),
        ([*TINY_GPT, "model.num_heads=3"], ("model.num_heads=3", "model.d_model=16")),
        (
            ["model.tie_embeddings=true", "model.emb_dim=16", "model.hidden_dim=32"],
            ("model.tie_embeddings", "model.emb_dim", "model.hidden_dim"),
        ),
        (["train.max_steps=0"], ("train.max_steps", "0")),
        (["train.max_steps=-3"], ("train.max_steps", "-3")),
        (["train.batch_size=0"], ("train.batch_size",)),
        (["train.lr=0"], ("train.lr",)),
        (["train.lr=-1e-3"], ("train.lr",)),
        (["model.dropout=1.0"], ("model.dropout",)),
        (["data.max_len=1"], ("data.max_len",)),
        (["data.holdout=-1"], ("data.holdout",)),
        (["train.eval_every=-1"], ("train.eval_every",)),
    ],
    ids=[
        "grad-accum",
        "max-len-vs-context",
        "heads",
        "tie",
        "zero-steps",
        "negative-steps",
        "zero-batch",
        "zero-lr",
        "negative-lr",
        "dropout-1",
        "max-len-1",
        "negative-holdout",
        "negative-eval-every",
    ],
)
def test_impossible_settings(tmp_path, capsys, items, says):
    fails(capsys, "train", *items, f"out={tmp_path / 'run'}", says=says)
    assert not (tmp_path / "run").exists()


def test_impossible_setting_in_a_recipe_is_refused_too(tmp_path, capsys):
    recipe = write(tmp_path / "r.yaml", "train:\n  batch_size: 10\n  grad_accum: 4\n")
    fails(capsys, "train", recipe, says=("train.grad_accum=4", "train.batch_size=10"))


# ----------------------------------------------------------------------------------- run folder / resume
def test_out_is_a_non_empty_folder_without_resume(run_copy, capsys):
    before = snapshot(run_copy)
    fails(capsys, "train", *TINY, f"out={run_copy}", says=(str(run_copy), "resume=true"))
    assert snapshot(run_copy) == before


def test_out_is_a_non_empty_folder_that_is_not_a_run(tmp_path, capsys):
    write(tmp_path / "precious.txt", "keep me\n")
    fails(capsys, "train", *TINY, f"out={tmp_path}", says=(str(tmp_path),))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.txt"]


def test_out_is_an_existing_file(tmp_path, capsys):
    target = write(tmp_path / "notes.txt", "keep me\n")
    fails(capsys, "train", *TINY, f"out={target}", says=(str(target),))
    assert target.read_text() == "keep me\n"


def test_resume_without_a_run_folder(tmp_path, capsys):
    fails(capsys, "train", *TINY, f"out={tmp_path / 'none'}", "resume=true", says=(str(tmp_path / "none"),))
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ("model.hidden_dim=64", "model.hidden_dim"),
        ("train.lr=0.5", "train.lr"),
        ("data.caption_sentences=200", "data.caption_sentences"),
    ],
)
def test_resume_with_a_changed_config_names_the_key_and_changes_nothing(run_copy, capsys, change, key):
    before = snapshot(run_copy)
    fails(capsys, "train", *TINY, change, "train.max_steps=8", f"out={run_copy}", "resume=true", says=(key,))
    assert snapshot(run_copy) == before


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(max(64, path.stat().st_size)))


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("checkpoint/state/optimizer.bin", _truncate),
        ("checkpoint/state/optimizer.bin", _random_bytes),
        ("checkpoint/state/scheduler.bin", _truncate),
        ("checkpoint/state/model.safetensors", _truncate),
        ("checkpoint/trainer.json", lambda p: p.write_text("{step: ")),
        ("checkpoint/trainer.json", lambda p: p.write_text('{"tokens_seen": 3}')),
        ("config.yaml", lambda p: p.write_text("model: [\n")),
    ],
    ids=[
        "optimizer-truncated",
        "optimizer-random",
        "scheduler-truncated",
        "state-weights-truncated",
        "trainer-json-invalid",
        "trainer-json-no-step",
        "config-yaml-invalid",
    ],
)
def test_resume_from_corrupt_files_is_a_clear_error_and_changes_nothing(run_copy, capsys, name, damage):
    damage(run_copy / name)
    before = snapshot(run_copy)
    line = fails(
        capsys, "train", *TINY, "train.max_steps=8", f"out={run_copy}", "resume=true", says=(str(run_copy),)
    )
    assert "corrupt" in line or "cannot resume" in line, line
    assert snapshot(run_copy) == before


# ------------------------------------------------------------------------------------- sample / evaluate
@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_missing_run_folder(tmp_path, capsys, command):
    fails(capsys, command, tmp_path / "none", says=("not found", str(tmp_path / "none")))


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_folder_that_is_not_a_run(tmp_path, capsys, command):
    write(tmp_path / "notes.txt", "hello\n")
    fails(capsys, command, tmp_path, says=("not a seqgen run", str(tmp_path)))


def _new_generator(run: Path, vocab_delta: int):
    """A fresh generator like the run's but over a vocabulary `vocab_delta` symbols larger."""
    import json

    from seqgen.models import build_generator
    from seqgen.run_folder import load_config

    vocab = json.loads((run / "run.json").read_text())["vocab_size"]
    return build_generator(load_config(None, TINY_LSTM).model, vocab + vocab_delta)


@pytest.mark.parametrize(
    ("name", "damage", "says"),
    [
        ("generator/model.safetensors", _truncate, "model.safetensors"),
        ("generator/model.safetensors", _random_bytes, "model.safetensors"),
        ("generator/model.safetensors", lambda p: p.unlink(), "model.safetensors"),
        ("generator/config.json", lambda p: p.write_text("{not json"), "config.json"),
        ("tokenizer/tokenizer.json", lambda p: p.write_text('{"kind": "word", "vocab": ['), "tokenizer.json"),
        ("tokenizer/tokenizer.json", lambda p: p.unlink(), "tokenizer"),
        ("config.yaml", lambda p: p.write_text("model: [\n"), "config.yaml"),
        ("config.yaml", lambda p: p.write_text("model:\n  kind: cnn\n"), "model.kind"),
    ],
    ids=[
        "weights-truncated",
        "weights-random",
        "weights-missing",
        "config-json-invalid",
        "tokenizer-json-invalid",
        "tokenizer-json-missing",
        "config-yaml-invalid",
        "config-yaml-bad-value",
    ],
)
@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_corrupt_run_files(run_copy, capsys, command, name, damage, says):
    damage(run_copy / name)
    line = fails(
        capsys, command, run_copy, *(["--num-samples", "0"] if command == "evaluate" else []), says=(says,)
    )
    assert str(run_copy) in line


@pytest.mark.parametrize("vocab_delta", [-5, 7], ids=["smaller", "larger"])
@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_generator_of_another_vocabulary_size(run_copy, capsys, command, vocab_delta):
    shutil.rmtree(run_copy / "generator")
    _new_generator(run_copy, vocab_delta).save(run_copy / "generator")
    line = fails(
        capsys,
        command,
        run_copy,
        *(["--num-samples", "0"] if command == "evaluate" else []),
        says=(str(run_copy / "generator"),),
    )
    assert "vocab" in line and "tokenizer" in line, line


def test_last_checkpoint_missing(run_copy, capsys):
    shutil.rmtree(run_copy / "checkpoint")
    fails(capsys, "sample", run_copy, "--checkpoint", "last", says=("last", str(run_copy)))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-n", "0"], ("-n", "0")),
        (["-n", "-2"], ("-n", "-2")),
        (["--temperature", "-1"], ("--temperature",)),
        (["--top-p", "1.5"], ("--top-p", "1.5")),
        (["--top-p", "0"], ("--top-p",)),
        (["--top-k", "-1"], ("--top-k", "-1")),
        (["--max-len", "-3"], ("--max-len", "-3")),
        (["--max-len", "1"], ("--max-len", "1")),
        (["--prefix", " ".join(["a man"] * 20)], ("prefix",)),
        (["--device", "bogus"], ("bogus",)),
    ],
    ids=[
        "n-0",
        "n-negative",
        "temperature-negative",
        "top-p-1.5",
        "top-p-0",
        "top-k-negative",
        "max-len-negative",
        "max-len-one",
        "prefix-too-long",
        "device-unknown",
    ],
)
def test_bad_sample_settings(run, capsys, args, says):
    fails(capsys, "sample", run, *args, says=says)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--batch-size", "0"], ("--batch-size", "0")),
        (["--num-samples", "-1"], ("--num-samples", "-1")),
        (["--device", "bogus"], ("bogus",)),
    ],
    ids=["batch-size-0", "num-samples-negative", "device-unknown"],
)
def test_bad_evaluate_settings(run, capsys, args, says):
    fails(capsys, "evaluate", run, *args, says=says)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["sample", "RUN", "-n", "abc"], "-n"),
        (["sample", "RUN", "--checkpoint", "first"], "--checkpoint"),
        (["evaluate", "RUN", "--split", "dev"], "--split"),
        (["tokenizer", "train", "--kind", "bpe", "--input", "x", "--out", "y"], "--kind"),
        (["frobnicate"], "frobnicate"),
        ([], "COMMAND"),
    ],
    ids=["n-not-int", "checkpoint-choice", "split-choice", "kind-choice", "unknown-command", "no-command"],
)
def test_command_line_syntax_errors_exit_2_without_traceback(run, capsys, argv, says):
    # argparse's own errors: usage lines then 'seqgen ...: error: ...'; exit status 2 like every bad input.
    argv = [str(run) if a == "RUN" else a for a in argv]
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "error:" in last and says in last, err


def test_evaluate_a_split_the_run_does_not_have(tmp_path, capsys):
    corpus = write(tmp_path / "c.txt", "".join(f"the cat sat on mat {i % 7}\n" for i in range(60)))
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                f"data.train={corpus}",
                "data.holdout=0",
                "data.max_len=20",
                *TINY_LSTM,
                "train.max_steps=1",
                "train.batch_size=8",
                *QUIET,
                f"out={run}",
            ]
        )
        == 0
    )
    fails(capsys, "evaluate", run, "--split", "test", says=("test", "data.test", str(run)))
    fails(capsys, "evaluate", run, "--split", "valid", says=("valid", "data.valid"))
    # the train split is always there
    capsys.readouterr()
    assert main(["evaluate", str(run), "--split", "train"]) == 0


# -------------------------------------------------------------------------------------------- -o output
@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_output_into_a_missing_folder(run, tmp_path, capsys, command):
    target = tmp_path / "nodir" / "out.txt"
    line = fails(
        capsys,
        command,
        run,
        "-o",
        target,
        *(["--num-samples", "0"] if command == "evaluate" else []),
        says=(str(tmp_path / "nodir"),),
    )
    assert ".tmp" not in line  # name the user's path, not an internal temporary file
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_output_onto_an_existing_folder(run, tmp_path, capsys, command):
    target = tmp_path / "results"
    target.mkdir()
    line = fails(
        capsys,
        command,
        run,
        "-o",
        target,
        *(["--num-samples", "0"] if command == "evaluate" else []),
        says=(str(target),),
    )
    assert ".tmp" not in line
    assert [p.name for p in tmp_path.iterdir()] == ["results"]  # no temporary file left beside it
    assert list(target.iterdir()) == []


def test_failed_sample_keeps_an_existing_output_file(run, tmp_path, capsys):
    target = write(tmp_path / "samples.txt", "old samples\n")
    fails(capsys, "sample", run, "-o", target, "--prefix", " ".join(["a man"] * 20), says=("prefix",))
    assert target.read_text() == "old samples\n"
    assert [p.name for p in tmp_path.iterdir()] == ["samples.txt"]


# --------------------------------------------------------------------------------------------- tokenizer
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


# ----------------------------------------------------------------------------------------- real processes
def _seqgen(tmp_path: Path, *argv: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_DATASETS_CACHE": str(tmp_path / "hf-cache")}
    return subprocess.run(
        [sys.executable, "-m", "seqgen", *map(str, argv)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_real_process_missing_run_exits_2_with_one_line(tmp_path):
    proc = _seqgen(tmp_path, "sample", tmp_path / "none", "-n", "3")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"seqgen: error: run folder not found: {tmp_path / 'none'}\n"


def test_real_process_empty_corpus_exits_2_with_exactly_one_line(tmp_path):
    # What a shell user sees: with train.progress=false, stderr must be the error line alone (no progress
    # bars of the corpus loader before it, no traceback).
    corpus = write(tmp_path / "empty.txt", b"\n\n")
    proc = _seqgen(
        tmp_path,
        "train",
        f"data.train={corpus}",
        "train.progress=false",
        "train.tensorboard=false",
        f"out={tmp_path / 'run'}",
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"seqgen: error: empty corpus (no non-blank lines): {corpus}"]
    assert not (tmp_path / "run").exists()
