"""What each metric seqgen reports means: its label, one-line definition and which direction is better.

Every metric is described once in `METRICS`, so a table always carries the definitions of its columns and a
plot axis says which way is better: DESIGN §6 asks every header to say exactly what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["max", "min", "half"] | None


@dataclass(frozen=True)
class Metric:
    """One reported metric. `direction`: "max"/"min" = higher/lower is better, "half" = closest to 0.5 is
    best (a two-sample classifier at chance), None = not ranked (a count, or a diagnostic). `axis_hint` says
    what the direction means on a plot axis ("lower = more diverse"); by default it is the direction."""

    key: str
    label: str
    definition: str
    direction: Direction
    axis_hint: str | None = None

    @property
    def direction_text(self) -> str:
        return {"max": "higher is better", "min": "lower is better", "half": "closest to 0.5 is best"}.get(
            self.direction or "", "not ranked"
        )

    @property
    def axis_label(self) -> str:
        hint = self.axis_hint or {"max": "higher = better", "min": "lower = better"}.get(self.direction or "")
        hint = hint or ("0.5 = indistinguishable" if self.direction == "half" else None)
        return f"{self.label} ({hint})" if hint else self.label


_BLEU = "nltk sentence_bleu, smoothing method1, uniform weights over 1..{n}-grams, mean over samples"
_EXACT = "by enumeration of the oracle's support; P = oracle, Q = model"

# Registry order is the default column order. Adding a metric is one line.
METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        # Per token: comparable only between runs sharing a tokenizer (compare ranks it within those only).
        Metric(
            "nll",
            "NLL",
            "held-out NLL in nats/token on the split (EOS included, pad excluded; = nll_token); ranked only "
            "among runs sharing a tokenizer",
            "min",
        ),
        Metric(
            "nll_token",
            "NLL/token",
            "held-out NLL in nats per target token (EOS included, pad excluded); same tokenizer only",
            "min",
        ),
        Metric("ppl", "PPL", "held-out perplexity, exp(NLL/token); same tokenizer only", "min"),
        # Per unit of text: comparable across tokenizers (counted on the split's text, not on tokens).
        Metric(
            "bits_per_char",
            "bits/char",
            "held-out total nats / (ln 2 x the split's characters, each line break = EOS = one character)",
            "min",
        ),
        Metric(
            "nll_word",
            "NLL/word",
            "held-out total nats / the split's whitespace words (EOS = one word per line)",
            "min",
        ),
        Metric("bpc", "BPC", "held-out bits per character of a char-level model (= bits_per_char)", "min"),
        Metric("tokens", "tokens", "target tokens in the held-out split (EOS included, pad excluded)", None),
        Metric("chars", "chars", "characters of the split's text the NLL covers (line breaks too)", None),
        Metric("words", "words", "whitespace words of the split's text the NLL covers (EOS too)", None),
        # Not ranked: a lower <unk> rate is a property of the tokenizer, not of the model.
        Metric("unk_fraction", "<unk>", "fraction of the split's text tokens that are <unk> (OOV)", None),
        *(
            Metric(
                f"bleu{n}",
                f"BLEU-{n}",
                f"Texygen BLEU-{n}: each sample vs the whole reference set ({_BLEU.format(n=n)})",
                "max",
                "higher = closer to the references",
            )
            for n in range(2, 6)
        ),
        *(
            Metric(
                f"self_bleu{n}",
                f"Self-BLEU-{n}",
                f"each sample vs all other samples, BLEU-{n} protocol",
                "min",
                "lower = more diverse",
            )
            for n in range(2, 6)
        ),
        Metric("sacrebleu", "sacreBLEU", "sacrebleu corpus BLEU (0-100) against aligned references", "max"),
        Metric(
            "lm_score",
            "LM score",
            "NLL/token of the samples under a reference LM trained by MLE on real training data",
            "min",
            "lower = more realistic",
        ),
        Metric(
            "reverse_lm_score",
            "reverse LM score",
            "NLL/token on real test data of a fresh LM trained on the samples",
            "min",
            "lower = better coverage",
        ),
        Metric(
            "classifier_accuracy",
            "classifier acc.",
            "test accuracy of a fresh real-vs-generated classifier (0.5 = indistinguishable)",
            "half",
        ),
        Metric(
            "classifier_auc",
            "classifier AUC",
            "test ROC AUC of that real-vs-generated classifier (0.5 = indistinguishable)",
            "half",
        ),
        Metric("fed", "FED", "Frechet distance between sentence embeddings of real text and samples", "min"),
        Metric(
            "mauve", "MAUVE", "MAUVE of sample vs real sentence embeddings (1 = same distribution)", "max"
        ),
        Metric(
            "valid_fraction", "valid", "fraction of samples with nonzero probability under the oracle", "max"
        ),
        Metric("oracle_nll", "oracle NLL", "exact NLL in nats/token of the samples under the oracle", "min"),
        Metric("distinct_fraction", "distinct", "fraction of samples that are distinct", "max"),
        Metric("kl_p_q", "KL(P||Q)", f"exact KL(P||Q) in nats, {_EXACT}", "min"),
        Metric("kl_q_p", "KL(Q||P)", f"exact KL(Q||P) in nats, {_EXACT}", "min"),
        Metric("js", "JS", f"exact Jensen-Shannon divergence JS_pi(P||Q) in nats, {_EXACT}", "min"),
        Metric("tv", "TV", f"exact total variation distance between P and Q, {_EXACT}", "min"),
        # Not ranked: being close to the product of marginals is the scheduled-sampling failure mode
        # (Huszar 2015), so neither direction is "better"; it is read next to KL(P||Q).
        Metric(
            "kl_q_product",
            "KL(Q||prod)",
            "exact KL(Q || product of P's marginals) (the scheduled-sampling p_gold = 0 optimum)",
            None,
        ),
        Metric(
            "kl_p_product",
            "KL(P||prod)",
            "exact KL(P || product of P's marginals): how much P's positions depend on each other",
            None,
        ),
        # The study's curve summaries (Caccia et al. 2020): each run's temperature curve interpolated to the
        # base run's point at T=1; "below" = worse quality at every diversity both curves cover.
        Metric(
            "matched_bleu4",
            "BLEU-4 @ base Self-BLEU-4",
            "BLEU-4 at the base run's Self-BLEU-4 (T=1), interpolated across temperatures",
            "max",
        ),
        Metric(
            "matched_self_bleu4",
            "Self-BLEU-4 @ base BLEU-4",
            "Self-BLEU-4 at the base run's BLEU-4 (T=1), interpolated across temperatures",
            "min",
        ),
        Metric(
            "below_base_bleu",
            "BLEU curve below base",
            "1: BLEU-4 below the base's at every Self-BLEU-4",
            None,
        ),
        Metric(
            "matched_lm_score",
            "LM score @ base rev. LM",
            "LM score at the base run's reverse LM score (T=1), interpolated across temperatures",
            "min",
        ),
        Metric(
            "matched_reverse_lm",
            "rev. LM @ base LM score",
            "reverse LM score at the base run's LM score (T=1), interpolated across temperatures",
            "min",
        ),
        Metric(
            "below_base_lm",
            "LM curve below base",
            "1: LM score worse than the base's at every reverse LM score",
            None,
        ),
        Metric("train_seconds", "train s", "wall time of the run's training, seconds (all starts)", None),
        Metric("samples_drawn", "samples drawn", "sequences the generator sampled during training", None),
    )
}

_ARROWS = {
    "md": {"max": " ↑", "min": " ↓", "half": " →0.5"},
    "latex": {"max": r" $\uparrow$", "min": r" $\downarrow$", "half": r" $\to 0.5$"},
}


def metric(key: str) -> Metric:
    """The registry entry for `key`; an unknown key gets an unranked entry with no definition."""
    return METRICS.get(key) or Metric(key, key, "—", None)


def _definition_line(key: str) -> str:
    m = metric(key)
    if m.label != key:
        return f"{m.label} (`{key}`): {m.definition} ({m.direction_text})"
    return f"`{key}`: {m.definition} ({m.direction_text})"
