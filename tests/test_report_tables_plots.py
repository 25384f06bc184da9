"""Comparison tables and quality-diversity plots (seqgen/report/).

Best-value marking is checked against hand-picked winners for every direction (ties, None and NaN included);
each format is read back with an independent parser (the csv module; pipe and ampersand counts for Markdown
and LaTeX); plots are read back with matplotlib.image.imread and their Figures inspected.
"""

from __future__ import annotations

import csv
import math
import re
import sys
from pathlib import Path

import matplotlib.image
import pytest

from seqgen.errors import SeqgenError
from seqgen.report import (
    METRICS,
    Metric,
    best_indices,
    format_number,
    format_table,
    latex_escape,
    plot_bleu_grid,
    plot_lm_scores,
    plot_quality_diversity,
    quality_diversity_series,
    write_table,
)

TEMPS = (0.7, 0.8, 1.0, 1.2)


def sweep_rows(runs: tuple[str, ...] = ("mle", "ss", "bgan")) -> list[dict]:
    """Made-up but shaped like real sweeps: quality falls and diversity rises with the temperature."""
    rows = []
    for r, run in enumerate(runs):
        rows.append({"run": run, "temperature": None, "nll": 2.3 + 0.01 * r, "tokens": 1000})
        for t in reversed(TEMPS):  # deliberately unsorted: the plots sort by temperature
            row: dict = {"run": run, "temperature": t}
            for n in range(2, 6):
                row[f"bleu{n}"] = 0.9 - 0.3 * (t - 0.7) - 0.15 * (n - 2) + 0.02 * r
                row[f"self_bleu{n}"] = 0.95 - 0.35 * (t - 0.7) - 0.15 * (n - 2) + 0.015 * r
            row["lm_score"] = 2.0 + 0.9 * (t - 0.7) + 0.05 * r
            row["reverse_lm_score"] = 3.4 - 0.8 * (t - 0.7) + 0.04 * r
            rows.append(row)
    return rows


# Hand-built rows whose winners are known: ties in bleu4 (a@0.7, b@1.0), classifier accuracy 0.4 and 0.6 tie
# under "closest to 0.5", fed has a None and a NaN, nll lives only in the temperature-free rows.
ROWS = [
    {"run": "a", "temperature": None, "nll": 2.5, "tokens": 100},
    {
        "run": "a",
        "temperature": 0.7,
        "bleu4": 0.3,
        "self_bleu4": 0.9,
        "classifier_accuracy": 0.4,
        "fed": None,
    },
    {"run": "a", "temperature": 1.0, "bleu4": 0.2, "self_bleu4": 0.6, "classifier_accuracy": 0.7, "fed": 1.5},
    {"run": "b", "temperature": None, "nll": 2.25, "tokens": 100},
    {"run": "b", "temperature": 1.0, "bleu4": 0.3, "self_bleu4": 0.7, "classifier_accuracy": 0.6, "fed": 0.5},
    {
        "run": "b",
        "temperature": 1.2,
        "bleu4": 0.1,
        "self_bleu4": 0.8,
        "classifier_accuracy": 0.95,
        "fed": math.nan,
    },
]


# ---------------------------------------------------------------------------------------- best marking


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("bleu4", [1, 4]),  # max, tied
        ("self_bleu4", [2]),  # min
        ("classifier_accuracy", [1, 4]),  # closest to 0.5: 0.4 and 0.6 tie
        ("fed", [4]),  # None and NaN never win
        ("nll", [3]),  # only the temperature-free rows have it
        ("tokens", []),  # not ranked
        ("no_such_metric", []),  # unknown keys are not ranked
    ],
)
def test_best_indices_each_direction(key: str, expected: list[int]) -> None:
    assert best_indices(ROWS, key) == expected


def test_best_indices_explicit_direction_and_all_missing() -> None:
    rows = [{"run": "x", "temperature": 1.0, "m": v} for v in (0.5, -1.0, 3.0, 3.0)]
    assert best_indices(rows, "m", "max") == [2, 3]
    assert best_indices(rows, "m", "min") == [1]
    assert best_indices(rows, "m", "half") == [0]
    assert best_indices(rows, "m", None) == []
    assert best_indices([{"run": "x", "fed": None}, {"run": "y", "fed": math.nan}], "fed") == []


def test_registry_is_consistent() -> None:
    assert all(isinstance(m, Metric) and m.key == k for k, m in METRICS.items())
    assert {m.direction for m in METRICS.values()} <= {"max", "min", "half", None}
    for key in ("nll", "ppl", "bpc", "tokens", "sacrebleu", "lm_score", "reverse_lm_score", "fed", "mauve"):
        assert key in METRICS
    assert [k for k in METRICS if k.startswith("bleu")] == ["bleu2", "bleu3", "bleu4", "bleu5"]
    assert METRICS["self_bleu4"].axis_label == "Self-BLEU-4 (lower = more diverse)"
    assert METRICS["classifier_auc"].direction == "half" and METRICS["tokens"].direction is None


# ------------------------------------------------------------------------------------------- Markdown


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def _md_table(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    return lines, cells


def test_markdown_table_is_well_formed_and_marks_the_best() -> None:
    note = "BLEU tokenization: treebank (nltk word_tokenize, preserve_line=True)"
    text = format_table(ROWS, title="Sweep", notes=[note])
    lines, cells = _md_table(text)
    assert len({_unescaped_pipes(line) for line in lines}) == 1
    assert len(lines) == 2 + len(ROWS)
    header = cells[0]
    # registry order; self_bleu4 before classifier_accuracy before fed; tokens kept (unranked)
    assert header[:2] == ["run", "T"]
    assert [h.split(" ")[0] for h in header[2:]] == [
        "NLL",
        "tokens",
        "BLEU-4",
        "Self-BLEU-4",
        "classifier",
        "FED",
    ]
    body = cells[2:]
    bold = {(i, header[j]) for i, row in enumerate(body) for j, c in enumerate(row) if c.startswith("**")}
    col = {k: next(h for h in header if h.startswith(METRICS[k].label)) for k in ("nll", "bleu4", "fed")}
    assert (1, col["bleu4"]) in bold and (4, col["bleu4"]) in bold and (2, col["bleu4"]) not in bold
    assert (3, col["nll"]) in bold and (0, col["nll"]) not in bold
    assert (4, col["fed"]) in bold and body[1][header.index(col["fed"])] == "–"
    assert body[5][header.index(col["fed"])] == "nan"
    assert body[0][1] == "–" and body[1][1] == "0.7"
    assert not any(row[header.index("tokens")].startswith("**") for row in body)  # unranked
    # the header carries title, notes and one definition line per shown column
    above = text.split("| run")[0]
    assert above.startswith("**Sweep**") and note in above
    for key in ("nll", "tokens", "bleu4", "self_bleu4", "classifier_accuracy", "fed"):
        line = next(line for line in above.splitlines() if f"(`{key}`)" in line or f"`{key}`:" in line)
        assert line.startswith("- ") and METRICS[key].definition in line
        assert line.endswith(f"({METRICS[key].direction_text})")
    assert "`bleu4`): Texygen BLEU-4" in above and "(higher is better)" in above


def test_markdown_drops_empty_columns_and_shows_unknown_keys() -> None:
    rows = [
        {"run": "x|y", "temperature": 1.0, "bleu2": 0.5, "mauve": None, "my_metric": 7},
        {"run": "z", "temperature": 1.0, "bleu2": None, "mauve": None, "my_metric": 3},
    ]
    text = format_table(rows)
    lines, cells = _md_table(text)
    assert len({_unescaped_pipes(line) for line in lines}) == 1
    assert cells[0] == ["run", "T", "BLEU-2 ↑", "my_metric"]  # mauve dropped, unknown key last
    assert cells[2] == ["x\\|y", "1.0", "**0.5000**", "7"]  # unknown keys are not ranked
    assert "- `my_metric`: — (not ranked)" in text
    assert "MAUVE" not in text


def test_columns_argument_orders_and_validates() -> None:
    text = format_table(ROWS, columns=["fed", "bleu4", "mauve"])
    header = _md_table(text)[1][0]
    assert header == ["run", "T", "FED ↓", "BLEU-4 ↑"]
    with pytest.raises(SeqgenError, match="unknown column 'bleu44'.*'bleu4'"):
        format_table(ROWS, columns=["bleu44"])
    with pytest.raises(SeqgenError, match="no row has a value"):
        format_table(ROWS, columns=["mauve"])


def test_temperature_column_dropped_when_no_row_has_one() -> None:
    header = _md_table(format_table([{"run": "a", "nll": 1.0}, {"run": "b", "nll": 2.0}]))[1][0]
    assert header == ["run", "NLL ↓"]


# ------------------------------------------------------------------------------------------------ CSV


def _read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(line for line in text.splitlines() if not line.startswith("#")))


def test_csv_round_trip_with_best_row() -> None:
    rows = ROWS + [{"run": "c,d", "temperature": 0.7, "bleu4": 0.30000000000000004, "self_bleu4": 1e-9}]
    text = format_table(rows, fmt="csv", title="t", notes=["BLEU tokenization: treebank"])
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert "# t" in comments and "# BLEU tokenization: treebank" in comments
    assert any(line.startswith("# BLEU-4 (bleu4): Texygen BLEU-4") for line in comments)
    table = _read_csv(text)
    keys = ["nll", "tokens", "bleu4", "self_bleu4", "classifier_accuracy", "fed"]
    assert table[0] == ["run", "temperature", *keys]
    assert len(table) == 1 + len(rows) + 1
    for row, cells in zip(rows, table[1:-1], strict=True):
        assert cells[0] == row["run"]
        t = row["temperature"]
        assert (cells[1] == "") if t is None else float(cells[1]) == t
        for key, cell in zip(keys, cells[2:], strict=True):
            v = row.get(key)
            if v is None:
                assert cell == ""
            elif isinstance(v, float) and math.isnan(v):
                assert math.isnan(float(cell))
            else:
                assert float(cell) == v  # full precision, exactly
    assert table[1][keys.index("tokens") + 2] == "100"
    best = dict(zip(table[0], table[-1], strict=True))
    assert best["run"] == "best" and best["temperature"] == ""
    assert best["bleu4"] == "a@0.7;b@1.0;c,d@0.7"  # 0.30000000000000004 ties with 0.3 (float noise)
    assert best["self_bleu4"] == "c,d@0.7"
    assert best["classifier_accuracy"] == "a@0.7;b@1.0"
    assert best["fed"] == "b@1.0" and best["nll"] == "b" and best["tokens"] == ""


def test_csv_run_label_starting_with_hash_is_not_a_comment() -> None:
    table = _read_csv(format_table([{"run": "#1", "temperature": 1.0, "bleu2": 0.5}], fmt="csv"))
    assert table[1] == ["#1", "1.0", "0.5"]
    assert table[2] == ["best", "", "#1@1.0"]


# ---------------------------------------------------------------------------------------------- LaTeX


def test_latex_escape() -> None:
    text = r"50% of a_b & c#d {x} ~^ \ $1 x|y <z>"
    expected = (
        r"50\% of a\_b \& c\#d \{x\} \textasciitilde{}\textasciicircum{} \textbackslash{} \$1 "
        r"x\textbar{}y \textless{}z\textgreater{}"
    )
    assert latex_escape(text) == expected


def _unescaped(text: str, char: str) -> int:
    return len(re.findall(r"(?<!\\)" + re.escape(char), text))


def test_latex_table_structure() -> None:
    rows = [dict(r) for r in ROWS]
    rows[0]["run"] = "mle_10%&#1"
    text = format_table(rows, fmt="latex", title="Sweep_1 (50%)", notes=["BLEU tokenization: treebank"])
    lines = text.splitlines()
    body = [line for line in lines if not line.startswith("%")]
    assert body[0] == r"\begin{table}[htbp]" and body[-1] == r"\end{table}"
    for env in ("table", "tabular"):
        assert text.count(rf"\begin{{{env}}}") == 1 == text.count(rf"\end{{{env}}}")
    start = next(i for i, line in enumerate(body) if r"\begin{tabular}" in line)
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", body[start]).group(1)
    rules = [line.strip() for line in body if line.strip() in (r"\toprule", r"\midrule", r"\bottomrule")]
    assert rules == [r"\toprule", r"\midrule", r"\bottomrule"]
    table_rows = [line for line in body if line.rstrip().endswith(r"\\")]
    assert len(table_rows) == 1 + len(rows)
    assert {_unescaped(line, "&") for line in table_rows} == {len(spec) - 1}
    assert r"mle\_10\%\&\#1 &" in text
    assert r"\caption[{Sweep\_1 (50\%)}]{Sweep\_1 (50\%). BLEU tokenization: treebank. Best" in text
    assert lines[0] == "% Sweep_1 (50%)"  # comments stay plain text
    # nothing special left unescaped outside the LaTeX we emit ourselves
    for line in body:
        assert _unescaped(line, "%") == 0 and _unescaped(line, "#") == 0 and _unescaped(line, "_") == 0
        assert line.count("{") - line.count(r"\{") == line.count("}") - line.count(r"\}")
        assert _unescaped(line, "$") % 2 == 0
    assert all(line.startswith("% ") for line in lines[: lines.index(body[0])])
    assert r"\textbf{0.6000}" in text and r"--" in text


def test_latex_bold_count_matches_best_indices() -> None:
    text = format_table(ROWS, fmt="latex")
    ranked = ["nll", "bleu4", "self_bleu4", "classifier_accuracy", "fed"]
    assert text.count(r"\textbf{") == sum(len(best_indices(ROWS, k)) for k in ranked)


# --------------------------------------------------------------------------------------- small helpers


def test_format_number() -> None:
    assert format_number(0.73149) == "0.7315"
    assert format_number(12) == "12"
    assert format_number(None) == "–"
    assert format_number(1.234e-6) == "1.234e-06"  # would print as 0.0000
    assert format_number(0.0) == "0.0000"
    assert format_number(2.5, digits=2) == "2.50"


def test_bad_input_is_one_line_seqgen_error(tmp_path: Path) -> None:
    cases = [
        ([], "no result rows"),
        ([{"temperature": 1.0, "bleu2": 0.1}], "row 0 has no 'run'"),
        ([{"run": "a", "bleu2": "0.1"}], "metric 'bleu2' is str"),
        ([{"run": "a", "temperature": 1.0}, {"run": "a", "temperature": 1.0}], "two result rows for run 'a'"),
        ([{"run": "a", "temperature": "hot"}], "temperature 'hot'"),
    ]
    for rows, message in cases:
        with pytest.raises(SeqgenError, match=message) as err:
            format_table(rows)
        assert "\n" not in str(err.value)
    with pytest.raises(SeqgenError, match="digits must be an integer"):
        format_table(ROWS, digits=-1)
    with pytest.raises(SeqgenError, match="unknown table format 'html'"):
        format_table(ROWS, fmt="html")
    with pytest.raises(SeqgenError, match="cannot tell the table format"):
        write_table(tmp_path / "t.txt", ROWS)


def test_write_table_from_suffix(tmp_path: Path) -> None:
    for name, marker in (("t.md", "| run |"), ("t.csv", "run,temperature,"), ("t.tex", r"\begin{tabular}")):
        write_table(tmp_path / name, ROWS)
        assert marker in (tmp_path / name).read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.md", "t.tex"]


# ---------------------------------------------------------------------------------------------- plots


def test_series_sorted_by_temperature_skipping_incomplete_rows() -> None:
    rows = sweep_rows(("mle", "ss"))
    rows.append({"run": "half", "temperature": 1.0, "bleu4": 0.5})  # no self_bleu4: skipped
    rows[3]["self_bleu4"] = None
    series = quality_diversity_series(rows)
    assert list(series) == ["mle", "ss"]
    assert [p[0] for p in series["mle"]] == [0.7, 1.0, 1.2]  # 0.8 was the row made incomplete
    assert [p[0] for p in series["ss"]] == list(TEMPS)
    t, x, y = series["ss"][0]
    src = next(r for r in rows if r["run"] == "ss" and r["temperature"] == t)
    assert (x, y) == (src["self_bleu4"], src["bleu4"])


def test_nothing_plottable_names_the_missing_metric(tmp_path: Path) -> None:
    rows = [{"run": "a", "temperature": 1.0, "bleu4": 0.5}]
    with pytest.raises(SeqgenError, match="no result row has a value for self_bleu4$"):
        plot_quality_diversity(rows, tmp_path / "p.png")
    with pytest.raises(SeqgenError, match="reverse_lm_score"):
        plot_lm_scores(rows, tmp_path / "p.png")
    rows = [
        {"run": "a", "temperature": 1.0, "bleu4": 0.5},
        {"run": "a", "temperature": 0.7, "self_bleu4": 0.5},
    ]
    with pytest.raises(SeqgenError, match="both bleu4 and self_bleu4"):
        plot_quality_diversity(rows, tmp_path / "p.png")
    with pytest.raises(SeqgenError, match="bleu2/self_bleu2"):
        plot_bleu_grid([{"run": "a", "nll": 1.0}], tmp_path / "g.png")
    assert list(tmp_path.iterdir()) == []


def _legend_labels(fig) -> list[str]:
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 1
    return [t.get_text() for t in legends[0].get_texts()]


def test_quality_diversity_png(tmp_path: Path) -> None:
    rows = sweep_rows()
    assert rows[5]["run"] == "ss" and rows[5]["temperature"] is None
    rows[5].update(bleu4=0.5, self_bleu4=0.6)  # measured without a temperature: a hollow marker
    path = tmp_path / "plots" / "qd.png"
    fig = plot_quality_diversity(rows, path)
    image = matplotlib.image.imread(path)
    assert image.shape == (720, 960, 4)  # 6.4 x 4.8 in at 150 dpi
    assert image[..., :3].std() > 0.05  # not blank
    assert sorted(p.name for p in path.parent.iterdir()) == ["qd.png"]  # no temporary file left
    ax = fig.axes[0]
    assert _legend_labels(fig) == ["mle", "ss", "bgan"]  # one curve per run
    curves = [line for line in ax.get_lines() if line.get_linestyle() != "None"]
    assert len(curves) == 3 and all(len(line.get_xdata()) == len(TEMPS) for line in curves)
    # joined in temperature order: Self-BLEU falls as T rises in these rows
    assert all(list(line.get_xdata()) == sorted(line.get_xdata(), reverse=True) for line in curves)
    assert [t.get_text() for t in ax.texts] == ["0.7", "0.8", "1.0", "1.2"] * 3
    assert ax.get_xlabel() == "Self-BLEU-4 (lower = more diverse)"
    assert ax.get_ylabel() == "BLEU-4 (higher = closer to the references)"
    # temperature labels stay inside the axes and never overlap one another
    fig.draw_without_rendering()
    boxes = [t.get_window_extent() for t in ax.texts]
    inside = ax.get_window_extent()
    assert all(
        inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 and b.y1 <= inside.y1 for b in boxes
    )
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    legend_box = ax.get_legend().get_window_extent()
    assert not any(b.overlaps(legend_box) for b in boxes)
    plt = sys.modules.get("matplotlib.pyplot")
    assert plt is None or plt.get_fignums() == []  # no global pyplot state


def test_lm_scores_png_and_bleu_grid(tmp_path: Path) -> None:
    rows = sweep_rows(("mle", "bgan"))
    fig = plot_lm_scores(rows, tmp_path / "lm.png")
    assert matplotlib.image.imread(tmp_path / "lm.png").shape == (720, 960, 4)
    assert fig.axes[0].get_xlabel() == "reverse LM score (lower = better coverage)"
    assert fig.axes[0].get_ylabel() == "LM score (lower = more realistic)"
    assert _legend_labels(fig) == ["mle", "bgan"]

    fig = plot_bleu_grid(rows, tmp_path / "grid.png")
    assert matplotlib.image.imread(tmp_path / "grid.png").shape == (1350, 1560, 4)  # 2 x 2 panels
    panels = [ax for ax in fig.axes if ax.get_lines()]
    assert [ax.get_xlabel().split(" ")[0] for ax in panels] == [f"Self-BLEU-{n}" for n in range(2, 6)]
    assert all(len(ax.get_lines()) == 2 for ax in panels)
    assert _legend_labels(fig) == ["mle", "bgan"]
    # the same run has the same colour in every panel
    colours = {tuple(map(str, (ax.get_lines()[0].get_color(),))) for ax in panels}
    assert len(colours) == 1

    for row in rows:  # only BLEU-2 left: one panel
        for n in (3, 4, 5):
            row.pop(f"bleu{n}", None)
    fig = plot_bleu_grid(rows, tmp_path / "grid.svg")
    assert len([ax for ax in fig.axes if ax.get_lines()]) == 1
    assert (tmp_path / "grid.svg").read_text().lstrip().startswith("<?xml")


def test_unknown_image_suffix(tmp_path: Path) -> None:
    with pytest.raises(SeqgenError, match="unknown image type '.xyz'"):
        plot_quality_diversity(sweep_rows(), tmp_path / "p.xyz")


def test_rect_segment_distance_against_dense_sampling() -> None:
    """The label placer's geometry: exact rectangle-segment distance vs points sampled along the segments."""
    import numpy as np

    from seqgen.report import _rect_segment_distance

    rng = np.random.default_rng(0)
    for _ in range(200):
        lo = rng.uniform(-1, 1, 2)
        hi = lo + rng.uniform(0.01, 1, 2)
        a = rng.uniform(-2, 2, (6, 2))
        b = np.where(rng.random((6, 1)) < 0.2, a, rng.uniform(-2, 2, (6, 2)))  # some zero-length segments
        b[0] = [a[0, 0], b[0, 1]]  # a vertical one
        t = np.linspace(0, 1, 4001)[:, None, None]
        pts = a + t * (b - a)
        brute = np.sqrt((np.maximum(np.maximum(lo - pts, pts - hi), 0) ** 2).sum(-1)).min(0)
        np.testing.assert_allclose(_rect_segment_distance(lo, hi, a, b), brute, atol=2e-3)
