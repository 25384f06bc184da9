"""Which config a run really uses when it continues another: `resume=true` or `init_from=RUN`.

A resumed run is its saved `config.yaml`; a run started from another run's generator trains that generator,
with that run's tokenizer, so by default on that run's corpus. In both cases every key the user did not set
(in the YAML recipe or as key=value) is inherited — all keys on resume, the `data`, `tokenizer` and `model`
sections with `init_from` — and what the user did set is checked against what cannot change:

- resume: keys that change what a step computes (all but `RESUMABLE_CHANGES`) must equal the saved ones;
- init_from: `model.*` must describe the loaded generator and `tokenizer.*` the run's tokenizer.

Corpus paths are inherited as the absolute paths the earlier run recorded in run.json, so a run continued
from another working directory reads the same files. The result is what `config.yaml` records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqgen.config import flat_dict
from seqgen.errors import SeqgenError
from seqgen.run_folder import Config, RunFolder, config_from_dict

# Keys that may change when a run is resumed: they do not change the numbers a step computes.
RESUMABLE_CHANGES = {
    "resume",
    "out",  # a run folder may be moved or copied before it is resumed
    "train.max_steps",
    "train.eval_every",
    "train.save_every",
    "train.log_every",
    "train.num_samples",
    "train.progress",
    "train.tensorboard",
}
INHERITED_FROM_INIT = ("data.", "tokenizer.", "model.")
CORPUS_KEYS = {"data.train": "train", "data.valid": "valid", "data.test": "test"}


def resolve_start(cfg: Config) -> Config:
    """`cfg` with what it inherits from the run it resumes or starts from (see the module docstring)."""
    if cfg.resume:
        return _resumed(cfg)
    if cfg.init_from:
        return _from_run(cfg)
    return cfg


def _merge(base: dict[str, Any], cfg: Config, keys: set[str] | frozenset[str]) -> dict[str, Any]:
    mine = flat_dict(cfg.to_dict())
    return {**base, **{k: mine[k] for k in keys}}


def _with_absolute_corpora(values: dict[str, Any], run: RunFolder, given: frozenset[str]) -> None:
    recorded = run.corpus_paths()
    for key, split in CORPUS_KEYS.items():
        if key not in given and split in recorded and values.get(key) is not None:
            values[key] = recorded[split]


def _build(values: dict[str, Any], given: frozenset[str]) -> Config:
    out = config_from_dict(values)
    out.set_given(given)
    return out


def _resumed(cfg: Config) -> Config:
    run = RunFolder(cfg.out)
    if not run.path.is_dir():
        raise SeqgenError(f"cannot resume: run folder not found: {run.path}")
    if not run.config_file.is_file():
        raise SeqgenError(
            f"cannot resume {run.path}: it holds no config.yaml (nothing of a run was written); start it "
            "again without resume=true"
        )
    saved = flat_dict(run.load_config().to_dict())
    given = cfg.given_keys()
    mine = flat_dict(cfg.to_dict())
    changed = sorted(k for k in given if k not in RESUMABLE_CHANGES and mine[k] != saved.get(k))
    if changed:
        raise SeqgenError(
            "cannot resume: the config differs from the run's config.yaml at "
            + ", ".join(f"{k} ({saved.get(k)!r} -> {mine[k]!r})" for k in changed)
        )
    values = _merge(saved, cfg, given | {"resume", "out"})
    _with_absolute_corpora(values, run, given)
    return _build(values, given)


def _from_run(cfg: Config) -> Config:
    source = RunFolder(cfg.init_from).require()
    src_cfg = flat_dict(source.load_config().to_dict())
    given = cfg.given_keys()
    mine = flat_dict(cfg.to_dict())
    if "model.pretrained" in given and mine["model.pretrained"]:
        raise SeqgenError(
            f"init_from={cfg.init_from} and model.pretrained={mine['model.pretrained']} both name the "
            "generator to start from; give one"
        )
    generator = _read_generator_settings(source)
    tok_changed = sorted(k for k in given if k.startswith("tokenizer.") and mine[k] != src_cfg.get(k))
    if tok_changed:
        raise SeqgenError(
            f"init_from={cfg.init_from} trains with that run's tokenizer; "
            + ", ".join(f"{k}={mine[k]!r} (the run has {src_cfg.get(k)!r})" for k in tok_changed)
            + " contradicts it: leave tokenizer.* out"
        )
    model_changed = sorted(
        k for k in given if k.startswith("model.") and k[6:] in generator and mine[k] != generator[k[6:]]
    )
    if model_changed:
        raise SeqgenError(
            f"init_from={cfg.init_from} holds a {generator['kind']} generator with "
            + ", ".join(f"{k}={generator[k[6:]]!r}" for k in model_changed)
            + "; the given "
            + ", ".join(f"{k}={mine[k]!r}" for k in model_changed)
            + " contradicts it (leave model.* out to inherit them)"
        )
    inherited = {k: v for k, v in src_cfg.items() if k.startswith(INHERITED_FROM_INIT) and k not in given}
    values = {**mine, **inherited}
    values.update({f"model.{k}": v for k, v in generator.items()})  # the loaded generator is the truth
    values["model.pretrained"] = None  # the generator comes from init_from, not from a pretrained folder
    _with_absolute_corpora(values, source, given)
    return _build(values, given)


def _read_generator_settings(source: RunFolder) -> dict[str, Any]:
    from seqgen.models.generator import model_settings

    folder = source.generator_for("best")
    try:
        return model_settings(json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise SeqgenError(f"init_from: cannot read the generator config in {folder}") from None
