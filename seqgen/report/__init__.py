"""Comparison tables (Markdown, CSV, LaTeX) and quality-diversity plots for `seqgen compare` (DESIGN §6).

- `catalogue`: what each metric means (label, definition, which direction is better);
- `tables`: rows of results formatted as md/csv/latex tables, the best value of each column marked;
- `plots`: one curve per run across sampling temperatures, quality against diversity, points labelled.

Everything is re-exported here, so ``from seqgen.report import format_table`` keeps working.
"""

from seqgen.report.catalogue import METRICS, Direction, Metric, metric
from seqgen.report.plots import (
    DPI,
    Point,
    plot_bleu_grid,
    plot_lm_scores,
    plot_quality_diversity,
    quality_diversity_series,
    save_figure,
)
from seqgen.report.plots import _rect_segment_distance as _rect_segment_distance  # tested on its own
from seqgen.report.tables import (
    FORMATS,
    MISSING,
    SUFFIX_FORMATS,
    Row,
    best_indices,
    check_rows,
    format_number,
    format_table,
    format_temperature,
    latex_escape,
    write_table,
)

__all__ = [
    "DPI",
    "FORMATS",
    "METRICS",
    "MISSING",
    "SUFFIX_FORMATS",
    "Direction",
    "Metric",
    "Point",
    "Row",
    "best_indices",
    "check_rows",
    "format_number",
    "format_table",
    "format_temperature",
    "latex_escape",
    "metric",
    "plot_bleu_grid",
    "plot_lm_scores",
    "plot_quality_diversity",
    "quality_diversity_series",
    "save_figure",
    "write_table",
]
