"""The run folder (DESIGN §8): where each piece of a run lives, how it is read back, and who may write it.

```
RUN/
  config.yaml          the full resolved config
  run.json             split rule, corpus paths (absolute), token counts, <unk> rates, process count
  tokenizer/           tokenizer.json (+ spm.model)
  generator/           best generator by validation NLL (last when there is no validation split)
  checkpoint/          the last resumable state, replaced atomically as a whole:
    generator/           save_pretrained folder of that step
    state/               Accelerate save_state (optimizer, scheduler, RNG; loaded with weights_only=True)
    trainer.json         step, best validation NLL, tokens seen
  metrics.jsonl        one JSON object a line: train/valid metrics by step
  samples/step-N.txt   samples written at each validation
  .lock                pid of the training process that holds the folder (while it runs)
```

A training process holds an exclusive `flock` on the folder itself for its whole life (`RunFolder.lock`):
the OS releases it when the process dies, so a kill -9 never leaves a stale lock, and a second writer is
refused with the pid of the live one. Temporary siblings of atomic writes (``.NAME.tmp-PID``) left by a
process that was killed during a save are removed when the folder is next opened for training.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from seqgen.atomic import recover_dir
from seqgen.config import Config, config_from_dict
from seqgen.errors import SeqgenError

try:  # POSIX; elsewhere runs are not locked (documented in the README)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)$")  # what seqgen.atomic writes before its rename


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


class RunLock:
    """The exclusive lock of one run folder; `release` (or process exit) gives it up."""

    def __init__(self, folder: Path, fd: int) -> None:
        self.folder, self._fd = folder, fd

    def release(self) -> None:
        if self._fd is None:
            return
        (self.folder / LOCK_NAME).unlink(missing_ok=True)  # safe: the lock is on the folder, not this file
        os.close(self._fd)
        self._fd = None

    def __del__(self) -> None:  # a Trainer dropped without closing still frees its folder
        try:
            self.release()
        except OSError:
            pass


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # locations -------------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def info_file(self) -> Path:
        return self.path / "run.json"

    @property
    def tokenizer_dir(self) -> Path:
        return self.path / "tokenizer"

    @property
    def generator_dir(self) -> Path:
        return recover_dir(self.path / "generator")

    @property
    def checkpoint_dir(self) -> Path:
        return recover_dir(self.path / "checkpoint")

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    def has_checkpoint(self) -> bool:
        return (self.checkpoint_dir / "trainer.json").is_file()

    # writers ---------------------------------------------------------------------------------------
    def lock(self) -> RunLock:
        """Take the folder's exclusive lock (it must exist), or refuse naming the process that holds it."""
        if fcntl is None:  # pragma: no cover
            return RunLock(self.path, None)  # type: ignore[arg-type]
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            try:
                holder = (self.path / LOCK_NAME).read_text(encoding="utf-8").strip() or "?"
            except OSError:
                holder = "?"
            raise SeqgenError(
                f"run folder {self.path} is in use by another seqgen process (pid {holder}); wait for it to "
                "finish or stop it, or choose another out="
            ) from None
        (self.path / LOCK_NAME).write_text(f"{os.getpid()}\n", encoding="utf-8")
        return RunLock(self.path, fd)

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the ``.NAME.tmp-PID`` leftovers of saves whose process is gone; return what was removed."""
        removed = []
        for folder in (self.path, self.samples_dir):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                m = _TEMPORARY.match(p.name)
                if m is None:
                    continue
                pid = int(m.group(1))
                if pid != os.getpid() and _pid_alive(pid):
                    continue
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
                removed.append(p)
        return removed

    def holds_anything(self) -> bool:
        """True when the folder holds anything but its lock file (remove stale temporaries first)."""
        return self.path.is_dir() and any(p.name != LOCK_NAME for p in self.path.iterdir())

    # reading ---------------------------------------------------------------------------------------
    def require(self) -> RunFolder:
        if not self.path.is_dir():
            raise SeqgenError(f"run folder not found: {self.path}")
        if not self.config_file.is_file():
            raise SeqgenError(f"not a seqgen run folder (no config.yaml): {self.path}")
        return self

    def load_config(self) -> Config:
        self.require()
        try:
            data = yaml.safe_load(self.config_file.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            raise SeqgenError(f"corrupt run config: {self.config_file}") from None
        if not isinstance(data, dict):
            raise SeqgenError(f"corrupt run config: {self.config_file}")
        try:
            return config_from_dict(data)
        except SeqgenError as e:
            raise SeqgenError(f"corrupt run config {self.config_file}: {e}") from None

    def load_info(self) -> dict[str, Any]:
        try:
            info = json.loads(self.info_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SeqgenError(f"corrupt run info: {self.info_file}") from None
        if not isinstance(info, dict):
            raise SeqgenError(f"corrupt run info: {self.info_file}")
        return info

    def corpus_paths(self) -> dict[str, str]:
        """split -> the absolute path of its corpus as training saw it (files and folders only): a run
        evaluated or continued from another working directory reads the same files."""
        paths = self.load_info().get("corpus") or {}
        return {k: v for k, v in paths.items() if isinstance(v, str) and Path(v).exists()}

    def load_config_for_reading(self) -> Config:
        """The run's config with its corpus paths replaced by the absolute paths training recorded (where they
        still exist), for evaluating a run from any working directory."""
        cfg = self.load_config()
        for split, path in self.corpus_paths().items():
            if getattr(cfg.data, split) is not None:
                setattr(cfg.data, split, path)
        return cfg

    def load_trainer_state(self) -> dict[str, Any]:
        f = self.checkpoint_dir / "trainer.json"
        try:
            state = json.loads(f.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SeqgenError(f"no checkpoint to resume from in {self.path} (missing {f})") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SeqgenError(f"corrupt checkpoint state: {f}") from None
        if not isinstance(state, dict) or not isinstance(state.get("step"), int):
            raise SeqgenError(f"corrupt checkpoint state (no step): {f}")
        return state

    def checkpoint_step(self) -> int | None:
        """The step of the checkpoint on disk, or None when there is none (or it cannot be read)."""
        try:
            return int(self.load_trainer_state()["step"]) if self.has_checkpoint() else None
        except SeqgenError:
            return None

    def load_generator(self, which: str = "best", tokenizer: Any = None) -> Any:
        """The run's generator ('best' or 'last'), checked against the run's tokenizer."""
        from seqgen.models import load_generator
        from seqgen.tokenization import load_tokenizer

        gen_dir = self.generator_for(which)
        gen = load_generator(gen_dir)
        tok = tokenizer if tokenizer is not None else load_tokenizer(self.tokenizer_dir)
        if gen.vocab_size != tok.vocab_size:
            raise SeqgenError(
                f"generator in {gen_dir} does not match the run's tokenizer "
                f"(vocabulary sizes {gen.vocab_size} and {tok.vocab_size})"
            )
        return gen

    def generator_for(self, which: str = "best") -> Path:
        """Folder of the generator to sample/evaluate: 'best' (RUN/generator) or 'last' (the checkpoint's)."""
        self.require()
        if which not in ("best", "last"):
            raise SeqgenError(f"--checkpoint must be best or last, got {which!r}")
        d = self.generator_dir if which == "best" else self.checkpoint_dir / "generator"
        if not d.is_dir():
            raise SeqgenError(f"run {self.path} has no {which} generator yet ({d} is missing)")
        return d
