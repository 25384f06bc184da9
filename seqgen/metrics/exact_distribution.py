"""A generator's exact distribution Q over an enumerable oracle's V^L sequences, and samples from the same Q.

The convention (see `model_distribution`): the model's next-token distribution is restricted to the oracle's
V symbol tokens (ids 4 .. 4 + V - 1, `seqgen.data.oracles.symbols`) and renormalised, so Q is a distribution
over exactly the oracle's sequences and divergences to P are exact sums (`seqgen.metrics.divergences`).
Used by the oracle metrics of `seqgen evaluate` and by objectives that need Q itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from seqgen.data.oracles.enumerable import EnumerableOracle
from seqgen.data.oracles.symbols import FIRST_SYMBOL_ID, index_to_sequences
from seqgen.errors import SeqgenError

if TYPE_CHECKING:  # annotations only: any module with the Generator interface will do
    from seqgen.models.generator import Generator


def symbol_logits_mask(vocab_size: int, num_symbols: int) -> torch.Tensor:
    """(vocab_size,) bool, True at the token ids of the oracle's symbols (4 .. 4 + num_symbols - 1).

    Sampling a model for oracle comparisons must use the same restriction as `model_distribution`: set the
    logits where the mask is False to -inf before the softmax.
    """
    if vocab_size < FIRST_SYMBOL_ID + num_symbols:
        raise SeqgenError(
            f"model vocabulary of {vocab_size} cannot hold the 4 special tokens and "
            f"{num_symbols} oracle symbols"
        )
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    mask[FIRST_SYMBOL_ID : FIRST_SYMBOL_ID + num_symbols] = True
    return mask


def _check_model(model: Generator, oracle: EnumerableOracle, temperature: float) -> None:
    symbol_logits_mask(model.vocab_size, oracle.vocab)
    limit = model.max_positions
    if limit is not None and limit < oracle.length:
        raise SeqgenError(
            f"the model's context of {limit} positions cannot hold BOS + {oracle.length - 1} symbols"
        )
    if not temperature > 0:
        raise SeqgenError(f"temperature must be > 0, got {temperature}")


@torch.no_grad()
def model_distribution(
    model: Generator, oracle: EnumerableOracle, *, batch_size: int = 4096, temperature: float = 1.0
) -> torch.Tensor:
    """Exact Q(x) of a seqgen `Generator` for every oracle sequence, (V^L,) float64 on CPU, lexicographic.

    Convention: the model reads [BOS, 4 + x_1, ..., 4 + x_{t-1}] and its next-token distribution is
    restricted to the V symbol tokens and renormalised (EOS, pad, unk and any other token masked out), so
    Q(x) = prod_t softmax(logits_t[symbols] / temperature)[x_t] and Q sums to 1 over the V^L sequences.
    Sample with the same restriction (`symbol_logits_mask`, `sample_model`) for sample-based metrics to agree
    with Q. `temperature` gives the exact distribution of temperature-T ancestral sampling.

    Cost: one teacher-forced pass per length-(L-1) prefix (V^(L-1) rows of L tokens), since the last
    position's logits give all V completions. Every conditional Q(. | x_<t) is taken from one row (the
    prefix followed by symbol 0s, whose first positions a causal model computes from the prefix alone), so
    Q is exactly a product of normalised conditionals and sums to 1 to float64 rounding. Runs with dropout
    off and restores the train/eval mode.
    """
    _check_model(model, oracle, temperature)
    if batch_size < 1:
        raise SeqgenError(f"batch_size must be at least 1, got {batch_size}")
    v, length = oracle.vocab, oracle.length
    device = model.device
    n_rows = v ** (length - 1)
    strides = [v ** (length - 1 - t) for t in range(length)]  # rows per prefix of length t
    cond = [torch.empty(n_rows // s, v, dtype=torch.float64) for s in strides]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, n_rows, batch_size):
            rows = torch.arange(start, min(start + batch_size, n_rows))
            ids = torch.empty(len(rows), length, dtype=torch.long)
            ids[:, 0] = model.bos_id
            ids[:, 1:] = FIRST_SYMBOL_ID + index_to_sequences(rows, v, length - 1)
            logits, _ = model(ids.to(device))
            symbol_logits = logits[..., FIRST_SYMBOL_ID : FIRST_SYMBOL_ID + v].double() / temperature
            logq = symbol_logits.log_softmax(dim=-1).cpu()
            for t, stride in enumerate(strides):
                pick = rows % stride == 0  # the row that speaks for its length-t prefix
                cond[t][rows[pick] // stride] = logq[pick, t]
    finally:
        model.train(was_training)
    logq_seq = torch.zeros(1, dtype=torch.float64)
    for table in cond:
        logq_seq = (logq_seq[:, None] + table).reshape(-1)
    return logq_seq.exp()


@torch.no_grad()
def sample_model(
    model: Generator,
    oracle: EnumerableOracle,
    n: int,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """`n` samples of L symbols from a Generator restricted to the symbol tokens (the `model_distribution`
    convention), (n, L) symbol indices on CPU; incremental (RNN state / KV cache). `generator` lives on the
    model's device."""
    _check_model(model, oracle, temperature)
    if not (isinstance(n, int) and n >= 1):
        raise SeqgenError(f"number of model samples must be an integer >= 1, got {n!r}")
    device = model.device
    v = oracle.vocab
    out = torch.empty(n, oracle.length, dtype=torch.long, device=device)
    tokens = torch.full((n, 1), model.bos_id, dtype=torch.long, device=device)
    state = None
    was_training = model.training
    model.eval()
    try:
        for t in range(oracle.length):
            logits, state = model(tokens, state, return_state=True)
            probs = (logits[:, -1, FIRST_SYMBOL_ID : FIRST_SYMBOL_ID + v].float() / temperature).softmax(-1)
            out[:, t] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            tokens = (FIRST_SYMBOL_ID + out[:, t]).unsqueeze(1)
    finally:
        model.train(was_training)
    return out.cpu()
