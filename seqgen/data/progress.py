"""Show datasets' progress bars only for work big enough to be worth watching (1BW-sized corpora)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# Below these sizes a datasets map or load takes a blink; its bar would only clutter the training output.
MIN_ROWS = 200_000
MIN_BYTES = 20_000_000


@contextmanager
def datasets_progress(show: bool) -> Iterator[None]:
    import datasets

    hide = datasets.is_progress_bar_enabled() and not show
    if hide:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if hide:
            datasets.enable_progress_bars()
