"""Held-out likelihood (DESIGN §6): NLL in nats per target token, perplexity, bits per character, NLL/word.

Targets are every token after BOS: EOS included, pad excluded. Sums are accumulated in float64 and, when an
Accelerator with several processes is given, reduced across processes (every rank must call this).
NLL per token compares only models with the same tokenizer; `per_unit` adds the units that compare across
tokenizers, given the characters and words of the text the targets stand for (seqgen.data.text_coverage).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from seqgen.data.encoding import collate
from seqgen.objectives.mle import token_nll_sum

PROGRESS_MIN_BATCHES = 200


@torch.no_grad()
def heldout_nll(
    model: torch.nn.Module,
    dataset: Any,
    *,
    pad_id: int,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    accelerator: Any = None,
    char_level: bool = False,
    by_length: bool = False,
    progress: bool = True,
) -> dict[str, float]:
    """NLL/token, perplexity and token count of `dataset` under `model` (and "bpc" = NLL / ln 2 when
    `char_level`). The arguments are those of `heldout_sums`."""
    nll_sum, tokens = heldout_sums(
        model,
        dataset,
        pad_id=pad_id,
        batch_size=batch_size,
        device=device,
        accelerator=accelerator,
        by_length=by_length,
        progress=progress,
    )
    nll = nll_sum / max(tokens, 1.0)
    out = {"nll": nll, "ppl": math.exp(min(nll, 700.0)), "tokens": int(tokens)}
    if char_level:
        out["bpc"] = nll / math.log(2)
    return out


@torch.no_grad()
def heldout_sums(
    model: torch.nn.Module,
    dataset: Any,
    *,
    pad_id: int,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    accelerator: Any = None,
    by_length: bool = False,
    progress: bool = True,
) -> tuple[float, int]:
    """(total NLL in nats, target tokens) of `dataset` under `model`.

    `dataset`: a Dataset with "input_ids", or a sequence of token rows. `by_length`: batch rows of similar
    length together (less padding; the sums then come in another order). `progress`: a bar for long splits.
    """
    was_training = model.training
    model.eval()
    rank, world = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
    ids = _rows(dataset)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i])) if by_length else None
    total = torch.zeros(2, dtype=torch.float64, device=device)
    starts = range(rank * batch_size, len(ids), batch_size * world)
    # A bar only when it is worth watching (One-Billion-Word-sized splits), and on one process.
    show = progress and len(starts) >= PROGRESS_MIN_BATCHES and rank == 0
    for start in tqdm(starts, desc="evaluate", disable=not show, leave=False):
        if order is None:
            rows = ids[start : start + batch_size]
        else:
            rows = [ids[i] for i in order[start : start + batch_size]]
        batch = collate(rows, pad_id).to(device)
        nll, n = token_nll_sum(model, batch, pad_id)
        total += torch.stack([nll.double(), n.double()])
    if accelerator is not None and world > 1:
        total = accelerator.reduce(total, reduction="sum")
    model.train(was_training)
    nll_sum, tokens = total.tolist()
    return nll_sum, int(tokens)


def per_unit(nats: float, tokens: int, chars: int, words: int) -> dict[str, float | int]:
    """The likelihood of `nats` in each unit: "nll_token" (nats per target token; "nll" is the same number),
    "ppl" = exp(nll_token), "bits_per_char" = nats / (ln 2 x chars) and "nll_word" = nats / words, with the
    counts. `chars` and `words` are those of the text the `tokens` stand for, line breaks (EOS) included.
    Computed as (nats / chars) / ln 2, so with chars == tokens (a char tokenizer) bits_per_char is exactly
    nll_token / ln 2. An empty count gives None."""
    nll = nats / max(tokens, 1)
    return {
        "nll": nll,
        "nll_token": nll,
        "ppl": math.exp(min(nll, 700.0)),
        "bits_per_char": nats / chars / math.log(2) if chars else None,
        "nll_word": nats / words if words else None,
        "tokens": int(tokens),
        "chars": int(chars),
        "words": int(words),
    }


def _rows(dataset: Any) -> Sequence[Sequence[int]]:
    """The token rows of a Dataset (its "input_ids"), or `dataset` itself when it already is rows."""
    if hasattr(dataset, "column_names"):  # a datasets.Dataset
        return dataset["input_ids"] if len(dataset) else []
    return dataset
