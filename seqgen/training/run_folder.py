"""The run folder (DESIGN §8): where each piece of a run lives, and how it is read back.

```
RUN/
  config.yaml          the full resolved config
  run.json             split rule, token counts, process count, seqgen version
  tokenizer/           tokenizer.json (+ spm.model)
  generator/           best generator by validation NLL (last when there is no validation split)
  checkpoint/          the last resumable state, replaced atomically as a whole:
    generator/           save_pretrained folder of that step
    state/               Accelerate save_state (optimizer, scheduler, RNG; loaded with weights_only=True)
    trainer.json         step, best validation NLL, tokens seen
  metrics.jsonl        one JSON object a line: train/valid metrics by step
  samples/step-N.txt   samples written at each validation
```
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from seqgen.atomic import recover_dir
from seqgen.config import Config, config_from_dict
from seqgen.errors import SeqgenError


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
            return json.loads(self.info_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SeqgenError(f"corrupt run info: {self.info_file}") from None

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
