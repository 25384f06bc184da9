"""The study's report folder: DIR/report/table.{md,csv,tex}, the quality–diversity PNGs and report.md.

The tables are `seqgen compare`'s (every run's held-out likelihood and per-temperature sample metrics) plus
the study's own: each run's cost (training wall time, steps, samples drawn) and its curves summarised at the
base run's T=1 point (Caccia et al. 2020; `seqgen.metrics.quality_diversity`). On COCO the runs are also
scored with Texygen's protocol (9,984 samples at T=1 against test.txt, treebank tokens) beside Texygen's
published rows. report.md says, for each arm, what its numbers show against the control (continued MLE for
the same budget) — generated from the numbers, never written by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqgen.atomic import atomic_write_text
from seqgen.evaluation.compare import render
from seqgen.metrics.published import TEXYGEN_COCO, TEXYGEN_COLUMNS, TEXYGEN_MODEL_NAMES
from seqgen.metrics.quality_diversity import entirely_below, swapped, value_at
from seqgen.report import format_table, plot_quality_diversity
from seqgen.study.runner import RunOutcome
from seqgen.study.spec import Study

# (quality, diversity, quality higher is better): the two quality–diversity pairs of DESIGN §6.
PAIRS = {"bleu": ("bleu4", "self_bleu4", True), "lm": ("lm_score", "reverse_lm_score", False)}


def _curve(evaluation: dict[str, Any], quality: str, diversity: str) -> list[tuple[float, float]]:
    return [
        (s[diversity], s[quality])
        for s in evaluation.get("samples") or []
        if s.get(quality) is not None and s.get(diversity) is not None
    ]


def _at_one(evaluation: dict[str, Any], key: str) -> float | None:
    """The value of `key` at temperature 1 (the reference point of matched comparisons)."""
    return next((s.get(key) for s in evaluation.get("samples") or [] if s.get("temperature") == 1.0), None)


def summary_rows(outcomes: list[RunOutcome]) -> list[dict[str, Any]]:
    """Per run: its cost and its curves at the base's T=1 point (matched diversity, matched quality)."""
    base = next(o for o in outcomes if o.name == "base").evaluation
    rows = []
    for o in outcomes:
        row: dict[str, Any] = {
            "run": o.name,
            "temperature": None,
            "train_seconds": round(o.train_seconds),
            "samples_drawn": o.samples_drawn,
        }
        for name, (quality, diversity, higher) in PAIRS.items():
            mine, ref = _curve(o.evaluation, quality, diversity), _curve(base, quality, diversity)
            d0, q0 = _at_one(base, diversity), _at_one(base, quality)
            if not mine or d0 is None or q0 is None:
                continue
            quality_key, diversity_key = (
                ("bleu4", "self_bleu4") if name == "bleu" else ("lm_score", "reverse_lm")
            )
            row[f"matched_{quality_key}"] = value_at(mine, d0)  # quality at the base's diversity
            row[f"matched_{diversity_key}"] = value_at(swapped(mine), q0)  # diversity at the base's quality
            below = entirely_below(mine, ref, higher_is_better=higher) if o.name != "base" else None
            row[f"below_base_{name}"] = None if below is None else int(below)
        rows.append(row)
    return rows


def _texygen_rows(outcomes: list[RunOutcome]) -> list[dict[str, Any]]:
    rows = []
    for o in outcomes:
        s = (o.texygen or {}).get("samples") or []
        if s:
            rows.append({"run": o.name, "temperature": 1.0, **{k: s[0].get(k) for k in TEXYGEN_COLUMNS}})
    for key, values in TEXYGEN_COCO.items():
        label = f"Texygen {TEXYGEN_MODEL_NAMES[key]} (published)"
        rows.append({"run": label, "temperature": None, **dict(zip(TEXYGEN_COLUMNS, values, strict=True))})
    return rows


def write_report(study: Study, outcomes: list[RunOutcome], out: Path) -> list[Path]:
    """Write DIR/report/ (see the module docstring); return the files written."""
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)
    evaluations = [{**o.evaluation, "label": o.name} for o in outcomes]
    split = evaluations[0]["split"]
    written: list[Path] = []
    summary = summary_rows(outcomes)
    summary_title = "Cost, and each run's curves at the base run's T=1 point"
    tex_rows = _texygen_rows(outcomes) if study.anchors == "texygen" else []
    tex_title = (
        "Texygen's protocol (9,984 samples at T=1, treebank tokens, test split) beside its published rows"
    )
    for fmt, suffix in (("md", "md"), ("csv", "csv"), ("latex", "tex")):
        text, plots = render({split: evaluations}, fmt=fmt, plot_dir=folder if fmt == "md" else None)
        parts = [text, format_table(summary, fmt=fmt, title=summary_title)]
        if tex_rows:
            parts.append(format_table(tex_rows, fmt=fmt, title=tex_title))
        path = folder / f"table.{suffix}"
        atomic_write_text(path, ("\n\n" if fmt != "csv" else "\n").join(parts) + "\n")
        written += [path, *plots]
    if tex_rows:
        path = folder / "texygen-bleu.png"
        plot_quality_diversity(
            tex_rows, path, title="BLEU-4 vs Self-BLEU-4 under Texygen's protocol (COCO test)"
        )
        written.append(path)
    report = folder / "report.md"
    atomic_write_text(report, report_markdown(study, outcomes, summary, folder, written))
    return [*written, report]


def report_markdown(
    study: Study, outcomes: list[RunOutcome], summary: list[dict[str, Any]], folder: Path, written: list[Path]
) -> str:
    """report.md: the settings, the tables, the plots, and one paragraph per arm."""
    lines = [f"# Study: {study.name} ({study.scale} scale)", "", study.about.strip(), ""]
    lines += [f"- {n}" for n in study.notes]
    lines += [
        "",
        "## Settings",
        "",
        f"- spec: `{study.path}` at scale `{study.scale}`; base run `base`, every arm fine-tuned from it for "
        f"{study.budget} generator steps",
        f"- base overrides: `{' '.join(study.base_overrides) or '(recipe only)'}`",
        f"- evaluation: {', '.join(f'{k}={v}' for k, v in study.evaluate.items())}",
        "",
        "## Tables",
        "",
        (folder / "table.md").read_text(encoding="utf-8"),
        "## Plots",
        "",
    ]
    lines += [f"![{p.stem}]({p.name})" for p in written if p.suffix == ".png"]
    lines += ["", "## What each arm shows", ""]
    by_name = {r["run"]: r for r in summary}
    control = next(o for o in outcomes if o.control)
    for o in outcomes:
        if o.name != "base":
            lines += [paragraph(o, control, outcomes[0], by_name), ""]
    return "\n".join(lines) + "\n"


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def paragraph(o: RunOutcome, control: RunOutcome, base: RunOutcome, summary: dict[str, dict]) -> str:
    """What one arm's numbers say against the control and the base, in sentences built from the numbers."""
    e, c = o.evaluation, control.evaluation
    unit = "bits_per_char" if "bits_per_char" in e else "nll"
    parts = [f"**{o.name}** ({o.about or 'an arm'}): {o.steps} steps in {o.train_seconds:.0f} s"]
    parts[0] += f", {o.samples_drawn} samples drawn." if o.samples_drawn else "."
    if e.get(unit) is not None and c.get(unit) is not None:
        delta = e[unit] - c[unit]
        verdict = "worse" if delta > 0.005 else "better" if delta < -0.005 else "the same"
        parts.append(
            f"Held-out {unit} {_fmt(e[unit])} vs the control's {_fmt(c[unit])} ({delta:+.3f}: {verdict})."
        )
    for key, name in (
        ("valid_fraction", "valid samples"),
        ("bleu4", "BLEU-4"),
        ("self_bleu4", "Self-BLEU-4"),
    ):
        mine, theirs = _at_one(e, key), _at_one(c, key)
        if mine is not None and theirs is not None:
            parts.append(f"At T=1, {name} {_fmt(mine)} (control {_fmt(theirs)}).")
    row, crow = summary.get(o.name, {}), summary.get(control.name, {})
    if row.get("matched_bleu4") is not None:
        parts.append(
            f"At the base's diversity, BLEU-4 {_fmt(row['matched_bleu4'])} "
            f"(control {_fmt(crow.get('matched_bleu4'))})."
        )
    for pair in ("bleu", "lm"):
        below = row.get(f"below_base_{pair}")
        if below is not None:
            what = "BLEU-4 vs Self-BLEU-4" if pair == "bleu" else "LM vs reverse LM"
            parts.append(
                f"Its {what} curve lies {'entirely below' if below else 'not entirely below'} the base's."
            )
    if o.control:
        parts.append("This is the control every other arm must beat.")
    return " ".join(parts)
