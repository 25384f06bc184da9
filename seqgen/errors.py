"""The one exception type for bad user input, and the settings base class whose checks raise it.

Anything a user can get wrong (a missing file, an unknown config key, a corrupt checkpoint, an impossible
setting) raises `SeqgenError` with a one-line message that names the problem. The CLI prints it as
``seqgen: error: <message>`` and exits with status 2; it never shows a traceback for these.

Settings are dataclasses that live beside the part they configure (`seqgen.models.config.ModelConfig`, ...)
and validate themselves in `__post_init__` (TRL style), so a value is checked once, wherever it comes from (a
recipe, the command line, Python), in the words of its config key: ``config key 'train.lr' must be positive``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar


class SeqgenError(Exception):
    """A user-facing error: bad input, bad configuration or a bad file. The message is one line."""


def setting(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """A settings field: its default, the help line `seqgen train --help` prints, and its allowed values."""
    meta: dict[str, Any] = {"help": help}
    if choices is not None:
        meta["choices"] = choices
    if isinstance(default, list | dict | set):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass
class Settings:
    """Base of the settings sections. `section` is the section's key prefix ("train", "data.oracle"); `check`
    holds the section's own rules and runs after construction."""

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value is not None and value not in choices:
                self.refuse(f.name, f"must be one of {', '.join(choices)}; got {value!r}")
        self.check()

    def check(self) -> None:
        """Rules of this section alone (override); cross-section rules live with the run config."""

    # ---------------------------------------------------------------- the words of every check
    def key(self, name: str) -> str:
        return f"{self.section}.{name}" if self.section else name

    def refuse(self, name: str, message: str) -> None:
        raise SeqgenError(f"config key '{self.key(name)}' {message}")

    def at_least(self, low: int | float, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if value < low:
                what = "must not be negative" if low == 0 else f"must be at least {low}"
                self.refuse(name, f"{what}, got {value}")

    def positive(self, *names: str) -> None:
        for name in names:
            if not getattr(self, name) > 0:
                self.refuse(name, f"must be positive, got {getattr(self, name)}")

    def within(
        self, name: str, low: float, high: float, *, high_open: bool = False, low_open: bool = False
    ) -> None:
        value = getattr(self, name)
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
        if not ok or (isinstance(value, float) and math.isnan(value)):
            interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            self.refuse(name, f"must be in {interval}, got {value}")


class TrainingStopped(SeqgenError):
    """A training step that cannot go on (a non-finite loss or update): `what` happened, `advice` says what to
    change. The loop adds which checkpoint is on disk before the user sees it."""

    def __init__(self, what: str, advice: str) -> None:
        self.what, self.advice = what, advice
        super().__init__(f"{what}; training stopped; {advice}")


def one_line(e: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): for one-line errors."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
