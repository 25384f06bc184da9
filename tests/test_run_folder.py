"""The run folder (seqgen.run_folder): who may write it and how it is read back.

- `out=` that is a non-empty folder, a folder that is no run, or a file is refused unless it is resumed, and a
  resume needs an existing run with the same config and intact checkpoint files (corrupt ones are named);
- `sample` / `evaluate` need a run folder, and name the damaged file of one (weights, config.json,
  tokenizer.json, config.yaml) or the missing last checkpoint;
- a second writer is refused naming the live process, and kill -9 leaves no stale lock;
- temporaries of a killed save are removed when the run is next opened.

Refusals are the one-line error of helpers.py and change nothing in the folder. The shared tiny `run`
(conftest.py) is never modified: tests that damage it work on `run_copy`. The lock test runs a real training
process and kills it with SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, TINY_NO_SAMPLES, fails, ok, snapshot, strict_json_lines, write

# --------------------------------------------------------------------------------------- out= and resume


def test_out_is_a_non_empty_folder_without_resume(run_copy, capsys):
    before = snapshot(run_copy)
    fails(capsys, "train", *TINY_NO_SAMPLES, f"out={run_copy}", says=(str(run_copy), "resume=true"))
    assert snapshot(run_copy) == before


def test_out_is_a_non_empty_folder_that_is_not_a_run(tmp_path, capsys):
    write(tmp_path / "precious.txt", "keep me\n")
    fails(capsys, "train", *TINY_NO_SAMPLES, f"out={tmp_path}", says=(str(tmp_path),))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.txt"]


def test_out_is_an_existing_file(tmp_path, capsys):
    target = write(tmp_path / "notes.txt", "keep me\n")
    fails(capsys, "train", *TINY_NO_SAMPLES, f"out={target}", says=(str(target),))
    assert target.read_text() == "keep me\n"


def test_resume_without_a_run_folder(tmp_path, capsys):
    fails(
        capsys,
        "train",
        *TINY_NO_SAMPLES,
        f"out={tmp_path / 'none'}",
        "resume=true",
        says=(str(tmp_path / "none"),),
    )
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
    fails(
        capsys,
        "train",
        *TINY_NO_SAMPLES,
        change,
        "train.max_steps=8",
        f"out={run_copy}",
        "resume=true",
        says=(key,),
    )
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
        capsys,
        "train",
        *TINY_NO_SAMPLES,
        "train.max_steps=8",
        f"out={run_copy}",
        "resume=true",
        says=(str(run_copy),),
    )
    assert "corrupt" in line or "cannot resume" in line, line
    assert snapshot(run_copy) == before


# ------------------------------------------------------------------------ read back by sample / evaluate


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_missing_run_folder(tmp_path, capsys, command):
    fails(capsys, command, tmp_path / "none", says=("not found", str(tmp_path / "none")))


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_folder_that_is_not_a_run(tmp_path, capsys, command):
    write(tmp_path / "notes.txt", "hello\n")
    fails(capsys, command, tmp_path, says=("not a seqgen run", str(tmp_path)))


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


def test_last_checkpoint_missing(run_copy, capsys):
    shutil.rmtree(run_copy / "checkpoint")
    fails(capsys, "sample", run_copy, "--checkpoint", "last", says=("last", str(run_copy)))


# -------------------------------------------------------------------------------------------------- lock


def _start_training(run: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "seqgen",
        "train",
        *TINY_NO_SAMPLES,
        "train.max_steps=100000",
        "train.save_every=0",
    ]
    return subprocess.Popen(
        [*cmd, f"out={run}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def test_a_second_writer_is_refused_naming_the_live_process_and_kill_9_leaves_no_stale_lock(tmp_path, capsys):
    run = tmp_path / "run"
    proc = _start_training(run)
    try:
        deadline = time.time() + 120
        while not (run / "metrics.jsonl").exists():  # past the setup: the lock is held
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline
            time.sleep(0.2)
        before = (run / "config.yaml").read_bytes()
        for extra in ([], ["resume=true"]):
            fails(capsys, "train", *TINY_NO_SAMPLES, f"out={run}", *extra, says=("in use", f"pid {proc.pid}"))
        assert (run / "config.yaml").read_bytes() == before
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # The OS released the flock with the process; the killed run had no checkpoint, so it starts again.
    err = ok(capsys, "train", f"out={run}", "resume=true", "train.max_steps=3", "train.log_every=1")
    assert "no checkpoint yet: starting it from step 0" in err
    steps = [r["step"] for r in strict_json_lines(run / "metrics.jsonl") if r["split"] == "train"]
    assert steps == [1, 2, 3]  # nothing of the killed run's log is left


# ------------------------------------------------------------------------------------------- temporaries


def test_stale_temporaries_of_a_killed_save_are_removed_when_the_run_is_next_opened(tmp_path, capsys):
    run = tmp_path / "run"
    ok(capsys, "train", *TINY_NO_SAMPLES, f"out={run}")
    dead = 2**22 + 12345  # above the default pid_max of 4194304: no such process
    (run / f".checkpoint.tmp-{dead}" / "state").mkdir(parents=True)
    (run / f".run.json.tmp-{dead}").write_text("{}")
    (run / "samples").mkdir()
    (run / "samples" / f".step-5.txt.tmp-{dead}").write_text("x")
    live = run / ".generator.tmp-1"  # pid 1 is alive: a save in progress elsewhere is left alone
    live.mkdir()
    ok(capsys, "train", *TINY_NO_SAMPLES, f"out={run}", "resume=true", "train.max_steps=6")
    left = sorted(p.name for p in [*run.iterdir(), *(run / "samples").iterdir()] if ".tmp-" in p.name)
    assert left == [live.name]
