"""Progress bars of the evaluation's slow phases (reference LM, sampling, BLEU, LM scores, classifier).

A bar is shown only when it was asked for (``progress=True``, the default of `seqgen evaluate`/`compare`)
and stderr is a terminal: in a log file or a captured stream a bar would only add noise (the trainer redraws
rarely there; an evaluation phase lasts seconds, so it draws nothing at all). ``TQDM_DISABLE=1`` in the
environment also turns every bar off (tqdm reads it). Bars go to stderr and vanish when their phase ends
(``leave=False``), so a table printed on stdout stays clean.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm


def show_progress(progress: bool) -> bool:
    """Whether a bar is drawn: asked for, and stderr is a terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(progress) and callable(isatty) and bool(isatty())


def progress_bar(total: int | None, desc: str, *, progress: bool, unit: str = "it") -> Any:
    """A tqdm bar on stderr named `desc`, disabled unless `show_progress(progress)`."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not show_progress(progress),
        leave=False,
        mininterval=0.5,
        dynamic_ncols=True,
    )
