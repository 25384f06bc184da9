"""What a discriminator logit V(x) becomes in a generator's policy gradient (DESIGN §5).

- `log_weights`: BGAN's log importance weight log w(x), an estimate of log p(x)/q(x). For the pi-balanced
  logistic loss (divergence=gan) the optimal logit is V* = log(pi p / ((1-pi) q)), so log w = V -
  log(pi/(1-pi)) (a constant shift: the self-normalised weights do not see it, but rewards and diagnostics
  do). The f-divergence losses of `discriminator_loss` are parameterised so that V* = log p/q for kl,
  reverse_kl and hellinger, and V* = 2 (p/q - 1) for Pearson chi2, where w = V/2 + 1 (clipped at a small
  positive floor: an untrained chi2 discriminator can say "negative density ratio").
- `rewards`: logit (log w), non_saturating (log D) or minimax (-log(1 - D)), D = sigmoid(V). Minimax saturates
  where D confidently rejects (reward ~ 0 with no slope), non-saturating does not (Fedus et al. 2018).
- `group_weights`: w~ = softmax of log w over each group of M samples (BGAN) or over the whole batch
  (MaliGAN).
- `loo_baseline`, `discounted_returns`, `effective_sample_size`: the rest of the estimators' arithmetic. All
  of these run without gradient: the generator's gradient flows through log Q only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CHI2_FLOOR = 1e-6  # smallest chi2 weight V/2 + 1 (weights must be positive to take logs and normalise)


def log_weights(v: torch.Tensor, divergence: str, pi: float = 0.5) -> torch.Tensor:
    """log w(x) from discriminator logits `v` (any shape), an estimate of log p(x)/q(x)."""
    v = v.float()
    if divergence == "gan":
        return v - math.log(pi / (1.0 - pi))
    if divergence == "chi2":
        return (v / 2 + 1).clamp_min(CHI2_FLOOR).log()
    if divergence in ("kl", "reverse_kl", "hellinger"):
        return v
    raise ValueError(f"unknown divergence {divergence!r}")


def rewards(v: torch.Tensor, kind: str, divergence: str = "gan", pi: float = 0.5) -> torch.Tensor:
    """Per-sample (or per-token) rewards from logits `v`."""
    v = v.float()
    if kind == "logit":
        return log_weights(v, divergence, pi)
    if kind == "non_saturating":
        return F.logsigmoid(v)  # log D
    if kind == "minimax":
        return F.softplus(v)  # -log(1 - D) = log(1 + e^V)
    raise ValueError(f"unknown reward {kind!r}")


def group_weights(log_w: torch.Tensor, group_size: int) -> torch.Tensor:
    """Self-normalised weights: softmax of `log_w` (n,) within consecutive groups of `group_size`."""
    n = log_w.numel()
    return log_w.float().reshape(n // group_size, group_size).softmax(dim=1).reshape(n)


def effective_sample_size(weights: torch.Tensor, group_size: int) -> torch.Tensor:
    """Mean over groups of 1 / sum_m w~_m^2 for normalised weights (n,): M for equal weights, 1 for one."""
    w = weights.reshape(-1, group_size)
    return (1.0 / (w * w).sum(dim=1)).mean()


def loo_baseline(r: torch.Tensor, group_size: int) -> torch.Tensor:
    """Leave-one-out baseline: for each sample, the mean reward of the other M-1 samples of its group.

    `r` is (n,) or (n, T) (per-position rewards); the result has its shape. Independent of the sample it is
    used with, so the REINFORCE estimate stays unbiased."""
    shape = r.shape
    g = r.reshape(-1, group_size, *shape[1:])
    total = g.sum(dim=1, keepdim=True)
    return ((total - g) / (group_size - 1)).reshape(shape)


def discounted_returns(r: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """R_t = sum_{s >= t} gamma^(s-t) r_s over the positions where `mask` (n, T) is true; 0 elsewhere."""
    r = r * mask
    out = torch.zeros_like(r)
    running = torch.zeros_like(r[:, 0])
    for t in range(r.size(1) - 1, -1, -1):
        running = r[:, t] + gamma * running
        out[:, t] = running
    return out * mask
