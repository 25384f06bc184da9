"""BGAN's importance-weighted generator gradient (Hjelm et al. 2018) and MaliGAN's batch normalisation.

For M samples x_m of one conditioning, w~_m = softmax_m(log w(x_m)) (no gradient) and the loss is
-sum_m w~_m log Q(x_m | c), averaged over conditionings. Here that is written per row: coefficient c_m with
sum_rows c log Q / rows = the loss, so c = M w~ within a group. MaliGAN (Che et al. 2017) normalises the
same weights over the whole optimiser step instead of each group — all micro-batches of train.grad_accum on
all processes, so its gradient does not depend on how the step is split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from seqgen.objectives.adversarial.rewards import effective_sample_size, group_weights


@dataclass
class StepNormaliser:
    """MaliGAN's normaliser of one optimiser step: log sum of the weights, how many, their ESS."""

    log_norm: torch.Tensor
    rows: int
    ess: float

    @classmethod
    def of(cls, log_w: torch.Tensor, gather: Callable[[torch.Tensor], torch.Tensor]) -> StepNormaliser:
        """From this process's log-weights of the whole step; `gather` collects them from every process."""
        everything = gather(log_w)
        log_norm = torch.logsumexp(everything.double(), dim=0)
        w_all = (everything.double() - log_norm).exp()
        return cls(log_norm, everything.numel(), float(1.0 / (w_all * w_all).sum()))


def importance_coefficients(
    log_w: torch.Tensor,
    group_size: int,
    normalize: str,
    *,
    step: StepNormaliser | None,
    gather: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-row coefficients c with sum_rows c log Q / rows = the estimator's loss, the effective sample
    size) for log-weights `log_w` of one micro-batch."""
    if normalize == "group":
        w = group_weights(log_w, group_size)
        return w * group_size, effective_sample_size(w, group_size)
    if step is not None:  # MaliGAN over the whole step
        w = (log_w.double() - step.log_norm).exp().float()
        return w * step.rows, torch.tensor(step.ess)
    # Without a step-wide normaliser (a micro-batch scored on its own): one over it on every process.
    alone = StepNormaliser.of(log_w, gather)
    w = (log_w.double() - alone.log_norm).exp().float()
    return w * alone.rows, torch.tensor(alone.ess, dtype=torch.float32)
