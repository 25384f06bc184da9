"""`seqgen study SPEC --out DIR`: train the base, fine-tune every arm from it for the same budget, evaluate
them all, and write the report (DESIGN §10).

Every run is an ordinary run folder under DIR (DIR/base, DIR/ARM): a finished one is reused (after checking
that it was made with the spec's settings), a broken one resumed, a missing one trained — so running the
command again continues where it stopped. Evaluations are saved beside each run (DIR/ARM/eval-study.json)
and reused when their settings have not changed. Each run's training wall time and the samples its generator
drew are kept in DIR/ARM/study.json.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgen.atomic import atomic_write_text, strict_json
from seqgen.errors import SeqgenError
from seqgen.run_folder import RunFolder, load_config
from seqgen.study.spec import Study, load_study

log = logging.getLogger("seqgen")
TEXYGEN_PROTOCOL = {
    "temperatures": (1.0,),
    "num_samples": 9984,
    "metrics": "bleu,self_bleu",
    "tokenize": "treebank",
}


@dataclass
class RunOutcome:
    """One run of the study: its folder, what it cost, and its evaluations."""

    name: str
    folder: Path
    about: str
    control: bool
    train_seconds: float
    samples_drawn: int
    steps: int
    evaluation: dict[str, Any]
    texygen: dict[str, Any] | None = None


def _finished(run: RunFolder, max_steps: int) -> bool:
    return run.checkpoint_step() == max_steps and run.generator_dir.is_dir()


def _cost(folder: Path) -> dict[str, Any]:
    f = folder / "study.json"
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {"train_seconds": 0.0}


def _samples_drawn(folder: Path) -> int:
    """The samples the generator drew in training: the last count its metrics.jsonl logged (0 for
    objectives that draw none)."""
    drawn = 0
    path = folder / "metrics.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("split") == "train" and isinstance(record.get("samples_drawn"), int | float):
                drawn = int(record["samples_drawn"])
    return drawn


def train_run(folder: Path, recipe: Path | None, overrides: list[str], *, label: str) -> tuple[float, int]:
    """Make sure `folder` is a finished run of (recipe, overrides): reuse, resume or train it. Returns (its
    training wall time in seconds, summed over every start, and its steps)."""
    from seqgen.training.checkpoint import resumed_config
    from seqgen.training.trainer import train

    cfg = load_config(recipe, [*overrides, f"out={folder}"])
    run = RunFolder(folder)
    cost = _cost(folder)
    if run.config_file.is_file():
        try:  # a folder made with other settings is never silently reused or continued
            resumed_config(load_config(recipe, [*overrides, f"out={folder}", "resume=true"]))
        except SeqgenError as e:
            raise SeqgenError(
                f"study run {folder} was made with other settings than the spec's ({e}); remove it or choose "
                "another --out"
            ) from None
        if _finished(run, cfg.train.max_steps):
            log.info("%s: reusing the finished run %s", label, folder)
            return float(cost.get("train_seconds", 0.0)), cfg.train.max_steps
        log.info("%s: continuing the unfinished run %s", label, folder)
        cfg = load_config(recipe, [*overrides, f"out={folder}", "resume=true"])
    else:
        log.info("%s: training %s (%d steps)", label, folder, cfg.train.max_steps)
    start = time.perf_counter()
    train(cfg)
    seconds = float(cost.get("train_seconds", 0.0)) + time.perf_counter() - start
    atomic_write_text(
        folder / "study.json", json.dumps({"train_seconds": round(seconds, 2)}, indent=2) + "\n"
    )
    return seconds, cfg.train.max_steps


def evaluate_cached(folder: Path, settings: dict[str, Any], name: str) -> dict[str, Any]:
    """seqgen.evaluate(folder, **settings), saved as folder/eval-NAME.json and reused while its settings
    (and the generator it scored) are unchanged."""
    import seqgen

    path = folder / f"eval-{name}.json"
    key = json.loads(strict_json({"settings": settings, "generator": _generator_stamp(folder)}))
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("study_key") == key:
                return saved
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    result = seqgen.evaluate(folder, **settings)
    result["study_key"] = key
    atomic_write_text(path, strict_json(result, indent=2) + "\n")
    return json.loads(path.read_text(encoding="utf-8"))


def _generator_stamp(folder: Path) -> list[Any]:
    weights = RunFolder(folder).generator_dir / "model.safetensors"
    st = weights.stat() if weights.is_file() else None
    return [st.st_size, st.st_mtime_ns] if st else []


def _evaluate_settings(study: Study) -> dict[str, Any]:
    e = dict(study.evaluate)
    if "temperatures" in e:
        e["temperatures"] = tuple(float(t) for t in e["temperatures"])
    for key in ("lm", "classifier"):
        if key in e and isinstance(e[key], dict):
            e[key] = [f"{k}={v}" for k, v in e[key].items()]
    return e


def run_study(spec: str | Path, out: str | Path, *, scale: str = "cpu") -> tuple[Study, list[RunOutcome]]:
    """Train, evaluate and compare every run of the study (see the module docstring); the report is written
    by `seqgen.study.report.write_report`."""
    study = load_study(spec, scale)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SeqgenError(f"--out {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    runs = [("base", study.base_recipe, study.base_overrides, "the MLE run every arm starts from", False)]
    for arm in study.arms:
        overrides = [*arm.overrides, f"init_from={out / 'base'}", f"train.max_steps={study.budget}"]
        runs.append((arm.name, None, overrides, arm.about, arm.control))
    settings = _evaluate_settings(study)
    outcomes = []
    for name, recipe, overrides, about, control in runs:
        folder = out / name
        seconds, steps = train_run(folder, recipe, overrides, label=name)
        log.info("%s: evaluating", name)
        evaluation = evaluate_cached(folder, settings, "study")
        texygen = None
        if study.anchors == "texygen":
            protocol = {
                **TEXYGEN_PROTOCOL,
                "seed": settings.get("seed", 0),
                "split": settings.get("split", "test"),
            }
            texygen = evaluate_cached(folder, protocol, "texygen")
        outcomes.append(
            RunOutcome(
                name, folder, about, control, seconds, _samples_drawn(folder), steps, evaluation, texygen
            )
        )
    return study, outcomes
