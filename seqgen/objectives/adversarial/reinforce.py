"""REINFORCE's baselines (DESIGN §5): leave-one-out over the group, an exponential moving average, or none.

The loss -(r - b) log Q(x | c) is unbiased for any b that does not depend on the sample it is used with. The
EMA tracks, per optimiser step and over all processes, logmeanexp over each group of log w (BGAN's REINFORCE,
reward=logit) or the mean reward; for per-token returns (dense rewards, rollouts) it is one value per
position, kept at a fixed width (max_len - 1) across batches.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from seqgen.objectives.adversarial.rewards import loo_baseline


class Baseline:
    def __init__(self, kind: str, *, group_size: int, decay: float, reward: str, max_len: int) -> None:
        self.kind, self.group_size, self.decay, self.reward, self.max_len = (
            kind,
            group_size,
            decay,
            reward,
            max_len,
        )
        self.ema: torch.Tensor | None = None  # a scalar, or one value per position
        self._stat_sum: torch.Tensor | None = None
        self._stat_count = 0

    def statistic(self, r: torch.Tensor) -> torch.Tensor:
        """The micro-batch statistic the EMA of sequence rewards `r` (n,) tracks."""
        if self.reward == "logit":
            g = r.reshape(-1, self.group_size)
            return (torch.logsumexp(g, dim=1) - math.log(self.group_size)).mean()
        return r.mean()

    def __call__(self, r: torch.Tensor, stat: torch.Tensor) -> torch.Tensor:
        """The baseline for rewards `r` (n,) or returns (n, T-1); `stat` is this micro-batch's EMA statistic
        (a scalar, or the mean return per position)."""
        if self.kind == "none":
            return torch.zeros_like(r)
        if self.kind == "loo":
            return loo_baseline(r, self.group_size)
        stat = stat.detach().double().cpu()
        if r.dim() == 2:  # per position: kept at a fixed width (max_len - 1) across batches
            stat = torch.nn.functional.pad(stat, (0, self.max_len - 1 - stat.numel()))
        self._stat_sum = stat if self._stat_sum is None else self._stat_sum + stat
        self._stat_count += 1
        value = stat if self.ema is None else self.ema  # first step: no history yet, the step's own value
        value = value.float().to(r.device)
        return value.expand_as(r) if r.dim() == 1 else value[None, : r.size(1)].expand_as(r)

    def end_step(self, accelerator: Any) -> None:
        """After a generator step: update the EMA with the step's statistic over all processes."""
        if self._stat_sum is None:
            return
        stat = self._stat_sum / self._stat_count
        if accelerator is not None and accelerator.num_processes > 1:
            stat = accelerator.reduce(stat.to(accelerator.device), reduction="mean")
        stat = stat.detach().double().cpu()
        self.ema = stat if self.ema is None else self.decay * self.ema + (1 - self.decay) * stat
        self._stat_sum, self._stat_count = None, 0

    def state(self) -> list[float] | float | None:
        return None if self.ema is None else self.ema.tolist()

    def load_state(self, ema: Any) -> None:
        self.ema = None if ema is None else torch.tensor(ema, dtype=torch.float64)
