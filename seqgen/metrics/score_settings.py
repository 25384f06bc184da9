"""The recipes of the LM score's reference LM and of the reverse LM score's fresh LMs (`LMSettings`).

One `LMSettings` holds both:

- the **reference LM** (``kind`` ... ``seed``): trained once per corpus on the real training split and
  cached, so it can afford to be strong; its fields (and only those) key the cache;
- the **reverse LM** (``reverse_*``): trained afresh on the samples of every (run, temperature) cell, the
  evaluation's main cost, so it is smaller and stops sooner. Its seed is not a setting: the evaluation
  derives it from its own seed and records it. ``kind``, ``num_layers``, ``max_len``, ``min_freq`` and
  ``max_vocab`` are shared (both LMs use the one word tokenizer of the training split).

The reverse-LM defaults were chosen by measurement on COCO (1,000 sentences each: real training sentences, a
word LSTM's samples at T=1.0 and 0.7, shuffled-word sentences, 50 sentences x 20; seeds 1-3): they keep the
order real < LSTM T=1.0 < the degraded sets, the collapsed set worst, with per-seed differences to the real
set at least as stable as before, at about an eighth of the previous CPU time. The previous recipe (the
reference one, early-stopped on the whole validation split) always stopped at its first evaluation, step
100, and spent 400 more steps finding that out. The moving average of the weights (`reverse_ema`) and batches
of similar lengths (`reverse_length_bucket`) are what make the small recipe both cheap and steady.
`PREVIOUS_LM_SETTINGS` and `PREVIOUS_CLASSIFIER_SETTINGS` keep the previous recipes available (as `--lm` and
`--classifier` items: `previous_overrides()`). `ClassifierSettings`: the two-sample test's recipe (150 steps
give the AUCs of the previous 300 to within 0.003 on the same sets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from seqgen.errors import SeqgenError

POSITIVE = ("emb_dim", "hidden_dim", "num_layers", "batch_size", "max_steps", "eval_every", "patience")
REVERSE_PREFIX = "reverse_"
NOT_RECIPE_FIELDS = ("valid_sentences", "length_bucket", "ema")  # reverse_* fields fit_lm takes apart


@dataclass(frozen=True)
class LMSettings:
    """The reference LM's recipe (and the word tokenizer's), then the reverse LM's (`reverse_*`)."""

    kind: str = "lstm"
    emb_dim: int = 128
    hidden_dim: int = 256
    num_layers: int = 1
    dropout: float = 0.2
    batch_size: int = 64
    lr: float = 3e-3
    max_steps: int = 3000
    eval_every: int = 100
    patience: int = 4  # evaluations without a better validation NLL before stopping
    max_len: int = 64  # tokens per sentence incl. BOS/EOS; longer sentences keep BOS and the first max_len-1
    min_freq: int = 1
    max_vocab: int = 30000
    seed: int = 0
    # How the word tokenizer of both LMs splits a line: treebank detaches punctuation, so COCO's "at night."
    # (training split) and "at night ." (its other splits, and most samples) are the same words; whitespace
    # made "night." a word of its own and 40% of COCO's test sentences held an <unk>.
    split: str = "treebank"
    # The reverse LM, trained on each cell's samples (kind, num_layers, max_len and the vocabulary as above).
    reverse_emb_dim: int = 64
    reverse_hidden_dim: int = 128
    reverse_dropout: float = 0.2
    reverse_batch_size: int = 64
    reverse_lr: float = 6e-3
    reverse_max_steps: int = 400
    reverse_eval_every: int = 25
    reverse_patience: int = 1  # the weight average makes the validation curve smooth: stop at its first rise
    reverse_valid_sentences: int = 500  # early stopping on this many valid sentences, evenly spaced; 0 = all
    reverse_length_bucket: int = 8  # batches drawn this many at a time and regrouped by length; 1 = random
    reverse_ema: float = 0.95  # decay of the weights' moving average that is judged and kept; 0 = none

    def __post_init__(self) -> None:
        reverse = (*(REVERSE_PREFIX + n for n in POSITIVE if n != "num_layers"), "reverse_length_bucket")
        for name in (*POSITIVE, "min_freq", *reverse):
            if getattr(self, name) < 1:
                raise SeqgenError(f"LM score setting {name} must be at least 1, got {getattr(self, name)}")
        for prefix in ("", REVERSE_PREFIX):
            dropout, lr = getattr(self, prefix + "dropout"), getattr(self, prefix + "lr")
            if not 0 <= dropout < 1 or not lr > 0:
                raise SeqgenError(
                    f"LM score settings out of range: need 0 <= {prefix}dropout < 1, {prefix}lr > 0 "
                    f"(got {prefix}dropout={dropout}, {prefix}lr={lr})"
                )
        if not 0 <= self.reverse_ema < 1:
            raise SeqgenError(f"LM score setting reverse_ema must be in [0, 1), got {self.reverse_ema}")
        if self.max_vocab < 0 or self.seed < 0 or self.reverse_valid_sentences < 0:
            raise SeqgenError(
                "LM score settings out of range: need max_vocab >= 0, seed >= 0, "
                f"reverse_valid_sentences >= 0 (got max_vocab={self.max_vocab}, seed={self.seed}, "
                f"reverse_valid_sentences={self.reverse_valid_sentences})"
            )
        if self.max_len < 2:
            raise SeqgenError(f"LM score setting max_len must be at least 2, got {self.max_len}")
        if self.split not in ("whitespace", "treebank"):
            raise SeqgenError(f"LM score setting split must be whitespace or treebank, got {self.split!r}")
        if self.kind not in ("lstm", "gru", "transformer"):
            raise SeqgenError(f"LM score setting kind must be lstm, gru or transformer, got {self.kind!r}")

    def reference_fields(self) -> dict[str, Any]:
        """The reference LM's recipe (every field but reverse_*): what keys its cache and its info."""
        return {k: v for k, v in asdict(self).items() if not k.startswith(REVERSE_PREFIX)}

    def reverse_fields(self) -> dict[str, Any]:
        """The reverse LM's own settings (reverse_* fields, prefix dropped)."""
        n = len(REVERSE_PREFIX)
        return {k[n:]: v for k, v in asdict(self).items() if k.startswith(REVERSE_PREFIX)}

    def reverse_recipe(self, seed: int) -> LMSettings:
        """Settings whose main fields are the reverse LM's (what `fit_lm` reads), with `seed`."""
        own = {k: v for k, v in self.reverse_fields().items() if k not in NOT_RECIPE_FIELDS}
        return replace(self, **own, seed=seed)

    def describe_reverse(self, seed: int | None = None) -> str:
        """One line: the reverse LM's recipe, for settings and table headers."""
        r = self.reverse_fields()
        valid = r.pop("valid_sentences")
        text = (
            f"{self.kind} x{self.num_layers}, "
            + ", ".join(f"{k}={v}" for k, v in r.items())
            + f", early stopping on {valid or 'all'} valid sentences"
        )
        return text + (f", seed={seed}" if seed is not None else "")

    @classmethod
    def from_overrides(cls, items: Sequence[str], base: LMSettings | None = None) -> LMSettings:
        """Settings from KEY=VALUE strings (the CLI's --lm), each value converted to its field's type, on top
        of `base` (default: the defaults)."""
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for item in items:
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep:
                raise SeqgenError(f"--lm expects KEY=VALUE, got {item!r}")
            if key not in types:
                raise SeqgenError(f"unknown LM score setting {key!r}; choose from {', '.join(types)}")
            kind, noun = {"int": (int, "an integer"), "float": (float, "a number"), "str": (str, "text")}[
                str(types[key])
            ]
            try:
                values[key] = kind(text.strip())
            except ValueError:
                raise SeqgenError(f"LM score setting {key} needs {noun}, got {text!r}") from None
        return replace(base, **values) if base is not None else cls(**values)


@dataclass(frozen=True)
class ClassifierSettings:
    """The discriminator recipe of the evaluation's two-sample test (its keywords, see `as_kwargs`)."""

    kind: str = "cnn"
    steps: int = 150
    batch_size: int = 64
    lr: float = 1e-3
    emb_dim: int = 64
    hidden_dim: int = 64  # rnn and transformer only
    num_filters: int = 64  # cnn only

    def as_kwargs(self) -> dict[str, Any]:
        """Keywords of `classifier_two_sample_test` (the sizes go on to `build_discriminator`)."""
        return asdict(self)

    def describe(self, seed: int | None = None) -> str:
        """One line for settings and table headers."""
        text = ", ".join(f"{k}={v}" for k, v in asdict(self).items())
        return text + (f", seed={seed}" if seed is not None else "")


def lm_defaults_help() -> str:
    """The LM score defaults as KEY=VALUE text, for --help."""
    return ", ".join(f"{k}={v}" for k, v in asdict(LMSettings()).items())


def classifier_defaults_help() -> str:
    """The classifier defaults as KEY=VALUE text, for --help."""
    return ClassifierSettings().describe()


# The recipes before the reverse LM got its own: the reference recipe, early-stopped on the whole valid split
# (seeded with the reference LM's seed, 0, whatever the evaluation seed); the classifier trained 300 steps.
PREVIOUS_LM_SETTINGS = LMSettings(
    reverse_emb_dim=128,
    reverse_hidden_dim=256,
    reverse_dropout=0.2,
    reverse_batch_size=64,
    reverse_lr=3e-3,
    reverse_max_steps=3000,
    reverse_eval_every=100,
    reverse_patience=4,
    reverse_valid_sentences=0,
    reverse_length_bucket=1,
    reverse_ema=0.0,
)
PREVIOUS_CLASSIFIER_SETTINGS = ClassifierSettings(
    kind="cnn", steps=300, batch_size=64, lr=1e-3, emb_dim=64, hidden_dim=64, num_filters=64
)


def previous_overrides() -> tuple[list[str], list[str]]:
    """(`--lm` items, `--classifier` items) that give the previous recipes."""
    lm = [f"{k}={v}" for k, v in asdict(PREVIOUS_LM_SETTINGS).items() if v != getattr(LMSettings(), k)]
    clf = [f"{k}={v}" for k, v in asdict(PREVIOUS_CLASSIFIER_SETTINGS).items()]
    return lm, clf
