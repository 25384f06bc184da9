"""Evaluation: `seqgen evaluate` (a run folder, or a plain samples file) and `seqgen compare`.

- `run`: `evaluate_run`, the held-out likelihood and per-temperature sample metrics of a run folder;
- `heldout`: a run's held-out likelihood per token, per character and per word (counted on the text);
- `tokenizer_groups`: tokenizer identity, and which runs' NLL/token may be ranked together;
- `samples`: the sample metrics of one batch of a run's samples, and `evaluate_samples` for a samples file;
- `oracle`: the metrics only a known distribution allows (exact divergences, oracle NLL of samples);
- `metric_names`: which metrics exist, the defaults, and how `--metrics a,b` is read;
- `compare`: several runs or saved evaluations side by side, as tables and curves.

The metrics themselves are in `seqgen.metrics`; this package runs them on a run and records every setting
the numbers depend on. The public names are re-exported here.
"""

from seqgen.evaluation.compare import compare, load_evaluation, render
from seqgen.evaluation.metric_names import (
    ALL_METRICS,
    DEFAULT_RUN_METRICS,
    RUN_METRICS,
    SAMPLE_METRICS,
    TEXT_METRICS,
    parse_metrics,
)
from seqgen.evaluation.oracle import EXACT_KEYS, exact_divergences, oracle_sample_metrics
from seqgen.evaluation.run import evaluate_run
from seqgen.evaluation.samples import evaluate_samples

__all__ = [
    "ALL_METRICS",
    "DEFAULT_RUN_METRICS",
    "EXACT_KEYS",
    "RUN_METRICS",
    "SAMPLE_METRICS",
    "TEXT_METRICS",
    "compare",
    "evaluate_run",
    "evaluate_samples",
    "exact_divergences",
    "load_evaluation",
    "oracle_sample_metrics",
    "parse_metrics",
    "render",
]
