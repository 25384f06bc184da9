"""The run folder (DESIGN §8): where each piece of a run lives, how it is read back, and who may write it.

```
RUN/
  config.yaml          the full resolved config
  run.json             split rule, corpus paths (absolute), token counts, <unk> rates, process count
  tokenizer/           tokenizer.json (+ spm.model), in seqgen's own format
  generator/           best generator by validation NLL (last without a validation split); a whole HF model
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

import dataclasses
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from seqgen.atomic import atomic_write_text, recover_dir
from seqgen.config import flat_dict, parse_settings, settings_from_dict
from seqgen.data.config import BUILTIN_CORPORA, DataConfig
from seqgen.errors import SeqgenError, Settings, setting
from seqgen.models.config import ModelConfig, check_fits_rows
from seqgen.objectives.adversarial.config import AdversarialConfig, check_run
from seqgen.objectives.scheduled_sampling_config import ScheduledSamplingConfig
from seqgen.tokenization import Tokenizer, TokenizerConfig
from seqgen.training.config import TrainConfig

if TYPE_CHECKING:
    from seqgen.models import Generator

try:  # POSIX; elsewhere runs are not locked (documented in the README)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

OBJECTIVES = ("mle", "scheduled_sampling", "adversarial")


@dataclass
class RunConfig(Settings):
    """Everything a run is: the sections of every part, the objective, and where the run lives. Saved as the
    run's config.yaml; `load_config` builds it from a recipe and key=value overrides."""

    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ss: ScheduledSamplingConfig = field(default_factory=ScheduledSamplingConfig)
    adv: AdversarialConfig = field(default_factory=AdversarialConfig)
    objective: str = setting(
        "mle",
        "training objective: mle (teacher forcing), scheduled_sampling (settings in ss.*) or adversarial "
        "(policy gradient with discriminator rewards, settings in adv.*)",
        OBJECTIVES,
    )
    out: str = setting("runs/default", "run folder (config, tokenizer, checkpoints, metrics, samples)")
    resume: bool = setting(False, "continue the run in `out` from its last checkpoint")
    init_from: str | None = setting(None, "start the generator from this run folder's generator")

    def check(self) -> None:
        """The rules between sections; each section has checked its own values already."""
        check_fits_rows(self.model, self.data.max_len)
        self.train.check_with_corpus(self.data.train)
        if self.objective == "adversarial":
            check_run(
                self.adv,
                micro_batch=self.train.micro_batch,
                batch_size=self.train.batch_size,
                grad_accum=self.train.grad_accum,
                data=self.data,
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    def set_given(self, keys: set[str] | frozenset[str]) -> None:
        """Record which keys the user set (YAML or key=value): a resumed run, or one started `init_from`
        another run, inherits every other key of its data/tokenizer/model sections from that run."""
        self._given = frozenset(keys)

    def given_keys(self) -> frozenset[str]:
        """The keys set explicitly; for a config built in Python, the keys whose value is not the default."""
        given = getattr(self, "_given", None)
        if given is not None:
            return given
        mine, default = flat_dict(self.to_dict()), flat_dict(RunConfig().to_dict())
        return frozenset(k for k, v in mine.items() if default.get(k) != v)


Config = RunConfig  # the name of the public API


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Defaults, then the YAML recipe (if any), then `key=value` overrides, each checked."""
    cfg, given = parse_settings(RunConfig, path, overrides)
    cfg.set_given(given)
    return cfg


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    """A run config from a mapping (a saved config.yaml), checked like a recipe."""
    cfg, given = settings_from_dict(RunConfig, data)
    cfg.set_given(given)
    return cfg


log = logging.getLogger("seqgen")
LOCK_NAME = ".lock"
_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)$")  # what seqgen.atomic writes before its rename


def corpus_paths(cfg: RunConfig) -> dict[str, str | None]:
    """split -> absolute path of the corpus file/folder it is read from (None: built-in or hub corpora)."""
    out: dict[str, str | None] = {}
    for split in ("train", "valid", "test"):
        source = getattr(cfg.data, split)
        builtin = source in BUILTIN_CORPORA or (source or "").startswith("hf:")
        p = Path(source).expanduser() if source and not builtin else None
        out[split] = str(p.resolve()) if p is not None and p.exists() else None
    return out


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

    def __init__(self, folder: Path, fd: int | None) -> None:
        self.folder, self._fd = folder, fd
        self.created_folder = False  # the folder was made for this run (removed again if it stays empty)

    def release(self, *, remove_if_new: bool = False) -> None:
        """Give up the lock; with `remove_if_new`, a folder this run made and left empty goes too."""
        if self._fd is None:
            return
        (self.folder / LOCK_NAME).unlink(missing_ok=True)  # safe: the lock is on the folder, not this file
        os.close(self._fd)
        self._fd = None
        if remove_if_new and self.created_folder and self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()

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

    def open_for_training(self, *, resume: bool) -> RunLock:
        """Take the folder's lock (making the folder for a new run), clear leftovers of killed saves, and
        refuse what cannot start: a missing folder to resume, a non-empty one for a new run."""
        if self.path.exists() and not self.path.is_dir():
            raise SeqgenError(f"run folder {self.path} is a file; choose another out=")
        created = not self.path.exists()
        if created:
            if resume:
                raise SeqgenError(f"cannot resume: run folder not found: {self.path}")
            self.path.mkdir(parents=True)
        lock = self.lock()
        lock.created_folder = created
        try:
            removed = self.remove_stale_temporaries()
            if removed:
                log.info(
                    "removed %d leftover temporary file(s) of an interrupted save in %s",
                    len(removed),
                    self.path,
                )
            if not resume and self.holds_anything():
                raise SeqgenError(
                    f"run folder {self.path} is not empty; continue it with resume=true or choose another "
                    "out="
                )
        except BaseException:
            lock.release(remove_if_new=True)
            raise
        return lock

    def write_start(self, cfg: RunConfig, tokenizer: Tokenizer, info: dict[str, Any]) -> None:
        """The files a new run starts with: config.yaml, tokenizer/, run.json (`info` plus corpus paths)."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config_file, cfg.to_yaml())
        tokenizer.save(self.tokenizer_dir)
        info = {"split_rule": info.pop("split_rule", None), "corpus": corpus_paths(cfg), **info}
        atomic_write_text(self.info_file, json.dumps(info, indent=2) + "\n")

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

    def load_config(self) -> RunConfig:
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

    def use_recorded_corpora(self, values: dict[str, Any], given: frozenset[str]) -> None:
        """In flat config `values`, corpus paths the user did not give become the absolute paths this run
        recorded (where they still exist), so a run continued from another directory reads the same files."""
        recorded = self.corpus_paths()
        for split in ("train", "valid", "test"):
            key = f"data.{split}"
            if key not in given and split in recorded and values.get(key) is not None:
                values[key] = recorded[split]

    def load_config_for_reading(self) -> RunConfig:
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

    def load_generator(self, which: str = "best", tokenizer: Tokenizer | None = None) -> Generator:
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
