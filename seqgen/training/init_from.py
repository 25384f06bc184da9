"""A run started from another run's generator (`init_from=RUN`) trains that generator with that run's
tokenizer, so by default on that run's corpus.

Every key of the `data`, `tokenizer` and `model` sections the user did not set (in the YAML recipe or as
key=value) is inherited from the source run — corpus paths as the absolute paths it recorded in run.json —
and what the user did set is checked: `model.*` must describe the loaded generator and `tokenizer.*` the run's
tokenizer. The result is what the new run's config.yaml records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqgen.config import flat_dict
from seqgen.errors import SeqgenError
from seqgen.models.generator import model_settings
from seqgen.run_folder import RunConfig, RunFolder, config_from_dict

INHERITED = ("data.", "tokenizer.", "model.")


def config_from_run(cfg: RunConfig) -> RunConfig:
    """`cfg` with what it inherits from the run it starts from (see the module docstring)."""
    source = RunFolder(cfg.init_from).require()
    src_cfg = flat_dict(source.load_config().to_dict())
    given = cfg.given_keys()
    mine = flat_dict(cfg.to_dict())
    if "model.pretrained" in given and mine["model.pretrained"]:
        raise SeqgenError(
            f"init_from={cfg.init_from} and model.pretrained={mine['model.pretrained']} both name the "
            "generator to start from; give one"
        )
    generator = _generator_settings(source)
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
    values = {**mine, **{k: v for k, v in src_cfg.items() if k.startswith(INHERITED) and k not in given}}
    values.update({f"model.{k}": v for k, v in generator.items()})  # the loaded generator is the truth
    values["model.pretrained"] = None  # the generator comes from init_from, not from a pretrained folder
    source.use_recorded_corpora(values, given)
    out = config_from_dict(values)
    out.set_given(given)
    return out


def _generator_settings(source: RunFolder) -> dict[str, Any]:
    folder = source.generator_for("best")
    try:
        return model_settings(json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise SeqgenError(f"init_from: cannot read the generator config in {folder}") from None
