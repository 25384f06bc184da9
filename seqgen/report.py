"""Comparison tables (Markdown, CSV, LaTeX) and quality-diversity plots for `seqgen compare` (DESIGN §6).

A *row* is a dict: ``run`` (a label), ``temperature`` (the sampling temperature, or None for metrics that do
not depend on sampling, such as held-out NLL) and metric keys with a number or None. Every metric seqgen
reports is described once in `METRICS` (label, one-line definition, which direction is better), so a table
always carries the definitions of its columns: DESIGN §6 asks every header to say exactly what was measured.

Objectives are compared as curves over sampling temperatures, not as single points (Caccia et al. 2020,
"Language GANs falling short"): lowering the temperature trades diversity for quality, so one model at one
temperature can beat another at another temperature on every single-number metric. The plots draw one curve
per run, quality against diversity, with every point labelled by its temperature.

Plots use matplotlib `Figure` objects with the Agg canvas directly, never pyplot, so no global figure state
survives a call, and are written atomically (temporary sibling file, then os.replace).
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from seqgen.atomic import atomic_write_text
from seqgen.errors import SeqgenError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Direction = Literal["max", "min", "half"] | None
Row = Mapping[str, Any]


@dataclass(frozen=True)
class Metric:
    """One reported metric. `direction`: "max"/"min" = higher/lower is better, "half" = closest to 0.5 is
    best (a two-sample classifier at chance), None = not ranked (a count, or a diagnostic). `axis_hint` says
    what the direction means on a plot axis ("lower = more diverse"); by default it is the direction."""

    key: str
    label: str
    definition: str
    direction: Direction
    axis_hint: str | None = None

    @property
    def direction_text(self) -> str:
        return {"max": "higher is better", "min": "lower is better", "half": "closest to 0.5 is best"}.get(
            self.direction or "", "not ranked"
        )

    @property
    def axis_label(self) -> str:
        hint = self.axis_hint or {"max": "higher = better", "min": "lower = better"}.get(self.direction or "")
        hint = hint or ("0.5 = indistinguishable" if self.direction == "half" else None)
        return f"{self.label} ({hint})" if hint else self.label


_BLEU = "nltk sentence_bleu, smoothing method1, uniform weights over 1..{n}-grams, mean over samples"
_EXACT = "by enumeration of the oracle's support; P = oracle, Q = model"

# Registry order is the default column order. Adding a metric is one line.
METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("nll", "NLL", "held-out NLL in nats/token on the split (EOS included, pad excluded)", "min"),
        Metric("ppl", "PPL", "held-out perplexity, exp(NLL)", "min"),
        Metric("bpc", "BPC", "held-out bits per character, NLL / ln 2 (character-level models)", "min"),
        Metric("tokens", "tokens", "target tokens in the held-out split (EOS included, pad excluded)", None),
        # Not ranked: a lower <unk> rate is a property of the tokenizer, not of the model.
        Metric("unk_fraction", "<unk>", "fraction of the split's text tokens that are <unk> (OOV)", None),
        *(
            Metric(
                f"bleu{n}",
                f"BLEU-{n}",
                f"Texygen BLEU-{n}: each sample vs the whole reference set ({_BLEU.format(n=n)})",
                "max",
                "higher = closer to the references",
            )
            for n in range(2, 6)
        ),
        *(
            Metric(
                f"self_bleu{n}",
                f"Self-BLEU-{n}",
                f"each sample vs all other samples, BLEU-{n} protocol",
                "min",
                "lower = more diverse",
            )
            for n in range(2, 6)
        ),
        Metric("sacrebleu", "sacreBLEU", "sacrebleu corpus BLEU (0-100) against aligned references", "max"),
        Metric(
            "lm_score",
            "LM score",
            "NLL/token of the samples under a reference LM trained by MLE on real training data",
            "min",
            "lower = more realistic",
        ),
        Metric(
            "reverse_lm_score",
            "reverse LM score",
            "NLL/token on real test data of a fresh LM trained on the samples",
            "min",
            "lower = better coverage",
        ),
        Metric(
            "classifier_accuracy",
            "classifier acc.",
            "test accuracy of a fresh real-vs-generated classifier (0.5 = indistinguishable)",
            "half",
        ),
        Metric(
            "classifier_auc",
            "classifier AUC",
            "test ROC AUC of that real-vs-generated classifier (0.5 = indistinguishable)",
            "half",
        ),
        Metric("fed", "FED", "Frechet distance between sentence embeddings of real text and samples", "min"),
        Metric(
            "mauve", "MAUVE", "MAUVE of sample vs real sentence embeddings (1 = same distribution)", "max"
        ),
        Metric(
            "valid_fraction", "valid", "fraction of samples with nonzero probability under the oracle", "max"
        ),
        Metric("oracle_nll", "oracle NLL", "exact NLL in nats/token of the samples under the oracle", "min"),
        Metric("distinct_fraction", "distinct", "fraction of samples that are distinct", "max"),
        Metric("kl_p_q", "KL(P||Q)", f"exact KL(P||Q) in nats, {_EXACT}", "min"),
        Metric("kl_q_p", "KL(Q||P)", f"exact KL(Q||P) in nats, {_EXACT}", "min"),
        Metric("js", "JS", f"exact Jensen-Shannon divergence JS_pi(P||Q) in nats, {_EXACT}", "min"),
        Metric("tv", "TV", f"exact total variation distance between P and Q, {_EXACT}", "min"),
        # Not ranked: being close to the product of marginals is the scheduled-sampling failure mode
        # (Huszar 2015), so neither direction is "better"; it is read next to KL(P||Q).
        Metric(
            "kl_q_product",
            "KL(Q||prod)",
            "exact KL(Q || product of P's marginals) (the scheduled-sampling p_gold = 0 optimum)",
            None,
        ),
        Metric(
            "kl_p_product",
            "KL(P||prod)",
            "exact KL(P || product of P's marginals): how much P's positions depend on each other",
            None,
        ),
    )
}

FORMATS = ("md", "csv", "latex")
SUFFIX_FORMATS = {".md": "md", ".markdown": "md", ".csv": "csv", ".tex": "latex", ".latex": "latex"}
MISSING = {"md": "–", "latex": "--", "csv": ""}
_ARROWS = {
    "md": {"max": " ↑", "min": " ↓", "half": " →0.5"},
    "latex": {"max": r" $\uparrow$", "min": r" $\downarrow$", "half": r" $\to 0.5$"},
}
DPI = 150
_FIXED = ("run", "temperature")


def metric(key: str) -> Metric:
    """The registry entry for `key`; an unknown key gets an unranked entry with no definition."""
    return METRICS.get(key) or Metric(key, key, "—", None)


# ---------------------------------------------------------------------------------------------- rows


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def check_rows(rows: Iterable[Row]) -> list[Row]:
    """Validate rows (a label each, numbers or None elsewhere, no two rows for one run and temperature)."""
    rows = list(rows)
    if not rows:
        raise SeqgenError("nothing to compare: no result rows")
    seen: set[tuple[str, float | None]] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or row.get("run") is None:
            raise SeqgenError(f"result row {i} has no 'run' label")
        run, t = str(row["run"]), row.get("temperature")
        if t is not None and not (_is_number(t) and math.isfinite(t)):
            raise SeqgenError(f"run {run!r}: temperature {t!r} is not a finite number or None")
        for key, v in row.items():
            if key not in _FIXED and v is not None and not _is_number(v):
                raise SeqgenError(
                    f"run {run!r}: metric {key!r} is {type(v).__name__}, expected a number or None"
                )
        ident = (run, None if t is None else float(t))
        if ident in seen:
            where = "without a temperature" if t is None else f"at temperature {t}"
            raise SeqgenError(f"two result rows for run {run!r} {where}")
        seen.add(ident)
    return rows


def _value(row: Row, key: str) -> float | None:
    v = row.get(key)
    return None if v is None or not math.isfinite(v) else float(v)


def best_indices(rows: Sequence[Row], key: str, direction: Direction | str = "auto") -> list[int]:
    """Indices of the rows holding the best value of `key` (all of them on a tie); [] when unranked.

    `direction` "auto" takes it from the registry. None and non-finite values never win. Ties are equal up
    to a relative 1e-12, so 0.4 and 0.6 tie under "half" although 0.5 - 0.4 and 0.6 - 0.5 differ in an ulp.
    """
    if direction == "auto":
        direction = metric(key).direction
    if direction is None:
        return []
    score = {"max": lambda v: -v, "min": lambda v: v, "half": lambda v: abs(v - 0.5)}[direction]
    scored = [(i, score(v)) for i, row in enumerate(rows) if (v := _value(row, key)) is not None]
    if not scored:
        return []
    top = min(s for _, s in scored)
    return [i for i, s in scored if math.isclose(s, top, rel_tol=1e-12, abs_tol=0.0)]


def _columns(rows: Sequence[Row], columns: Sequence[str] | None) -> list[str]:
    present = {k for row in rows for k, v in row.items() if v is not None and k not in _FIXED}
    if columns is None:
        unknown = dict.fromkeys(k for row in rows for k in row if k in present and k not in METRICS)
        chosen = [k for k in METRICS if k in present] + list(unknown)
        if not chosen:
            raise SeqgenError("nothing to compare: no row has any metric value")
        return chosen
    known = set(METRICS) | {k for row in rows for k in row}
    for c in columns:
        if c not in known:
            close = difflib.get_close_matches(c, sorted(known - set(_FIXED)), n=1)
            raise SeqgenError(f"unknown column {c!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    chosen = [c for c in dict.fromkeys(columns) if c in present]
    if not chosen:
        raise SeqgenError(f"no row has a value for any of the columns {', '.join(columns)}")
    return chosen


# ------------------------------------------------------------------------------------------ formatting


def format_number(v: float | int | None, digits: int = 4, missing: str = "–") -> str:
    """`digits` decimals; values that would round to 0 keep `digits` significant figures (1.234e-06)."""
    if v is None:
        return missing
    if isinstance(v, numbers.Integral):
        return str(int(v))
    v = float(v)
    if not math.isfinite(v):
        return str(v)  # nan, inf, -inf
    if v != 0 and abs(v) < 0.5 * 10.0**-digits:
        return f"{v:.{max(digits - 1, 0)}e}"
    return f"{v:.{digits}f}"


def format_temperature(t: float | None, missing: str = "–") -> str:
    """Short but exact enough to tell grid points apart: 0.7, 1.0, 1.25."""
    if t is None:
        return missing
    s = f"{float(t):g}"
    return s if any(c in s for c in ".en") else s + ".0"


def _csv_number(v: float | int | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if isinstance(v, numbers.Integral) else repr(float(v))  # repr round-trips exactly


def _text_lines(items: Iterable[str | None]) -> list[str]:
    return [line for item in items if item for line in str(item).splitlines() if line.strip()]


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "–": "--",
    "—": "---",
    "≈": r"$\approx$",
    "×": r"$\times$",
    "→": r"$\to$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


def latex_escape(text: str) -> str:
    """Escape every character LaTeX treats specially (one pass, so escapes are never escaped again)."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group()], str(text))


def _md_escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _definition_line(key: str) -> str:
    m = metric(key)
    if m.label != key:
        return f"{m.label} (`{key}`): {m.definition} ({m.direction_text})"
    return f"`{key}`: {m.definition} ({m.direction_text})"


# -------------------------------------------------------------------------------------------- tables


def format_table(
    rows: Iterable[Row],
    *,
    columns: Sequence[str] | None = None,
    fmt: str = "md",
    title: str | None = None,
    notes: Sequence[str] = (),
    digits: int = 4,
) -> str:
    """The comparison table as Markdown ("md"), "csv" or "latex", with the column definitions in its header.

    Columns: run, temperature, then the metrics in registry order (unknown keys after them) or `columns`;
    columns with no value in any row are dropped. The best value of each ranked column is bold (Markdown,
    LaTeX); a CSV keeps numbers numeric and ends with a row ``best,,run@T,...`` naming the winners (';' on a
    tie). Rows stay in the order given.
    """
    if fmt not in FORMATS:
        raise SeqgenError(f"unknown table format {fmt!r} (choose from {', '.join(FORMATS)})")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 15:
        raise SeqgenError(f"digits must be an integer from 0 to 15, not {digits!r}")
    rows = check_rows(rows)
    metrics = _columns(rows, columns)
    with_t = any(row.get("temperature") is not None for row in rows)
    best = {key: set(best_indices(rows, key)) for key in metrics}
    render = {"md": _markdown, "csv": _csv, "latex": _latex}[fmt]
    return render(rows, metrics, with_t, best, _text_lines([title]), _text_lines(notes), digits)


def write_table(path: str | Path, rows: Iterable[Row], *, fmt: str | None = None, **kwargs: Any) -> str:
    """Write `format_table(rows, ...)` to `path` atomically; `fmt` comes from the suffix (.md/.csv/.tex)."""
    path = Path(path)
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise SeqgenError(
                f"cannot tell the table format of {path} (use .md, .csv or .tex, or give a format)"
            )
    text = format_table(rows, fmt=fmt, **kwargs)
    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise SeqgenError(f"cannot write table {path}: {e.strerror or e}") from None
    return text


def _markdown(rows, metrics, with_t, best, title, notes, digits) -> str:
    lines = [f"**{t}**" for t in title]
    for note in notes:
        lines += ["", note]
    lines += ["", "Best value per ranked column in **bold**."]
    if with_t:
        lines.append("- T: sampling temperature (– = a temperature-free metric such as held-out NLL)")
    lines += [f"- {_definition_line(key)}" for key in metrics]
    header = (
        ["run"]
        + (["T"] if with_t else [])
        + [metric(k).label + _ARROWS["md"].get(metric(k).direction or "", "") for k in metrics]
    )
    align = [":---"] + (["---:"] if with_t else []) + ["---:"] * len(metrics)
    lines += ["", _md_row(header), _md_row(align)]
    for i, row in enumerate(rows):
        cells = [_md_escape(row["run"])]
        if with_t:
            cells.append(format_temperature(row.get("temperature"), MISSING["md"]))
        for key in metrics:
            text = format_number(row.get(key), digits, MISSING["md"])
            cells.append(f"**{text}**" if i in best[key] else text)
        lines.append(_md_row(cells))
    return "\n".join(lines).lstrip("\n") + "\n"


def _sentence(text: str) -> str:
    return text if text.rstrip()[-1:] in ".!?:" else text.rstrip() + "."


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _csv(rows, metrics, with_t, best, title, notes, digits) -> str:
    del digits  # CSV keeps full precision: it is for machines
    comments = [*title, *notes, "last row: the best run@temperature per ranked column (';' joins ties)"]
    comments += [_definition_line(key).replace("`", "") for key in metrics]
    out = io.StringIO()
    for line in comments:
        out.write(f"# {line}\n")
    fixed = ["run"] + (["temperature"] if with_t else [])
    table = [fixed + list(metrics)]
    for row in rows:
        cells = [str(row["run"])] + ([_csv_number(row.get("temperature"))] if with_t else [])
        table.append(cells + [_csv_number(row.get(key)) for key in metrics])
    winners = []
    for key in metrics:
        names = [_run_at(rows[i]) for i in sorted(best[key])]
        winners.append(";".join(names))
    table.append(["best"] + ([""] if with_t else []) + winners)
    for cells in table:
        # A field starting with '#' would make its line look like a comment: quote that line fully.
        quoting = csv.QUOTE_ALL if cells[0].startswith("#") else csv.QUOTE_MINIMAL
        csv.writer(out, lineterminator="\n", quoting=quoting).writerow(cells)
    return out.getvalue()


def _run_at(row: Row) -> str:
    t = row.get("temperature")
    return str(row["run"]) if t is None else f"{row['run']}@{_csv_number(t)}"


def _latex(rows, metrics, with_t, best, title, notes, digits) -> str:
    missing = MISSING["latex"]
    lines = [f"% {line}" for line in [*title, *notes]]  # comments are read as plain text: no escaping
    lines.append(
        r"% seqgen comparison table; needs \usepackage{booktabs}. Best value per ranked column in bold."
    )
    lines.append(
        r"% Too wide? Wrap the tabular in \resizebox{\linewidth}{!}{...} (graphicx), or pass fewer columns."
    )
    lines += [f"% {line}" for line in _text_lines(_definition_line(k).replace("`", "") for k in metrics)]
    caption = [_sentence(line) for line in [*title, *notes]] + ["Best value per ranked column in bold."]
    if with_t:
        caption.append("T: sampling temperature (-- = temperature-free metric).")
    caption += [f"{_definition_line(k).replace('`', '')}." for k in metrics]
    header = ["run"] + (["$T$"] if with_t else [])
    header += [
        latex_escape(metric(k).label) + _ARROWS["latex"].get(metric(k).direction or "", "") for k in metrics
    ]
    spec = "l" + ("r" if with_t else "") + "r" * len(metrics)
    lines += [
        r"\begin{table}[htbp]",
        r"  \centering",
        r"  \caption"
        + (f"[{{{latex_escape(title[0])}}}]" if title else "")
        + "{"
        + latex_escape(" ".join(caption))
        + "}",
        r"  \begin{tabular}{" + spec + "}",
        r"    \toprule",
        "    " + " & ".join(header) + r" \\",
        r"    \midrule",
    ]
    for i, row in enumerate(rows):
        cells = [latex_escape(row["run"])]
        if with_t:
            cells.append(format_temperature(row.get("temperature"), missing))
        for key in metrics:
            text = format_number(row.get(key), digits, missing)
            cells.append(rf"\textbf{{{text}}}" if i in best[key] else text)
        lines.append("    " + " & ".join(cells) + r" \\")
    lines += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- plots

Point = tuple[float | None, float, float]  # (temperature, x = diversity metric, y = quality metric)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h")  # 9 vs 10 colours: pairs repeat after 90


def quality_diversity_series(
    rows: Iterable[Row], *, quality: str = "bleu4", diversity: str = "self_bleu4"
) -> dict[str, list[Point]]:
    """Per run (in order of first appearance), its (temperature, diversity, quality) points sorted by
    temperature; rows without a temperature come last. Rows missing either metric are skipped; if no row
    has both, a one-line SeqgenError names the missing metric."""
    rows = check_rows(rows)
    series: dict[str, list[Point]] = {}
    for row in rows:
        x, y = _value(row, diversity), _value(row, quality)
        if x is not None and y is not None:
            t = row.get("temperature")
            series.setdefault(str(row["run"]), []).append((None if t is None else float(t), x, y))
    if not series:
        missing = [k for k in (quality, diversity) if all(_value(row, k) is None for row in rows)]
        if missing:
            raise SeqgenError(f"cannot plot: no result row has a value for {' or '.join(missing)}")
        raise SeqgenError(f"cannot plot: no result row has both {quality} and {diversity}")
    for points in series.values():
        points.sort(key=lambda p: (p[0] is None, p[0] or 0.0))
    return series


def _styles(rows: Sequence[Row]) -> dict[str, tuple[str, str]]:
    """A fixed colour and marker per run (order of first appearance), the same in every panel and plot;
    markers differ too, so curves stay apart in greyscale print."""
    from matplotlib import colormaps

    colors = colormaps["tab10"].colors
    runs = list(dict.fromkeys(str(row["run"]) for row in rows))
    return {run: (colors[i % len(colors)], _MARKERS[i % len(_MARKERS)]) for i, run in enumerate(runs)}


def _draw_curves(
    ax: Axes, series: dict[str, list[Point]], styles: dict, quality: str, diversity: str
) -> list[tuple[str, Point]]:
    """Plot the curves and axis labels; return the (run, point) pairs that need a temperature label."""
    labelled = []
    for run, points in series.items():
        color, marker = styles[run]
        swept = [p for p in points if p[0] is not None]
        loose = [p for p in points if p[0] is None]
        if swept:
            xs, ys = [p[1] for p in swept], [p[2] for p in swept]
            ax.plot(xs, ys, marker=marker, color=color, label=run, linewidth=1.6, markersize=6)
            labelled += [(run, p) for p in swept]
        if loose:  # measured without a temperature: a hollow marker, not part of the curve
            xs, ys = [p[1] for p in loose], [p[2] for p in loose]
            label = None if swept else run
            ax.plot(xs, ys, linestyle="none", marker=marker, markerfacecolor="none", color=color, label=label)
    ax.margins(0.08)  # room for the labels of points on the edge
    ax.set_xlabel(metric(diversity).axis_label)
    ax.set_ylabel(metric(quality).axis_label)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    return labelled


# Candidate label directions, in order of preference on a tie: right, above, left, below, then diagonals;
# each tried close to the marker first, then farther out.
_DIRECTIONS = [(1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, 1), (-1, -1), (1, -1)]
_GAPS_PT = (4.0, 9.0)
_LABEL_PT = 7.0
_CLEAR_PT = 3.0  # clearance beyond this is "clear enough": then preference order and nearness decide


def _rect_segment_distance(lo: Any, hi: Any, a: Any, b: Any) -> Any:
    """Distance from the rectangle [lo, hi] to each segment a[i]-b[i] (0 where they cross), in pixels."""
    import numpy as np

    d = b - a
    inside = (a >= lo) & (a <= hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - a) / d, (hi - a) / d
    # Liang-Barsky: the parameter interval of each segment inside both slabs of the rectangle
    t_in = np.where(d == 0, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2)).max(1)
    t_out = np.where(d == 0, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2)).min(1)
    crosses = np.maximum(t_in, 0.0) <= np.minimum(t_out, 1.0)
    corners = np.array([lo, hi, [lo[0], hi[1]], [hi[0], lo[1]]])
    denom = np.maximum((d**2).sum(1), 1e-12)
    t = np.clip(((corners[:, None, :] - a) * d).sum(2) / denom, 0.0, 1.0)
    to_corner = np.sqrt(((corners[:, None, :] - (a + t[..., None] * d)) ** 2).sum(2)).min(0)
    to_end = np.minimum(
        np.sqrt((np.maximum(np.maximum(lo - a, a - hi), 0) ** 2).sum(1)),
        np.sqrt((np.maximum(np.maximum(lo - b, b - hi), 0) ** 2).sum(1)),
    )
    return np.where(crosses, 0.0, np.minimum(to_corner, to_end))


def _label_points(fig: Figure, ax: Axes, labelled: list[tuple[str, Point]], styles: dict) -> None:
    """Write each point's temperature next to it, where it is clear of every curve, marker, earlier label
    and the legend, and inside the axes.

    Works in display pixels after a layout pass, so "clear" means clear on the page whatever the axis scales.
    A label is a box of its text's approximate size; candidates are 8 directions at two distances from the
    marker, scored by the box's distance to the nearest curve segment and earlier label (capped, so that
    among clear spots the nearest, preferred one wins).
    """
    import numpy as np
    from matplotlib.transforms import Bbox

    fig.draw_without_rendering()  # run the constrained layout so transData is final
    px = fig.dpi / 72.0
    a_list, b_list = [], []
    for line in ax.get_lines():
        xy = ax.transData.transform(np.column_stack(line.get_data()).astype(float))
        if len(xy) == 1 or line.get_linestyle() == "None":
            a_list.append(xy)
            b_list.append(xy)  # markers only: zero-length segments
        else:
            a_list.append(xy[:-1])
            b_list.append(xy[1:])
    a, b = np.vstack(a_list), np.vstack(b_list)
    markers = np.vstack(
        [ax.transData.transform(np.column_stack(ln.get_data()).astype(float)) for ln in ax.get_lines()]
    )
    line_px, marker_px = 1.0 * px, 3.5 * px  # half a line's width, half a marker's
    box = ax.get_window_extent()
    legend = ax.get_legend()
    legend_box = None
    if legend is not None:  # pin the place "best" chose, so the labels added now cannot move it
        legend_box = legend.get_window_extent()
        corner = ax.transAxes.inverted().transform((legend_box.x0, legend_box.y0))
        legend.set_loc(tuple(corner))
    placed: list[tuple[Any, Any]] = []  # (lo, hi) of each label box

    def score(lo: Any, hi: Any, gap: float, others: Any) -> float:
        clear = float(_rect_segment_distance(lo, hi, a, b).min()) - line_px
        if len(others):  # the label's own marker is `gap` away by construction
            clear = min(clear, float(_rect_segment_distance(lo, hi, others, others).min()) - marker_px)
        for plo, phi in placed:
            sep = np.max(np.maximum(plo - hi, lo - phi))  # > 0: apart by that much; <= 0: overlapping
            clear = min(clear, float(sep) if sep > 0 else 4 * float(sep) - 1)
        if lo[0] < box.x0 or lo[1] < box.y0 or hi[0] > box.x1 or hi[1] > box.y1:
            clear -= 1e6
        if legend_box is not None and legend_box.overlaps(Bbox([lo, hi])):
            clear -= 1e5
        return min(clear, _CLEAR_PT * px) - 0.6 * gap

    for run, (t, x, y) in labelled:
        text = format_temperature(t)
        half = np.array([0.31 * _LABEL_PT * len(text), 0.5 * _LABEL_PT]) * px
        anchor = ax.transData.transform((x, y))
        others = markers[np.abs(markers - anchor).max(1) > 0.5]
        candidates = []
        for g, gap_pt in enumerate(_GAPS_PT):
            for k, d in enumerate(_DIRECTIONS):
                centre = anchor + np.array(d) * (half + gap_pt * px)
                s = score(centre - half, centre + half, gap_pt * px, others)
                candidates.append((s, -g, -k, centre))
        centre = max(candidates, key=lambda c: c[:3])[3]
        placed.append((centre - half, centre + half))
        ax.annotate(
            text,
            (x, y),
            xytext=tuple((centre - anchor) / px),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize=_LABEL_PT,
            color=styles[run][0],
        )


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write `fig` to `path` (format from the suffix: .png, .pdf, .svg ...) via a temporary sibling file and
    os.replace, so a reader never sees half an image."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise SeqgenError(
            f"cannot write plot {path}: unknown image type {path.suffix!r} (use .png, .pdf or .svg)"
        )
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            fig.savefig(f, format=fmt, dpi=DPI)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise SeqgenError(f"cannot write plot {path}: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def plot_quality_diversity(
    rows: Iterable[Row],
    path: str | Path,
    *,
    quality: str = "bleu4",
    diversity: str = "self_bleu4",
    title: str | None = None,
) -> Figure:
    """One curve per run across temperatures: x = `diversity`, y = `quality`, points labelled with their
    temperature. Writes `path` (PNG at 150 dpi unless the suffix says otherwise) and returns the Figure."""
    rows = check_rows(rows)
    series = quality_diversity_series(rows, quality=quality, diversity=diversity)
    fig = _new_figure(6.4, 4.8)
    ax = fig.add_subplot()
    styles = _styles(rows)
    labelled = _draw_curves(ax, series, styles, quality, diversity)
    ax.legend(title="run (point labels: temperature)", fontsize=8, title_fontsize=8)
    ax.set_title(
        title or f"{metric(quality).label} vs {metric(diversity).label} across sampling temperatures",
        fontsize=10,
    )
    _label_points(fig, ax, labelled, styles)
    save_figure(fig, path)
    return fig


def plot_lm_scores(rows: Iterable[Row], path: str | Path, *, title: str | None = None) -> Figure:
    """LM score (quality) against reverse LM score (coverage), one curve per run across temperatures."""
    return plot_quality_diversity(
        rows,
        path,
        quality="lm_score",
        diversity="reverse_lm_score",
        title=title or "LM score vs reverse LM score across sampling temperatures",
    )


def plot_bleu_grid(
    rows: Iterable[Row], path: str | Path, *, orders: Sequence[int] = (2, 3, 4, 5), title: str | None = None
) -> Figure:
    """BLEU-n against Self-BLEU-n, one panel per order n that has data, one shared legend."""
    rows = check_rows(rows)
    panels = {}
    for n in orders:
        try:
            panels[n] = quality_diversity_series(rows, quality=f"bleu{n}", diversity=f"self_bleu{n}")
        except SeqgenError:
            continue
    if not panels:
        keys = ", ".join(f"bleu{n}/self_bleu{n}" for n in orders)
        raise SeqgenError(f"cannot plot: no result row has both metrics of any pair {keys}")
    cols = 1 if len(panels) == 1 else 2
    nrows = math.ceil(len(panels) / cols)
    fig = _new_figure(5.2 * cols, 4.2 * nrows + 0.6)
    styles = _styles(rows)
    labelled = {}
    for i, (n, series) in enumerate(panels.items()):
        ax = fig.add_subplot(nrows, cols, i + 1)
        labelled[ax] = _draw_curves(ax, series, styles, f"bleu{n}", f"self_bleu{n}")
        ax.set_title(f"n = {n}", fontsize=10)
    handles = {}
    for ax in fig.axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    legend_kw = dict(title="run (point labels: sampling temperature)", fontsize=9, title_fontsize=9)
    if len(panels) % 2 and len(panels) > 1:  # an empty cell at the bottom right: the legend goes there
        spare = fig.add_subplot(nrows, cols, len(panels) + 1)
        spare.axis("off")
        spare.legend(handles.values(), handles.keys(), loc="center", **legend_kw)
    else:
        lines = math.ceil(len(handles) / 5)
        ncols = math.ceil(len(handles) / lines)
        fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=ncols, **legend_kw)
    fig.suptitle(title or "Quality vs diversity across sampling temperatures", fontsize=12)
    for ax, points in labelled.items():
        _label_points(fig, ax, points, styles)
    save_figure(fig, path)
    return fig
