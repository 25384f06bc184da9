"""`seqgen compare`: several runs (or saved `seqgen evaluate` results) side by side, as tables and curves.

Objectives are compared as curves over sampling temperatures, not single points (Caccia et al. 2020): a lower
temperature buys BLEU and LM score with Self-BLEU and reverse LM score. Each run contributes one row holding
its held-out likelihood (no temperature) and one row per temperature holding its sample metrics; there is one
table per evaluated split, with the metric definitions and the BLEU tokenization in its header.

NLL per token (and perplexity) is marked best only among runs sharing a tokenizer; across tokenizers the
likelihood is compared by bits per character (and NLL per word), and the header says which rule applied
(seqgen.evaluation.tokenizer_groups).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seqgen.errors import SeqgenError
from seqgen.evaluation.recipe_notes import recipe_notes
from seqgen.evaluation.tokenizer_groups import PER_TOKEN_KEYS, likelihood_ranking

LIKELIHOOD_KEYS = (
    "nll",  # = nll_token, which is therefore not shown twice
    "ppl",
    "bits_per_char",
    "nll_word",
    "bpc",  # char runs: = bits_per_char, shown only for older evaluations without it
    "tokens",
    "chars",
    "words",
    "unk_fraction",
    "kl_p_q",
    "kl_q_p",
    "js",
    "tv",
    "kl_q_product",
    "kl_p_product",
)
# Per-temperature keys that are settings or provenance, not metrics: kept out of the table.
NOT_SHOWN = {
    "temperature",
    "num_samples",
    "oracle_optimal_nll",
    "lm_score_tokens",
    "lm_score_unk_fraction",
    "reverse_lm_tokens",
    "reverse_lm_steps",
    "reverse_lm_best_step",
    "classifier",
}


def load_evaluation(path: str | Path) -> dict[str, Any]:
    """A result saved by `seqgen evaluate -o FILE` (strict JSON with "settings")."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeqgenError(f"no such file: {p}") from None
    except UnicodeDecodeError as e:
        raise SeqgenError(f"{p} is not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise SeqgenError(f"{p} is not a seqgen evaluation (invalid JSON at line {e.lineno})") from None
    if not isinstance(data, dict) or "settings" not in data or "split" not in data:
        raise SeqgenError(f"{p} is not a run evaluation written by `seqgen evaluate RUN -o FILE`")
    return data


def unique_labels(paths: Sequence[str | Path]) -> list[str]:
    """Short names for the runs: the folder (or file stem; a saved evaluation inside a run folder, such as
    RUN/eval.json, is named after the run), with parents added until they are distinct."""
    parts = [Path(p).resolve().parts for p in paths]
    names = [_short_name(Path(p)) for p in paths]
    depth = 1
    while len(set(names)) < len(names) and depth < max(len(x) for x in parts):
        depth += 1
        names = ["/".join(x[-depth:]) for x in parts]
    return names


def _short_name(p: Path) -> str:
    if p.suffix != ".json":
        return p.name
    return p.resolve().parent.name if (p.parent / "config.yaml").is_file() else p.stem


def rows_of(evaluation: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """Table rows of one evaluation: its likelihood row (temperature None), then one row per temperature."""
    rows = []
    likelihood = {k: evaluation[k] for k in LIKELIHOOD_KEYS if k in evaluation}
    if "bits_per_char" in likelihood:
        likelihood.pop("bpc", None)
    if likelihood:
        rows.append({"run": label, "temperature": None, **likelihood})
    for sample in evaluation.get("samples") or []:
        metrics = {
            k: v for k, v in sample.items() if k not in NOT_SHOWN and isinstance(v, int | float | None)
        }
        rows.append({"run": label, "temperature": sample["temperature"], **metrics})
    return rows


def table_notes(evaluations: Sequence[dict[str, Any]]) -> list[str]:
    """Header lines that every number in the table depends on: split, sample counts, seed, BLEU protocol, the
    recipes and seeds of the models the LM scores and the classifier test train."""
    notes = []
    first = evaluations[0]["settings"]
    for key, say in (
        ("num_samples", "samples per run and temperature: {}"),
        ("seed", "sampling seed: {}"),
        ("protocol", "{}"),
        ("references", "BLEU references: {}"),
    ):
        values = {json.dumps(e["settings"].get(key)) for e in evaluations if key in e["settings"]}
        if len(values) == 1 and key in first:
            notes.append(say.format(first[key]))
        elif values:
            notes.append(f"WARNING: runs differ in {key}: {', '.join(sorted(values))}")
    notes += recipe_notes(evaluations)  # the recipes and seeds of the reference LM, reverse LM, classifier
    rules = {e.get("split_rule") for e in evaluations}
    if len(rules) > 1:
        notes.append("WARNING: the runs were evaluated on different data (split rules differ)")
    return notes


def split_table(
    evaluations: Sequence[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[str], dict[str, list[str | None]] | None]:
    """(rows, header notes, per-column ranking groups) of one split's table: NLL/token and PPL are ranked
    only within runs sharing a tokenizer (`likelihood_ranking`), the other columns across all runs."""
    rows: list[dict[str, Any]] = []
    notes = table_notes(evaluations)
    if not any("nll" in ev for ev in evaluations):
        return [r for ev in evaluations for r in rows_of(ev, ev["label"])], notes, None
    ranking = likelihood_ranking(evaluations)
    groups: list[str | None] = []
    for ev, group in zip(evaluations, ranking.groups, strict=True):
        mine = rows_of(ev, ev["label"])
        rows += mine
        groups += [group] * len(mine)
    return rows, notes + ranking.notes, None if ranking.shared else dict.fromkeys(PER_TOKEN_KEYS, groups)


def compare(
    items: Sequence[str | Path],
    *,
    splits: Sequence[str] = ("test",),
    labels: Sequence[str] | None = None,
    evaluate: Callable[[str | Path, str], dict[str, Any]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Evaluations per split: {split: [evaluation of each item]}. A folder is evaluated with
    `evaluate(folder, split)`; a .json file is a saved evaluation, used as it is (its own split)."""
    if not items:
        raise SeqgenError("give at least one run folder (or saved evaluation .json) to compare")
    labels = list(labels) if labels else unique_labels(items)
    if len(labels) != len(items):
        raise SeqgenError(f"--labels gives {len(labels)} names for {len(items)} runs")
    out: dict[str, list[dict[str, Any]]] = {}
    for item, label in zip(items, labels, strict=True):
        p = Path(item)
        if p.is_file():
            ev = load_evaluation(p)
            out.setdefault(ev["split"], []).append({**ev, "label": label})
            continue
        if evaluate is None:
            raise SeqgenError(f"{p} is not a saved evaluation file")
        for split in splits:
            out.setdefault(split, []).append({**evaluate(p, split), "label": label})
    return out


def render(
    per_split: dict[str, list[dict[str, Any]]],
    *,
    fmt: str = "md",
    plot_dir: str | Path | None = None,
    quality: int = 4,
) -> tuple[str, list[Path]]:
    """(the tables as one text, the PNG files written): one table per split; for each split a BLEU-n vs
    Self-BLEU-n plot when BLEU was measured and an LM vs reverse LM plot when both LM scores were."""
    from seqgen.report import format_table, plot_lm_scores, plot_quality_diversity  # matplotlib: only here

    texts, plots = [], []
    for split, evaluations in per_split.items():
        rows, notes, rank_within = split_table(evaluations)
        title = f"Comparison on the {split} split"
        texts.append(format_table(rows, fmt=fmt, title=title, notes=notes, rank_within=rank_within))
        if plot_dir is None:
            continue
        folder = Path(plot_dir)
        sampled = [r for r in rows if r["temperature"] is not None]
        if any(
            r.get(f"bleu{quality}") is not None and r.get(f"self_bleu{quality}") is not None for r in sampled
        ):
            path = folder / f"compare-{split}-bleu.png"
            plot_quality_diversity(
                sampled,
                path,
                quality=f"bleu{quality}",
                diversity=f"self_bleu{quality}",
                title=f"BLEU-{quality} vs Self-BLEU-{quality} across temperatures ({split} split)",
            )
            plots.append(path)
        if any(r.get("lm_score") is not None and r.get("reverse_lm_score") is not None for r in sampled):
            path = folder / f"compare-{split}-lm.png"
            plot_lm_scores(
                sampled, path, title=f"LM score vs reverse LM score across temperatures ({split} split)"
            )
            plots.append(path)
    sep = "\n\n" if fmt != "csv" else "\n"
    return sep.join(texts), plots
