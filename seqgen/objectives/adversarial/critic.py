"""The learned discriminator of an adversarial run: its model, its Adam optimiser and its training step.

It is prepared by the run's Accelerator (DDP, devices, mixed precision) after the generator, so Accelerate's
`save_state` / `load_state` checkpoint both in a fixed order. Its real rows come from its own batch order over
the training split (seed + 1), its random streams from the run's (stream 1 + the draw's index), so a resumed
run draws exactly what an uninterrupted one does. Each update runs over `train.grad_accum` micro-batches: real
rows against the generator step's samples (the first of `adv.d_steps`) or fresh samples, with the loss of
`adv.divergence` plus the gradient penalty.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from seqgen.data.batch_order import BatchOrder
from seqgen.data.encoding import collate
from seqgen.errors import TrainingStopped
from seqgen.models.discriminator import SequenceDiscriminator, build_discriminator, save_discriminator
from seqgen.objectives.adversarial.config import AdversarialConfig, filter_widths
from seqgen.objectives.adversarial.discriminator_loss import discriminator_loss, gradient_penalty
from seqgen.objectives.base import TrainingContext

ADVICE = "try a lower adv.d_lr or a gradient penalty"


class DiscriminatorModule(torch.nn.Module):
    """The discriminator and its loss as one module: what Accelerate prepares (one forward per backward)."""

    def __init__(
        self, discriminator: SequenceDiscriminator, settings: AdversarialConfig, pad_id: int
    ) -> None:
        super().__init__()
        self.discriminator, self.settings, self.pad_id = discriminator, settings, pad_id

    def forward(
        self, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        a, disc = self.settings, self.discriminator
        v_real, v_fake = disc(real).logits, disc(fake).logits
        loss = discriminator_loss(v_real, v_fake, a.divergence, a.pi)
        diag = {
            "d_real": float(torch.sigmoid(v_real.detach()).mean()),
            "d_fake": float(torch.sigmoid(v_fake.detach()).mean()),
        }
        if a.penalty != "none":
            penalty = gradient_penalty(
                disc,
                real,
                fake,
                kind=a.penalty,
                pad_id=self.pad_id,
                vocab_size=disc.config.vocab_size,
                generator=rng,
                dragan_scale=a.dragan_scale,
            )
            loss = loss + a.penalty_weight * penalty
            diag["penalty"] = float(penalty.detach())
        diag["d_loss"] = float(loss.detach())
        return loss, diag


class Critic:
    """The discriminator being trained (see the module docstring)."""

    def __init__(self, settings: AdversarialConfig, ctx: TrainingContext, *, max_len: int) -> None:
        a, tok, acc = settings, ctx.tokenizer, ctx.accelerator
        self.settings, self.ctx, self.pad_id = settings, ctx, tok.pad_id
        disc = build_discriminator(
            a.discriminator,
            tok.vocab_size,
            tok.pad_id,
            emb_dim=a.d_emb_dim,
            hidden_dim=a.d_hidden_dim,
            num_layers=a.d_num_layers,
            filter_widths=filter_widths(a.d_filter_widths),
            num_filters=a.d_num_filters,
            num_heads=a.d_num_heads,
            max_len=max_len,
            dropout=a.d_dropout,
            seed=ctx.seed + 1,  # its own stream: the generator's initialisation is unchanged by it
        )
        optimizer = torch.optim.Adam(disc.parameters(), lr=a.d_lr, betas=(a.d_beta1, a.d_beta2))
        self.module, self.optimizer = acc.prepare(DiscriminatorModule(disc, a, tok.pad_id), optimizer)
        self.order = BatchOrder(len(ctx.train_ids), ctx.micro_batch, ctx.seed + 1)
        self.draws = 0  # micro-batches of real rows drawn so far (their order: `self.order`)

    @property
    def discriminator(self) -> SequenceDiscriminator:
        return self.ctx.accelerator.unwrap_model(self.module).discriminator

    @torch.no_grad()
    def score(self, ids: torch.Tensor, token_logits: bool = False) -> torch.Tensor:
        """Logits of rows `ids` (B,), or per-prefix logits (B, T) with `token_logits`, without dropout."""
        disc = self.discriminator
        was_training = disc.training
        disc.eval()  # rewards without dropout noise
        try:
            out = disc(ids, return_token_logits=token_logits)
        finally:
            disc.train(was_training)
        return (out.token_logits if token_logits else out.logits).float()

    def update(
        self,
        step: int,
        fakes: list[torch.Tensor] | None,
        sample: Callable[[int, torch.Generator], torch.Tensor],
    ) -> dict[str, float]:
        """One optimiser step: real rows against `fakes` (one tensor per micro-batch) or, when None, fresh
        samples `sample(n, rng)`. Stops the run (naming the step) on a non-finite loss or weights."""
        ctx = self.ctx
        acc, accum = ctx.accelerator, ctx.grad_accum
        diagnostics: dict[str, float] = {}
        loss_sum = torch.zeros((), device=acc.device)
        for j in range(accum):
            index = self.draws
            self.draws += 1
            rows = self.order.rows(index, acc.process_index, acc.num_processes)
            real = collate(ctx.train_ids[rows]["input_ids"], self.pad_id).to(acc.device)
            rng = ctx.rng(step, j, 1 + index)  # distinct per draw, also across d_steps of one step
            fake = fakes[j] if fakes is not None else sample(real.size(0), rng)
            sync = nullcontext() if j == accum - 1 else acc.no_sync(self.module)
            with sync:
                loss, diag = self.module(real, fake, rng)
                acc.backward(loss / accum)  # the mean over micro-batches (DDP averages over processes)
            loss_sum += loss.detach().float() / accum
            for k, v in diag.items():
                diagnostics[k] = diagnostics.get(k, 0.0) + v / accum
        if acc.num_processes > 1:
            loss_sum = acc.reduce(loss_sum, reduction="mean")
        value = float(loss_sum)
        if not math.isfinite(value):
            raise TrainingStopped(f"non-finite discriminator loss={value} at step {step + 1}", ADVICE)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if not bool(torch.stack([p.detach().isfinite().all() for p in self.module.parameters()]).all()):
            raise TrainingStopped(
                f"the discriminator update at step {step + 1} made its weights non-finite", ADVICE
            )
        diagnostics["d_loss"] = value
        return diagnostics

    def pretrain(self, sample: Callable[[int, torch.Generator], torch.Tensor]) -> None:
        """adv.d_pretrain_steps updates on fresh samples before the first generator step, with a bar."""
        n, ctx = self.settings.d_pretrain_steps, self.ctx
        bar = tqdm(range(n), desc="discriminator pre-training", disable=not ctx.progress or n == 0, **ctx.bar)
        for i in bar:
            m = self.update(0, None, sample)
            if (i + 1) % ctx.log_every == 0 or i + 1 == n:
                ctx.log(0, "d_pretrain", {"d_step": i + 1, **m})

    def trained_tensors(self) -> list[torch.Tensor]:
        opt = getattr(self.optimizer, "optimizer", self.optimizer)
        state = [v for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
        return [*self.module.parameters(), *state]

    def save(self, folder: Path) -> None:
        save_discriminator(self.discriminator, folder / "discriminator")

    def state(self) -> dict[str, Any]:
        return {"d_batches": self.draws}

    def load_state(self, state: dict[str, Any]) -> None:
        self.draws = int(state.get("d_batches", 0))
