"""The training objective as the trainer sees it: a loss over one micro-batch, in MLE's summed form.

Every objective returns this micro-batch's share of the step's loss, normalised by counts of the whole
optimiser step that the trainer passes in (`totals`): MLE and scheduled sampling divide their summed token
loss by the step's target tokens (DESIGN §5), adversarial objectives average over the step's sampled rows.
`ObjectiveModule` puts the generator and its loss behind one `forward`: Accelerate / DDP then see exactly one
forward per backward, even when the objective calls the generator many times (scheduled sampling's
token-by-token loop).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from seqgen.objectives.mle import token_nll_sum
from seqgen.run_folder import Config

LossFn = Callable[..., tuple[torch.Tensor, torch.Tensor, dict[str, float]]]


class Objective:
    """Maximum likelihood; subclasses change the loss and what is logged about their schedule."""

    name = "mle"

    def __init__(self, cfg: Config, pad_id: int) -> None:
        self.cfg, self.pad_id = cfg, pad_id

    def loss_sum(
        self, generator: torch.nn.Module, batch: torch.Tensor, *, step: int, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        nll, count = token_nll_sum(generator, batch, self.pad_id)
        return nll, count, {}

    def check_data(self, train_ids: Any, tokenizer: Any) -> None:
        """Refuse, before training starts, a training split this objective cannot use (default: none)."""

    def begin_step(
        self,
        generator: torch.nn.Module,
        batches: list[torch.Tensor],
        rngs: list[torch.Generator],
        *,
        step: int,
    ) -> None:
        """Called with every micro-batch of a step before their losses (and their random streams, which
        `loss` then continues): objectives that need the whole step first prepare it here."""

    def step_samples(self) -> list[torch.Tensor]:
        """The samples this step drew (one tensor per micro-batch), for the log and the discriminator."""
        return []

    def loss(
        self,
        generator: torch.nn.Module,
        batch: torch.Tensor,
        *,
        step: int,
        rng: torch.Generator,
        totals: dict[str, float],
        micro: int | None = None,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """This micro-batch's share of the step's loss: the summed token loss over the target tokens of the
        whole step (`totals["tokens"]`, all micro-batches on all processes; `totals["rows"]` counts rows)."""
        total, _, diag = self.loss_sum(generator, batch, step=step, rng=rng)
        return total / max(totals["tokens"], 1.0), diag

    def logged(self, step: int) -> dict[str, float]:
        """Values of the objective's own schedule at `step` (0-based), logged with the training metrics."""
        return {}

    def end_step(self) -> None:
        """Called after each optimiser step's generator update (baselines update here)."""

    def state(self) -> dict[str, Any]:
        """What a checkpoint must keep for a resumed run to continue exactly (JSON-able)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        pass


class ScheduledSampling(Objective):
    name = "scheduled_sampling"

    def p_gold(self, step: int) -> float:
        from seqgen.objectives.schedules import p_gold

        ss = self.cfg.ss
        return p_gold(ss.schedule, step, k=ss.k, c=ss.c, p_min=ss.p_min, value=ss.p_gold)

    def loss_sum(
        self, generator: torch.nn.Module, batch: torch.Tensor, *, step: int, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        from seqgen.objectives.scheduled_sampling import scheduled_sampling_loss_sum

        ss = self.cfg.ss
        return scheduled_sampling_loss_sum(
            generator,
            batch,
            self.pad_id,
            p_gold=self.p_gold(step),
            mode=ss.mode,
            mix=ss.mix,
            grad_through_both=ss.grad_through_both,
            generator=rng,
            max_len=self.cfg.data.max_len,
        )

    def logged(self, step: int) -> dict[str, float]:
        return {"p_gold": self.p_gold(step)}


OBJECTIVES: dict[str, type[Objective]] = {"mle": Objective, "scheduled_sampling": ScheduledSampling}


def build_objective(cfg: Config, pad_id: int) -> Objective:
    if cfg.objective == "adversarial":
        from seqgen.objectives.adversarial.objective import Adversarial

        return Adversarial(cfg, pad_id)
    return OBJECTIVES[cfg.objective](cfg, pad_id)


class ObjectiveModule(torch.nn.Module):
    """The generator and its objective as one module (what the trainer hands to Accelerate)."""

    def __init__(self, generator: torch.nn.Module, objective: Objective) -> None:
        super().__init__()
        self.generator = generator
        self.objective = objective

    def forward(
        self, batch: torch.Tensor, step: int, rng: torch.Generator, totals: dict[str, float], micro: int = 0
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        return self.objective.loss(self.generator, batch, step=step, rng=rng, totals=totals, micro=micro)
