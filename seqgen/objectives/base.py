"""The Objective interface: everything the training loop asks of a training objective (DESIGN §2, §4).

The loop calls, for one optimiser step: `begin_step` with every micro-batch of the step (objectives that need
the whole step first prepare it there), `loss` for each micro-batch inside the prepared module's forward (its
share of the step's loss, normalised by counts of the whole step: `totals`), `after_backward` once the
gradients are in, and `after_optimizer_step` once the update is applied (the adversarial objective trains its
discriminator there). Before the first step of a fresh run it calls `pretrain`; for checkpoints `state` /
`load_state` (JSON) and `save_models` (the objective's own models); for the finiteness guard
`trained_tensors`; for the log `logged` and `step_samples`. Objectives never import the loop: what they may
use of the run comes in a `TrainingContext` (`bind`).

`ObjectiveModule` puts the generator and its loss behind one `forward`: Accelerate / DDP then see exactly one
forward per backward, even when the objective calls the generator many times (scheduled sampling's
token-by-token loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch

if TYPE_CHECKING:
    from seqgen.tokenization import Tokenizer


@dataclass
class TrainingContext:
    """What an objective may use of the run it is trained in."""

    accelerator: Any  # accelerate.Accelerator: devices, processes, prepare(), gather/reduce
    tokenizer: Tokenizer  # special ids, decode
    train_ids: Any  # the training split: rows of token ids ("input_ids"), unformatted datasets.Dataset
    micro_batch: int  # sequences per micro-batch over all processes
    grad_accum: int
    seed: int
    # (step, micro-batch, stream) -> the run's random stream there: a function of those and the process only,
    # so a resumed run draws exactly what an uninterrupted one does.
    rng: Callable[[int, int, int], torch.Generator]
    log: Callable[[int, str, dict[str, Any]], None]  # (step, split, values) -> metrics.jsonl
    log_every: int
    progress: bool  # show progress bars (main process, train.progress)
    bar: dict[str, Any]  # tqdm options of the run's bars


class Objective:
    """A training objective (see the module docstring). Subclasses set `name` and implement `loss_sum` (a
    summed token loss, normalised here by the step's target tokens) or override `loss`."""

    name: ClassVar[str]
    # What RUN/generator keeps under train.keep=auto: the best validation NLL, or the last generator for
    # objectives whose aim is not likelihood.
    keep_default: ClassVar[str] = "best_valid"

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id
        self.ctx: TrainingContext | None = None
        self.samples_drawn = 0  # sequences sampled from the generator so far (logged; kept in checkpoints)

    # ------------------------------------------------------------------ wiring
    def bind(self, ctx: TrainingContext) -> None:
        """Called once by the loop before anything else; refuse here what this objective cannot train on."""
        self.ctx = ctx

    def pretrain(self, generator: torch.nn.Module) -> None:
        """Before the first step of a fresh run (not a resumed one)."""

    # ------------------------------------------------------------------ one optimiser step
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

    def loss_sum(
        self, generator: torch.nn.Module, batch: torch.Tensor, *, step: int, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """(summed token loss, target tokens, diagnostics) of one micro-batch."""
        raise NotImplementedError

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

    def after_backward(self) -> None:
        """Once every micro-batch's gradients are in (statistics of the step update here)."""

    def after_optimizer_step(self, generator: torch.nn.Module, *, step: int) -> dict[str, float]:
        """Once the generator's update is applied; returns diagnostics for the log."""
        return {}

    # ------------------------------------------------------------------ what the loop logs and saves
    def logged(self, step: int) -> dict[str, float]:
        """Values of the objective's own schedule at `step` (0-based), logged with the training metrics."""
        return {}

    def step_samples(self) -> list[torch.Tensor]:
        """The samples this step drew (one tensor per micro-batch), for the log."""
        return []

    def state(self) -> dict[str, Any]:
        """What a checkpoint must keep for a resumed run to continue exactly (JSON-able)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        pass

    def trained_tensors(self) -> list[torch.Tensor]:
        """Tensors this objective trains besides the generator (and their optimiser state): a checkpoint must
        never hold them non-finite."""
        return []

    def save_models(self, folder: Path) -> None:
        """Write the objective's own models into `folder` (a checkpoint or the run folder; main process)."""


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
