"""Shared by the test modules (imported as `from helpers import ...`: pytest's default "prepend" import mode
puts tests/ on sys.path): the tiny configs that several files train with, and the one-line error contract of
the `seqgen` command.

The config lists are `key=value` overrides as typed on the command line. Where files used to differ (whether a
run writes samples, logs every step) the variants keep distinct names, so every test trains what it did.

The error contract: a bad input exits with status 2 and prints ONE line `seqgen: error: ...` naming the
problem (path, key or setting) as the last line of stderr, never a traceback. Fixtures (tiny runs trained once
and shared) live in conftest.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from seqgen.cli import main
from seqgen.models.config import ModelConfig

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------------------ tiny configs
QUIET = ["train.progress=false", "train.tensorboard=false"]
QUIET_NO_SAMPLES = [*QUIET, "train.num_samples=0"]  # ... and no samples written at validation
QUIET_LOG_EVERY_STEP = [*QUIET_NO_SAMPLES, "train.log_every=1"]  # ... and a metrics.jsonl record every step
TINY_DATA = ["data.caption_sentences=300", "data.holdout=30", "data.max_len=20"]
TINY_LSTM = ["model.kind=lstm", "model.emb_dim=16", "model.hidden_dim=32"]
TINY_GPT = [
    "model.kind=transformer",
    "model.num_layers=1",
    "model.d_model=16",
    "model.num_heads=2",
    "model.context=32",
]
TINY_GPT_MODEL = ModelConfig(
    kind="transformer", num_layers=1, d_model=16, num_heads=2, context=32
)  # TINY_GPT
TINY_STEPS = ["train.max_steps=5", "train.batch_size=8", *QUIET]
# A complete 5-step LSTM run on the caption language; with samples (TINY) or without (TINY_NO_SAMPLES).
TINY = [*TINY_DATA, *TINY_LSTM, *TINY_STEPS]
TINY_NO_SAMPLES = [*TINY_DATA, *TINY_LSTM, "train.max_steps=5", "train.batch_size=8", *QUIET_NO_SAMPLES]

# ---------------------------------------------------------------------------------- the error contract
# tqdm bars of `datasets` a failed start may print before its error line (see test_cli_errors.py)
PROGRESS_MARKS = ("examples/s]", "it/s]", "%|")


def error_line(rc: int, err: str, *, ignore: tuple[str, ...] = PROGRESS_MARKS) -> str:
    """Check the error contract and return the one `seqgen: error:` line. Lines of stderr containing one of
    `ignore` (progress bars, by default) are not counted; every other non-blank line is."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and not any(m in line for m in ignore)]
    errors = [line for line in lines if line.startswith("seqgen: error:")]
    assert rc == 2, (rc, err)
    assert len(errors) == 1 and lines[-1] == errors[0], err
    return errors[0]


def _fails(
    capsys: pytest.CaptureFixture, argv: tuple[object, ...], says: tuple[str, ...], ignore: tuple[str, ...]
) -> str:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    line = error_line(rc, err, ignore=ignore)
    for text in says:
        assert text in line, (text, line)
    return line


def fails(capsys: pytest.CaptureFixture, *argv: object, says: tuple[str, ...] = ()) -> str:
    """Run `seqgen argv` in-process; it must fail with one error line containing every string of `says`
    (progress bars of `datasets` may precede it). Returns that line."""
    return _fails(capsys, argv, says, PROGRESS_MARKS)


def fails_strict(capsys: pytest.CaptureFixture, *argv: object, says: tuple[str, ...] = ()) -> str:
    """Like `fails`, but no line of stderr is excused: the error line must be the last non-blank line, with
    no progress bar after it. Returns that line."""
    return _fails(capsys, argv, says, ())


def ok(capsys: pytest.CaptureFixture, *argv: object) -> str:
    """Run `seqgen argv` in-process; it must succeed. Returns stderr."""
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return err


# --------------------------------------------------------------------------------------------- files
def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder` (hidden ones too) -> content hash ('dir' for folders)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        out[p.relative_to(folder).as_posix()] = (
            "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        )
    return out


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def strict_json_lines(path: Path) -> list[dict]:
    """The records of a JSON-lines file, refusing the bare NaN / Infinity that json.loads would accept."""

    def refuse(name: str) -> None:
        raise AssertionError(f"bare {name} in {path}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]
