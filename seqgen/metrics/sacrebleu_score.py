"""sacrebleu corpus BLEU for *aligned* references (conditional generation: line i of the samples answers
line i of the references), with sacrebleu's signature string so the number can be reproduced exactly.

This is the machine-translation BLEU, not Texygen's: sacrebleu detokenizes nothing and tokenizes itself (13a
by default), so `--tokenize` does not apply; the signature says which tokenizer and smoothing were used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seqgen.errors import SeqgenError


def sacrebleu_corpus(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]] | Sequence[str], **bleu_args: Any
) -> dict[str, Any]:
    """{"sacrebleu": corpus BLEU (0-100), "sacrebleu_signature": ...} of `hypotheses` against one or more
    reference streams, each aligned line by line with the hypotheses. `bleu_args` go to sacrebleu's BLEU
    (e.g. tokenize="intl", lowercase=True)."""
    from sacrebleu.metrics import BLEU

    streams = [references] if references and isinstance(references[0], str) else list(references)
    if not streams:
        raise SeqgenError("sacrebleu needs at least one reference stream")
    for k, stream in enumerate(streams):
        if len(stream) != len(hypotheses):
            which = "references" if len(streams) == 1 else f"reference stream {k + 1}"
            raise SeqgenError(
                f"sacrebleu needs references aligned line by line with the samples: {len(hypotheses)} "
                f"samples but {len(stream)} lines in {which}"
            )
    try:
        metric = BLEU(**bleu_args)
    except (TypeError, ValueError, KeyError) as e:
        raise SeqgenError(f"invalid sacrebleu setting: {e}") from None
    score = metric.corpus_score(list(hypotheses), [list(s) for s in streams])
    return {"sacrebleu": score.score, "sacrebleu_signature": str(metric.get_signature())}
