"""Safe writes: a saved folder is the old one or the complete new one, never half of each; JSON is strict.

`atomic_dir(target)` yields a temporary sibling folder to write into. When the block ends without error the
old folder (if any) is moved aside, the new one renamed into place and the old one deleted. Renames within one
file system are atomic; the only window is between the two renames, and `recover_dir` (called by every loader)
restores the old folder if a crash happened exactly there. If the block raises, the temporary folder is
removed and the previous folder is untouched.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _aside(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def recover_dir(target: str | Path) -> Path:
    """Return `target`, first restoring it from its moved-aside copy if a save died between the renames."""
    target = Path(target)
    old = _aside(target)
    if not target.exists() and old.exists():
        os.replace(old, target)
    return target


def begin_dir(target: str | Path) -> Path:
    """Create (empty) and return the temporary sibling that `commit_dir` will move onto `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp


def _fsync_tree(folder: Path) -> None:
    # Data on disk before the rename makes it visible; otherwise a power cut could expose empty files.
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def commit_dir(tmp: Path, target: str | Path) -> None:
    """Replace `target` by the fully written `tmp` (old folder moved aside first, then deleted)."""
    target = Path(target)
    _fsync_tree(tmp)
    old = _aside(target)
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder to write into; it replaces `target` only if the block finishes."""
    tmp = begin_dir(target)
    try:
        yield tmp
        commit_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # the old folder is intact (or restored by recover_dir)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file via a temporary sibling and os.replace, so readers see the old or the new content."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def finite_or_none(x: Any) -> Any:
    """`x` with every non-finite float (nan, inf) replaced by None, in nested dicts and lists."""
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite_or_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def strict_json(obj: Any, indent: int | None = None) -> str:
    """JSON that jq and JavaScript read: no bare NaN/Infinity (non-finite numbers become null)."""
    return json.dumps(finite_or_none(obj), indent=indent, allow_nan=False)
