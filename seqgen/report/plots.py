"""Quality-diversity plots for `seqgen compare` (DESIGN §6): one curve per run across sampling temperatures.

Objectives are compared as curves over sampling temperatures, not as single points (Caccia et al. 2020,
"Language GANs falling short"): lowering the temperature trades diversity for quality, so one model at one
temperature can beat another at another temperature on every single-number metric. The plots draw one curve
per run, quality against diversity, with every point labelled by its temperature.

Plots use matplotlib `Figure` objects with the Agg canvas directly, never pyplot, so no global figure state
survives a call, and are written atomically (temporary sibling file, then os.replace).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqgen.errors import SeqgenError
from seqgen.report.catalogue import metric
from seqgen.report.tables import Row, _value, check_rows, format_temperature

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

DPI = 150

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


def _curves_in_pixels(ax: Axes) -> tuple[Any, Any, Any]:
    """Every line of `ax` as segments a[i]-b[i] in display pixels, and the positions of all its markers."""
    import numpy as np

    a_list, b_list = [], []
    for line in ax.get_lines():
        xy = ax.transData.transform(np.column_stack(line.get_data()).astype(float))
        if len(xy) == 1 or line.get_linestyle() == "None":
            a_list.append(xy)
            b_list.append(xy)  # markers only: zero-length segments
        else:
            a_list.append(xy[:-1])
            b_list.append(xy[1:])
    markers = np.vstack(
        [ax.transData.transform(np.column_stack(ln.get_data()).astype(float)) for ln in ax.get_lines()]
    )
    return np.vstack(a_list), np.vstack(b_list), markers


def _pin_legend(ax: Axes) -> Bbox | None:
    """The legend's box in pixels (None without a legend), pinned to the place "best" chose, so the labels
    added now cannot move it."""
    legend = ax.get_legend()
    if legend is None:
        return None
    legend_box = legend.get_window_extent()
    corner = ax.transAxes.inverted().transform((legend_box.x0, legend_box.y0))
    legend.set_loc(tuple(corner))
    return legend_box


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
    a, b, markers = _curves_in_pixels(ax)
    line_px, marker_px = 1.0 * px, 3.5 * px  # half a line's width, half a marker's
    box = ax.get_window_extent()
    legend_box = _pin_legend(ax)
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
