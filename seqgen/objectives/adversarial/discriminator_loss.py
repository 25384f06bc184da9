"""Discriminator losses (one per `adv.divergence`) and gradient penalties (DESIGN §5).

- gan: Huszar's class-balanced loss L = -pi E_P[log D] - (1-pi) E_Q[log(1-D)], D = sigmoid(V); optimum
  V* = log(pi p / ((1-pi) q)). pi = 0.5 is the standard GAN.
- kl, reverse_kl, hellinger, chi2: the f-GAN variational bound sup_T E_P[T] - E_Q[f*(T)] (Nowozin et al.
  2016) with T written through V so that the optimum is V* = log p/q (chi2: V* = 2 (p/q - 1)), as in BGAN
  (Hjelm et al. 2018): kl T = V + 1, reverse_kl T = -exp(-V), hellinger T = 1 - exp(-V/2), chi2 T = V.
  Constants are dropped; the losses are minimised.
- Penalties on the logit, through soft one-hot rows (B, L, V): GAN-GP at x^ = a x_real + (1-a) x_fake,
  a ~ U[0, 1] per row, and DRAGAN at x^ = x_real + c std(x_real) U[0, 1] (elementwise); both
  lambda E[(||grad V(x^)|| - 1)^2].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(
    v_real: torch.Tensor, v_fake: torch.Tensor, divergence: str, pi: float = 0.5
) -> torch.Tensor:
    """The loss of logits on real (B_r,) and fake (B_f,) rows, each term a mean over its rows."""
    v_real, v_fake = v_real.float(), v_fake.float()
    if divergence == "gan":
        # -log D = softplus(-V), -log(1 - D) = softplus(V): stable for any logit.
        return pi * F.softplus(-v_real).mean() + (1 - pi) * F.softplus(v_fake).mean()
    if divergence == "kl":
        return -v_real.mean() + v_fake.exp().mean()
    if divergence == "reverse_kl":
        return (-v_real).exp().mean() + v_fake.mean()
    if divergence == "hellinger":
        return (-v_real / 2).exp().mean() + (v_fake / 2).exp().mean()
    if divergence == "chi2":
        return -v_real.mean() + (v_fake * v_fake / 4 + v_fake).mean()
    raise ValueError(f"unknown divergence {divergence!r}")


def one_hot_rows(ids: torch.Tensor, vocab_size: int, length: int, pad_id: int) -> torch.Tensor:
    """(B, length, V) float one-hot rows of right-padded ids (padded with pad_id up to `length`)."""
    if ids.size(1) < length:
        ids = F.pad(ids, (0, length - ids.size(1)), value=pad_id)
    return F.one_hot(ids, vocab_size).float()


def gradient_penalty(
    disc: torch.nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    kind: str,
    pad_id: int,
    vocab_size: int,
    generator: torch.Generator | None = None,
    dragan_scale: float = 0.5,
) -> torch.Tensor:
    """E[(||grad_x V(x)|| - 1)^2] at GAN-GP interpolates (kind='gp') or DRAGAN-perturbed real rows.

    `real` and `fake` are id rows; the norm is over a whole row (L x V). The graph is kept, so the penalty
    trains the discriminator (double backward)."""
    length = max(real.size(1), fake.size(1))
    x_real = one_hot_rows(real, vocab_size, length, pad_id)
    if kind == "gp":
        n = min(real.size(0), fake.size(0))
        x_fake = one_hot_rows(fake[:n], vocab_size, length, pad_id)
        a = torch.rand(n, 1, 1, generator=generator, device=real.device)
        x = a * x_real[:n] + (1 - a) * x_fake
    elif kind == "dragan":
        noise = torch.rand(x_real.shape, generator=generator, device=real.device)
        x = x_real + dragan_scale * x_real.std() * noise
    else:
        raise ValueError(f"unknown penalty {kind!r}")
    x = x.detach().requires_grad_(True)
    v = disc(one_hot=x).logits
    (grad,) = torch.autograd.grad(v.sum(), x, create_graph=True)
    norms = grad.flatten(1).norm(dim=1)
    return ((norms - 1) ** 2).mean()
