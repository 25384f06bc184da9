"""Which metrics `seqgen evaluate` knows, which it computes by default, how a list of names is read, and the
words `seqgen evaluate --help` and `seqgen compare --help` print."""

from __future__ import annotations

from collections.abc import Sequence

from seqgen.errors import SeqgenError

EVALUATE_HELP = (
    "seqgen evaluate RUN [--metrics ...] [--temperatures 0.8,1.0] [-o eval.json]\n"
    "seqgen evaluate --samples S.txt --references R.txt [--metrics bleu,self_bleu,sacrebleu]\n\n"
    "Run metrics: nll (held-out NLL/token, bits/char and NLL/word on --split; only bits/char and NLL/word\n"
    "  compare runs with different tokenizers), and per temperature on --num-samples samples:\n"
    "  bleu, self_bleu   Texygen BLEU-2..5 vs the split's sentences / Self-BLEU-2..5 vs other samples\n"
    "  lm                NLL/token of the samples under a reference LM trained on the real train split\n"
    "  reverse_lm        NLL/token on the split of a fresh LM trained on the samples\n"
    "  classifier        accuracy/AUC of a fresh discriminator telling samples from real sentences\n"
    "  oracle            valid-sample fraction and exact oracle NLL (oracle corpora only)\n"
    "  fed, mauve        Frechet embedding distance / MAUVE (needs --embedding-model)\n"
    "Default: nll,bleu,self_bleu (+ oracle on oracle corpora); 'all' = every metric but fed, mauve."
)
COMPARE_HELP = (
    "seqgen compare RUN [RUN ...] [--temperatures 0.7,0.8,1.0,1.2] [--format md|csv|latex] [-o FILE]\n\n"
    "Evaluates every run (a saved `seqgen evaluate -o` JSON file is used as it is) and prints one table per\n"
    "split, best value per column marked, plus PNG plots: BLEU-4 vs Self-BLEU-4 and LM score vs reverse LM\n"
    "score, one curve per run across temperatures."
)

# Metrics of a run. "nll" is the held-out likelihood; the others are computed on samples, per temperature.
RUN_METRICS = ("nll", "bleu", "self_bleu", "lm", "reverse_lm", "classifier", "oracle", "fed", "mauve")
SAMPLE_METRICS = tuple(m for m in RUN_METRICS if m != "nll")
DEFAULT_RUN_METRICS = ("nll", "bleu", "self_bleu", "oracle")  # cheap: no model is trained to compute them
ALL_METRICS = ("nll", "bleu", "self_bleu", "lm", "reverse_lm", "classifier", "oracle")  # --metrics all
TEXT_METRICS = ("bleu", "self_bleu", "sacrebleu")  # of a plain samples file


def parse_metrics(text: str | Sequence[str] | None, allowed: Sequence[str], default: Sequence[str]) -> tuple:
    """A metric list from 'a,b' (or 'all'); unknown names are one-line errors naming the choices."""
    if text is None:
        return tuple(default)
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    if names == ["all"]:
        return tuple(m for m in ALL_METRICS if m in allowed)
    if not names:
        raise SeqgenError(f"no metrics given; choose from {', '.join(allowed)} (or all)")
    for m in names:
        if m not in allowed:
            raise SeqgenError(f"unknown metric {m!r}; choose from {', '.join(allowed)} (or all)")
    return tuple(dict.fromkeys(names))


def run_metrics(metrics: Sequence[str] | str | None, *, stream: bool, oracle: bool) -> tuple[str, ...]:
    """The metrics asked for a run: the defaults that apply to it when none are given, and with 'all' every
    metric of ALL_METRICS that applies (a stream-mode run has only nll; oracle needs an oracle corpus)."""
    default = ("nll",) if stream else tuple(m for m in DEFAULT_RUN_METRICS if m != "oracle" or oracle)
    chosen = parse_metrics(metrics, RUN_METRICS, default)
    if isinstance(metrics, str) and metrics.strip() == "all":  # all that apply to this run
        chosen = ("nll",) if stream else tuple(m for m in chosen if m != "oracle" or oracle)
    return chosen
