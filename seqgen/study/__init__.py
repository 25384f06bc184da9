"""`seqgen study`: the objectives compared on one corpus from one start, fairly (DESIGN §10).

spec.py reads a study spec; runner.py trains the base and every arm and evaluates them; report.py writes the
tables, plots and report.md. This module stays light (`import seqgen` imports it): its parts load when a study
runs.
"""

from __future__ import annotations

from pathlib import Path


def run(spec: str | Path, out: str | Path, *, scale: str = "cpu") -> list[Path]:
    """Run the study in `spec` at `scale` into `out` (run folders reused or resumed) and write out/report/;
    return the report files."""
    from seqgen.study.report import write_report
    from seqgen.study.runner import run_study

    s, outcomes = run_study(spec, out, scale=scale)
    return write_report(s, outcomes, Path(out))
