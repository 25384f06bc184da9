"""SeqGAN's Monte-Carlo rollouts (Yu et al. 2017): a prefix is worth the mean reward of N completions."""

from __future__ import annotations

from collections.abc import Callable

import torch


@torch.no_grad()
def rollout_returns(
    fakes: torch.Tensor,
    *,
    start: int,
    final: torch.Tensor,
    rollouts: int,
    pad_id: int,
    complete: Callable[[torch.Tensor], torch.Tensor],
    reward: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """(n, T-1): for the target at token t of each row of `fakes`, the mean reward of `rollouts` completions
    of x_1..x_t (`complete(prefixes)` samples them, `reward(rows)` scores them); a row's last token gets
    `final`, the reward of the row itself. Tokens before `start` (BOS, a shared gold prefix) get 0."""
    n, length = fakes.shape
    q = torch.zeros(n, length - 1, device=fakes.device)
    ends = (fakes != pad_id).sum(1) - 1  # index of each row's last token
    for t in range(start, length):
        live = ends > t  # rows whose token t is not their last: they need rollouts
        if not bool(live.any()):
            continue
        rows = live.nonzero().squeeze(1)
        prefix = fakes[rows, 1 : t + 1].repeat_interleave(rollouts, dim=0)
        q[rows, t - 1] = reward(complete(prefix)).reshape(-1, rollouts).mean(1)
    q[torch.arange(n), ends - 1] = final
    return q
