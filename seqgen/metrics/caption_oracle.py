"""Sample metrics that only a known language allows: on the embedded caption language, P(x) is exact.

- valid_fraction: share of samples the language can generate (P(x) > 0);
- oracle_nll: -log P(x) under the language, in nats per token (EOS counted, as in held-out NLL), over the
  valid samples (an invalid sample has infinite NLL; its share is what valid_fraction reports);
- distinct_fraction: distinct samples / samples (mode collapse shows here first).
A model that matches the language has valid_fraction 1 and oracle_nll equal to the language's entropy rate,
`optimal_nll_per_token()`; a lower oracle NLL than that means samples concentrated on likely sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def caption_sample_metrics(samples: Sequence[str]) -> dict[str, float]:
    from seqgen.data.caption_language import caption_language

    lang = caption_language()
    logp = np.asarray(lang.log_probs(list(samples)), dtype=np.float64)
    valid = np.isfinite(logp)
    lengths = np.array([len(s.split()) + 1 for s in samples], dtype=np.float64)  # +1: the EOS
    n_valid = int(valid.sum())
    return {
        "num_samples": len(samples),
        "valid_fraction": n_valid / max(len(samples), 1),
        "oracle_nll": float(-logp[valid].sum() / lengths[valid].sum()) if n_valid else float("inf"),
        "oracle_optimal_nll": float(lang.optimal_nll_per_token()),
        "distinct_fraction": len(set(samples)) / max(len(samples), 1),
    }
