"""Comparison tables for `seqgen compare` (DESIGN §6): Markdown, CSV and LaTeX, and the numbers in them.

A *row* is a dict: ``run`` (a label), ``temperature`` (the sampling temperature, or None for metrics that do
not depend on sampling, such as held-out NLL) and metric keys with a number or None. A table carries the
definitions of its columns (from the catalogue) and marks the best value of each ranked column.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import numbers
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from seqgen.atomic import atomic_write_text
from seqgen.errors import SeqgenError
from seqgen.report.catalogue import _ARROWS, METRICS, Direction, _definition_line, metric

Row = Mapping[str, Any]

FORMATS = ("md", "csv", "latex")
SUFFIX_FORMATS = {".md": "md", ".markdown": "md", ".csv": "csv", ".tex": "latex", ".latex": "latex"}
MISSING = {"md": "–", "latex": "--", "csv": ""}
_FIXED = ("run", "temperature")

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


def best_indices(
    rows: Sequence[Row],
    key: str,
    direction: Direction | str = "auto",
    groups: Sequence[Hashable | None] | None = None,
) -> list[int]:
    """Indices of the rows holding the best value of `key` (all of them on a tie); [] when unranked.

    `direction` "auto" takes it from the registry. None and non-finite values never win. Ties are equal up
    to a relative 1e-12, so 0.4 and 0.6 tie under "half" although 0.5 - 0.4 and 0.6 - 0.5 differ in an ulp.
    `groups` (one entry per row): rank only within each group, so each group has its best; a row whose
    group is None is never marked (values that must not be compared across groups, such as NLL per token
    across tokenizers).
    """
    if direction == "auto":
        direction = metric(key).direction
    if direction is None:
        return []
    score = {"max": lambda v: -v, "min": lambda v: v, "half": lambda v: abs(v - 0.5)}[direction]
    scored = [(i, score(v)) for i, row in enumerate(rows) if (v := _value(row, key)) is not None]
    if groups is not None:
        if len(groups) != len(rows):
            raise SeqgenError(f"{len(groups)} ranking groups for {len(rows)} rows of column {key!r}")
        by_group: dict[Hashable, list[tuple[int, float]]] = {}
        for i, s in scored:
            if groups[i] is not None:
                by_group.setdefault(groups[i], []).append((i, s))
        return sorted(i for members in by_group.values() for i in _top(members))
    return _top(scored)


def _top(scored: list[tuple[int, float]]) -> list[int]:
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


# -------------------------------------------------------------------------------------------- tables


def format_table(
    rows: Iterable[Row],
    *,
    columns: Sequence[str] | None = None,
    fmt: str = "md",
    title: str | None = None,
    notes: Sequence[str] = (),
    digits: int = 4,
    rank_within: Mapping[str, Sequence[Hashable | None]] | None = None,
) -> str:
    """The comparison table as Markdown ("md"), "csv" or "latex", with the column definitions in its header.

    Columns: run, temperature, then the metrics in registry order (unknown keys after them) or `columns`;
    columns with no value in any row are dropped. The best value of each ranked column is bold (Markdown,
    LaTeX); a CSV keeps numbers numeric and ends with a row ``best,,run@T,...`` naming the winners (';' on a
    tie). Rows stay in the order given. `rank_within` {column: one group per row}: that column's best is
    marked within each group only (see `best_indices`); say so in `notes`.
    """
    if fmt not in FORMATS:
        raise SeqgenError(f"unknown table format {fmt!r} (choose from {', '.join(FORMATS)})")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 15:
        raise SeqgenError(f"digits must be an integer from 0 to 15, not {digits!r}")
    rows = check_rows(rows)
    metrics = _columns(rows, columns)
    with_t = any(row.get("temperature") is not None for row in rows)
    within = rank_within or {}
    best = {key: set(best_indices(rows, key, groups=within.get(key))) for key in metrics}
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
