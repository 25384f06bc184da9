"""Bad command lines of `seqgen sample` / `evaluate` / the parser (seqgen.cli): flags out of range, argparse's
own syntax errors, a split the run does not have, `-o` into a missing folder or onto a folder (an existing
output file is kept), and what a shell sees from the real `python -m seqgen`.

Each is the one-line error of helpers.py: exit status 2, ONE line `seqgen: error: ...` naming the flag or
path, never a traceback, nothing lost. Most cases call `seqgen.cli.main` in-process on the shared tiny `run`
(conftest.py); two run the real process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import QUIET_NO_SAMPLES, REPO, TINY_DATA, TINY_LSTM, fails, fails_strict, snapshot, write

from seqgen.cli import build_parser, main

# ------------------------------------------------------------------------------- sample / evaluate flags


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
                *QUIET_NO_SAMPLES,
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


# -------------------------------------------------------------------------------------- sample --max-len


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run of 2 steps (data.max_len=20), shared read-only by the --max-len tests."""
    path = tmp_path_factory.mktemp("run") / "run"
    tiny = [*TINY_DATA, *TINY_LSTM, "train.max_steps=2", "train.batch_size=8", *QUIET_NO_SAMPLES]
    assert main(["train", *tiny, f"out={path}"]) == 0
    return path


@pytest.mark.parametrize("value", ["0", "1", "-3"])
def test_sample_max_len_below_two_is_refused(short_run, tmp_path, capsys, value):
    before = snapshot(short_run)
    out = tmp_path / "samples.txt"
    line = fails_strict(capsys, "sample", short_run, "--max-len", value, "-o", out, says=("--max-len", value))
    assert "at least 2" in line
    assert not out.exists()
    assert snapshot(short_run) == before


def test_sample_max_len_defaults_to_the_runs_data_max_len(short_run, capsys):
    assert build_parser().parse_args(["sample", str(short_run)]).max_len is None  # not 0: 0 is refused
    capsys.readouterr()
    assert main(["sample", str(short_run), "-n", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and max(len(line.split()) for line in lines) <= 19  # data.max_len=20 incl. BOS


# --------------------------------------------------------------------------------------------- -o output


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


# ---------------------------------------------------------------------------------------- real processes


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
