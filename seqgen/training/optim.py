"""AdamW with decoupled weight decay on matrices only, and linear warmup followed by cosine decay."""

from __future__ import annotations

import math

import torch

from seqgen.training.config import TrainConfig


def build_optimizer(model: torch.nn.Module, t: TrainConfig) -> torch.optim.Optimizer:
    # Decay weight matrices and embeddings; not biases or norm gains (GPT-2/nanoGPT practice). Tied weights
    # appear once in named_parameters, so they are never in two groups.
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=t.lr, betas=(t.beta1, t.beta2))


def lr_factor(step: int, t: TrainConfig) -> float:
    """Multiplier of train.lr before optimiser step `step` (0-based): warmup, then cosine to min_lr_ratio."""
    if t.warmup_steps and step < t.warmup_steps:
        return (step + 1) / t.warmup_steps
    if t.schedule == "constant":
        return 1.0
    span = max(t.max_steps - t.warmup_steps, 1)
    progress = min((step - t.warmup_steps) / span, 1.0)
    return t.min_lr_ratio + (1 - t.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, t: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, t))
