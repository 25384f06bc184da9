"""Maximum likelihood with teacher forcing (DESIGN §5).

The loss is a *sum* over non-pad target tokens together with the token count, so that the loop can normalise
by the number of target tokens in the whole optimiser step — across micro-batches and processes — rather than
averaging micro-batch means (which would weight short batches more).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqgen.objectives.base import Objective


def token_nll_sum(
    model: torch.nn.Module, batch: torch.Tensor, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed next-token NLL (nats) of `batch` (B, T; BOS first, right-padded) and the number of targets."""
    inputs, targets = batch[:, :-1], batch[:, 1:]
    logits, _ = model(inputs)
    # fp32 log-softmax even under bf16 autocast: the loss is a sum over many tokens.
    nll = F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=pad_id, reduction="sum"
    )
    return nll, (targets != pad_id).sum()


class MaximumLikelihood(Objective):
    name = "mle"

    def loss_sum(
        self, generator: torch.nn.Module, batch: torch.Tensor, *, step: int, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        nll, count = token_nll_sum(generator, batch, self.pad_id)
        return nll, count, {}
