"""A study spec: one base run, the arms fine-tuned from it for one equal budget, and how they are evaluated.

```yaml
name: caption                       # the study's name (report title)
about: what the study asks          # one paragraph for the report
notes: [things a reader must know]  # e.g. "EMNLP trains on 10,000 sentences, not the papers' 270k"
base:                               # the MLE run every arm starts from
  recipe: mle.yaml                  # relative to the spec file (optional)
  set: [train.max_steps=3000]       # KEY=VALUE overrides
arms_set: [train.lr=1e-4]           # overrides every arm shares (the fine-tuning optimiser)
budget: 600                         # generator steps of every arm: train.max_steps of each
arms:
  - name: mle                       # a run folder name
    about: continued MLE for the same budget
    control: true                   # the arm every other one must beat (one arm)
    set: [objective=mle]
evaluate:                           # seqgen.evaluate keywords
  metrics: nll,bleu,self_bleu
  temperatures: [0.7, 0.85, 1.0, 1.15]
  num_samples: 1000
anchors: texygen                    # optional: Texygen's protocol beside its published COCO rows
scales:                             # named sizes; `cpu` is the default
  smoke: {base: [...], arms: [...], budget: 5, evaluate: {num_samples: 60}}
```
Every problem with a spec is one line naming the file and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqgen.config import read_yaml_mapping
from seqgen.errors import SeqgenError

SCALES = ("smoke", "cpu", "paper")
KEYS = {"name", "about", "notes", "base", "arms_set", "budget", "arms", "evaluate", "anchors", "scales"}
ARM_KEYS = {"name", "about", "control", "set"}
SCALE_KEYS = {"base", "arms", "budget", "evaluate"}
EVALUATE_KEYS = {"metrics", "temperatures", "num_samples", "seed", "split", "tokenize", "lm", "classifier"}
ANCHORS = ("texygen",)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class Arm:
    name: str
    about: str
    overrides: list[str]
    control: bool = False


@dataclass
class Study:
    """A spec at one scale: everything the runner needs, with paths resolved."""

    path: Path
    name: str
    about: str
    notes: list[str]
    scale: str
    base_recipe: Path | None
    base_overrides: list[str]
    arms: list[Arm]
    budget: int
    evaluate: dict[str, Any] = field(default_factory=dict)
    anchors: str | None = None

    @property
    def control(self) -> Arm:
        return next(a for a in self.arms if a.control)


def _overrides(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and "=" in v for v in value):
        raise SeqgenError(f"{where} must be a list of KEY=VALUE strings")
    return list(value)


def _mapping(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SeqgenError(f"{where} must be a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise SeqgenError(f"unknown key {where}.{unknown[0]} (known: {', '.join(sorted(allowed))})")
    return dict(value)


def _arms(value: Any, where: str) -> list[Arm]:
    if not isinstance(value, list) or not value:
        raise SeqgenError(f"{where}: 'arms' must be a non-empty list of arms")
    arms = []
    for i, raw in enumerate(value):
        a = _mapping(raw, f"{where}: arms[{i}]", ARM_KEYS)
        name = a.get("name")
        if not isinstance(name, str) or not _NAME.match(name) or name in ("base", "report"):
            raise SeqgenError(
                f"{where}: arms[{i}].name must be a folder name other than base/report, got {name!r}"
            )
        arms.append(
            Arm(
                name,
                str(a.get("about", "")),
                _overrides(a.get("set"), f"{where}: arms[{i}].set"),
                bool(a.get("control", False)),
            )
        )
    names = [a.name for a in arms]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise SeqgenError(f"{where}: two arms are named {dup!r}")
    if sum(a.control for a in arms) != 1:
        raise SeqgenError(
            f"{where}: exactly one arm must be the control (control: true), the run all others must beat"
        )
    return arms


def load_study(path: str | Path, scale: str = "cpu") -> Study:
    """The spec in `path` at `scale` (smoke, cpu or paper): the scale's overrides appended to the base's and
    every arm's, its budget and evaluation settings replacing the spec's."""
    p = Path(path)
    spec = _mapping(read_yaml_mapping(p), str(p), KEYS)
    where = str(p)
    if scale not in SCALES:
        raise SeqgenError(f"unknown --scale {scale!r}; choose from {', '.join(SCALES)}")
    scales = _mapping(spec.get("scales"), f"{where}: scales", set(SCALES))
    sized = _mapping(scales.get(scale), f"{where}: scales.{scale}", SCALE_KEYS)
    base = _mapping(spec.get("base"), f"{where}: base", {"recipe", "set"})
    recipe = base.get("recipe")
    recipe_path = (p.parent / recipe) if recipe else None
    if recipe_path is not None and not recipe_path.is_file():
        raise SeqgenError(f"{where}: base.recipe {recipe} not found ({recipe_path})")
    budget = sized.get("budget", spec.get("budget"))
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise SeqgenError(f"{where}: budget must be a positive number of generator steps, got {budget!r}")
    evaluate = {**_mapping(spec.get("evaluate"), f"{where}: evaluate", EVALUATE_KEYS)}
    evaluate.update(_mapping(sized.get("evaluate"), f"{where}: scales.{scale}.evaluate", EVALUATE_KEYS))
    anchors = spec.get("anchors")
    if anchors is not None and anchors not in ANCHORS:
        raise SeqgenError(f"{where}: anchors must be one of {', '.join(ANCHORS)}, got {anchors!r}")
    common = _overrides(spec.get("arms_set"), f"{where}: arms_set") + _overrides(
        sized.get("arms"), f"{where}: scales.{scale}.arms"
    )
    arms = [Arm(a.name, a.about, [*common, *a.overrides], a.control) for a in _arms(spec.get("arms"), where)]
    notes = spec.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise SeqgenError(f"{where}: notes must be a list of sentences")
    return Study(
        path=p,
        name=str(spec.get("name") or p.parent.name),
        about=str(spec.get("about", "")),
        notes=list(notes),
        scale=scale,
        base_recipe=recipe_path,
        base_overrides=_overrides(base.get("set"), f"{where}: base.set")
        + _overrides(sized.get("base"), f"{where}: scales.{scale}.base"),
        arms=arms,
        budget=budget,
        evaluate=evaluate,
        anchors=anchors,
    )
