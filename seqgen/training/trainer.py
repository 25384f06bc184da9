"""The training loop on Accelerate: AdamW, warmup + cosine, clipping, accumulation, validation, checkpoints.

One optimiser step consumes `train.batch_size` sequences in total: `grad_accum` global micro-batches, each
split evenly over the processes. The loss of a step is the objective's (`seqgen.objectives.base.Objective`),
normalised by counts of the *whole step* on all processes (DESIGN §5), so 1 process x 4 micro-batches and 2
processes x 2 micro-batches compute the same gradient. Which rows form a batch is a function of (seed, step)
only (`BatchOrder`), so resuming from a checkpoint (`checkpoint.py`) — mid-epoch too — continues exactly as if
never stopped. The loop knows no objective by name: it calls the Objective interface only.
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from seqgen.data.encoding import unk_fraction
from seqgen.data.run_data import RunData
from seqgen.data.train_batches import train_batches
from seqgen.errors import SeqgenError, TrainingStopped
from seqgen.metrics.likelihood import heldout_nll
from seqgen.models import Generator
from seqgen.objectives import build_objective
from seqgen.objectives.base import ObjectiveModule, TrainingContext
from seqgen.run_folder import RunConfig, RunFolder, RunLock
from seqgen.training import checkpoint
from seqgen.training.accelerator import make_accelerator
from seqgen.training.checkpoint import Counters
from seqgen.training.finite import guarded_step, optimizer_tensors
from seqgen.training.init_from import config_from_run
from seqgen.training.metrics_log import MetricsLog
from seqgen.training.optim import build_optimizer, build_scheduler
from seqgen.training.oracle_trajectory import oracle_trajectory
from seqgen.training.run_start import (
    announce,
    initial_generator,
    oracle_of,
    run_info,
    training_data,
    write_samples,
)
from seqgen.training.streams import random_stream

# tqdm settings of the training bars. In a log file (not a terminal) a redraw is a new line: redraw rarely.
BAR = dict(mininterval=0.5 if sys.stderr.isatty() else 30.0, dynamic_ncols=True)
LR_ADVICE = "try a lower train.lr or train.on_nonfinite=skip"


@dataclass
class TrainResult:
    run: Path
    step: int
    train_loss: float
    valid: dict[str, float] | None
    best_valid_nll: float | None


class Trainer:
    """One training run: `Trainer(cfg).fit()`. The main process holds the run folder's lock from here until
    `fit` finishes (or fails), or until `close()`."""

    def __init__(self, cfg: RunConfig, data: RunData | None = None) -> None:
        # What a resumed run / a run started from another one really uses (its config.yaml records it).
        cfg = checkpoint.resumed_config(cfg) if cfg.resume else config_from_run(cfg) if cfg.init_from else cfg
        self.cfg, self.run, t = cfg, RunFolder(cfg.out), cfg.train
        self.accelerator, self.log_with = make_accelerator(t, self.run.path)
        self._lock: RunLock | None = None
        if self.accelerator.is_main_process:
            self._lock = self.run.open_for_training(resume=cfg.resume)
        try:
            self._setup(data)
        except BaseException:
            self.close(remove_if_new=True)
            raise

    def _setup(self, data: RunData | None) -> None:
        cfg, t, acc = self.cfg, self.cfg.train, self.accelerator
        if t.batch_size % (t.grad_accum * acc.num_processes):
            raise SeqgenError(
                f"train.batch_size={t.batch_size} is not divisible by train.grad_accum={t.grad_accum} x "
                f"{acc.num_processes} processes"
            )
        self.micro_global = t.micro_batch
        # A resumed folder killed before its first checkpoint starts again from step 0 (with its tokenizer).
        self.from_checkpoint = bool(cfg.resume and self.run.has_checkpoint())
        self._pretrained = False  # the objective's pre-training runs once, before the first step
        set_seed(t.seed)
        self.data = data or training_data(cfg, self.run, acc)
        self.tokenizer, self.max_len = self.data.tokenizer, cfg.data.max_len
        self.pad_id = self.tokenizer.pad_id
        streamed = cfg.data.streaming  # then train is the split's text, encoded as the stream is read
        splits = {"train": None if streamed else self.data.train, "valid": self.data.valid}
        self.unk = {k: unk_fraction(ds, self.tokenizer) for k, ds in splits.items() if ds is not None}
        generator = initial_generator(cfg, self.tokenizer)
        self._train_ids = None if streamed else self.data.train.with_format(None)
        rows = self.data.train if streamed else self._train_ids
        self.batches = train_batches(
            cfg.data, rows, self.tokenizer, micro_batch=self.micro_global, seed=t.seed
        )
        self.objective = build_objective(
            cfg.objective,
            ss=cfg.ss,
            adv=cfg.adv,
            pad_id=self.pad_id,
            max_len=self.max_len,
            oracle=oracle_of(cfg),
        )
        optimizer = build_optimizer(generator, t)
        scheduler = build_scheduler(optimizer, t)
        # The prepared model is generator + loss in one module: one forward per backward under DDP.
        self.model, self.optimizer, self.scheduler = acc.prepare(
            ObjectiveModule(generator, self.objective), optimizer, scheduler
        )
        self.objective.bind(self._context())  # after the generator: Accelerate's checkpoint order
        self.counters = checkpoint.load(self.run, acc, self.objective) if self.from_checkpoint else Counters()
        if not self.from_checkpoint and acc.is_main_process:
            info = run_info(self.data, self.tokenizer, self.unk, self.unwrapped, acc)
            self.run.write_start(cfg, self.tokenizer, info)
        acc.wait_for_everyone()
        # A resumed run drops what the interrupted one logged after its checkpoint; a new start, everything.
        self.log = MetricsLog(
            self.run.metrics_file, acc, keep_until=self.step if self.from_checkpoint else -1
        )
        self.trajectory = oracle_trajectory(cfg, acc)  # exact divergences to the oracle's P, when asked for
        if acc.is_main_process:
            announce(cfg, self.run, self.step, self.from_checkpoint, self.unk, self.tokenizer.kind)
        if self.log_with:  # project name: what TensorBoard names its folder, wandb/mlflow the run
            acc.init_trackers("tensorboard" if self.log_with == ["tensorboard"] else self.run.path.name)

    # ------------------------------------------------------------------------------------------ setup
    def _context(self) -> TrainingContext:
        acc, t = self.accelerator, self.cfg.train
        return TrainingContext(
            accelerator=acc,
            tokenizer=self.tokenizer,
            train_ids=self._train_ids,
            micro_batch=self.micro_global,
            grad_accum=t.grad_accum,
            seed=t.seed,
            rng=self._stream,
            log=lambda step, split, values: self.log.write(step, split, values),
            log_every=t.log_every,
            progress=t.progress and acc.is_main_process,
            bar=BAR,
        )

    def close(self, remove_if_new: bool = False) -> None:
        """Give up the run folder's lock (and, for a start that failed, the empty folder it made)."""
        if self._lock is not None:
            self._lock.release(remove_if_new=remove_if_new)
            self._lock = None

    # ------------------------------------------------------------------------------------ accessors
    @property
    def unwrapped(self) -> Generator:
        return self.accelerator.unwrap_model(self.model).generator

    @property
    def unwrapped_discriminator(self) -> Any:
        return getattr(self.objective, "discriminator", None)

    @property
    def step(self) -> int:
        return self.counters.step

    @step.setter
    def step(self, value: int) -> None:
        self.counters.step = value

    @property
    def keep(self) -> str:
        keep = self.cfg.train.keep
        return self.objective.keep_default if keep == "auto" else keep

    def checkpoint_note(self) -> str:
        return checkpoint.note(self.run)

    def _trained_tensors(self) -> list[torch.Tensor]:
        """The generator's parameters and its optimiser's state: never to be checkpointed non-finite."""
        return [*self.model.parameters(), *optimizer_tensors(self._inner_optimizer)]

    @property
    def _inner_optimizer(self) -> torch.optim.Optimizer:
        return getattr(self.optimizer, "optimizer", self.optimizer)  # under Accelerate's wrapper

    def save_checkpoint(self) -> None:
        checkpoint.save(
            self.run,
            self.accelerator,
            generator=self.unwrapped,
            tokenizer=self.tokenizer,
            objective=self.objective,
            counters=self.counters,
            tensors=[*self._trained_tensors(), *self.objective.trained_tensors()],
        )
        if self.accelerator.is_main_process:
            if self.data.valid is None:  # no validation split: the run's generator is the last one
                self.unwrapped.save(self.run.path / "generator", self.tokenizer)
            self.objective.save_models(self.run.path)  # the run's discriminator is the latest one

    # ------------------------------------------------------------------------------------------- loop
    def _micro_batches(self, step: int) -> list[torch.Tensor]:
        acc, accum = self.accelerator, self.cfg.train.grad_accum
        ks = range(step * accum, (step + 1) * accum)
        return [self.batches.micro_batch(k, acc.process_index, acc.num_processes) for k in ks]

    def accumulate_gradients(self) -> tuple[float, float, dict[str, float]]:
        """Forward and backward of every micro-batch of this step: (loss of the step over all processes,
        target tokens of the step, this process's mean diagnostics). Gradients are left in `.grad`."""
        acc, t = self.accelerator, self.cfg.train
        batches = [b.to(acc.device) for b in self._micro_batches(self.step)]
        counts = torch.tensor(
            [float(sum(int((b[:, 1:] != self.pad_id).sum()) for b in batches))], device=acc.device
        )
        global_tokens = (
            float(acc.reduce(counts, reduction="sum").item()) if acc.num_processes > 1 else counts.item()
        )
        totals = {"tokens": max(global_tokens, 1.0), "rows": float(t.batch_size)}
        rngs = [self._stream(self.step, j, 0) for j in range(len(batches))]
        self.objective.begin_step(self.unwrapped, batches, rngs, step=self.step)
        loss_sum = torch.zeros((), device=acc.device)
        diagnostics: dict[str, float] = {}
        for j, batch in enumerate(batches):
            sync = nullcontext() if j == len(batches) - 1 else acc.no_sync(self.model)
            with sync:
                loss_j, diag = self.model(batch, self.step, rngs[j], totals, j)
                # DDP averages gradients over processes; the process count turns that into a sum.
                acc.backward(loss_j * acc.num_processes)
            loss_sum += loss_j.detach().float()
            for k, v in diag.items():  # this process's mean over its micro-batches
                diagnostics[k] = diagnostics.get(k, 0.0) + v / len(batches)
        if acc.num_processes > 1:
            loss_sum = acc.reduce(loss_sum, reduction="sum")
        return loss_sum.item(), global_tokens, diagnostics

    def train_step(self) -> dict[str, float]:
        t = self.cfg.train
        loss, global_tokens, diagnostics = self.accumulate_gradients()
        self.objective.after_backward()
        grad_norm = self._clip()
        skipped = {"loss": loss, "skipped": 1.0, "tokens": global_tokens}
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            if t.on_nonfinite == "stop":
                what = f"loss={loss}" if not math.isfinite(loss) else f"gradient norm={grad_norm}"
                raise TrainingStopped(f"non-finite {what} at step {self.step + 1}", LR_ADVICE)
            self.optimizer.zero_grad(set_to_none=True)
            return skipped
        if not self._update(t.on_nonfinite == "skip"):
            if t.on_nonfinite == "stop":
                raise TrainingStopped(
                    f"the update of step {self.step + 1} made the generator's weights non-finite (loss "
                    f"{loss:.4g}, gradient norm {grad_norm:.4g})",
                    LR_ADVICE,
                )
            return skipped
        self.scheduler.step()
        diagnostics.update(self.objective.after_optimizer_step(self.unwrapped, step=self.step))
        return {
            "loss": loss,
            "grad_norm": grad_norm,
            "tokens": global_tokens,
            **self.objective.logged(self.step),
            **diagnostics,
        }

    def _update(self, undo_if_nonfinite: bool) -> bool:
        return guarded_step(
            self.optimizer, self._inner_optimizer, list(self.model.parameters()), undo=undo_if_nonfinite
        )

    def _stream(self, step: int, micro: int, stream: int = 0) -> torch.Generator:
        acc = self.accelerator
        return random_stream(self.cfg.train.seed, step, micro, acc.process_index, stream, acc.device)

    def _clip(self) -> float:
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.cfg.train.grad_clip > 0:
            return float(self.accelerator.clip_grad_norm_(params, self.cfg.train.grad_clip))
        return float(torch.linalg.vector_norm(torch.stack([p.grad.detach().norm() for p in params])))

    # ------------------------------------------------------------------------------------- validation
    def validate(self) -> dict[str, float] | None:
        if self.data.valid is None:
            return None
        return heldout_nll(
            self.unwrapped,  # no gradient here: the DDP wrapper is not needed, each rank scores its share
            self.data.valid,
            pad_id=self.pad_id,
            batch_size=self.micro_global,
            device=self.accelerator.device,
            accelerator=self.accelerator,
            char_level=getattr(self.tokenizer, "is_char_level", False),
        )

    def _log_training_samples(self) -> None:
        """A few of the step's samples (adversarial runs: what the discriminator just judged) in the log."""
        fakes, n = self.objective.step_samples(), self.cfg.train.num_samples
        if fakes and n > 0:
            self.log.write(
                self.step, "samples", {"texts": [self.tokenizer.decode(r) for r in fakes[0][:n].tolist()]}
            )

    def _evaluate_and_keep_best(self) -> dict[str, float] | None:
        acc, c = self.accelerator, self.counters
        valid = self.validate()
        if valid is not None:
            self.log.write(self.step, "valid", valid)
            if c.best_valid is None or valid["nll"] < c.best_valid:
                c.best_valid = valid["nll"]
                if acc.is_main_process and self.keep == "best_valid":
                    self.unwrapped.save(self.run.path / "generator", self.tokenizer)
            if acc.is_main_process and self.keep == "last":
                self.unwrapped.save(self.run.path / "generator", self.tokenizer)
        if acc.is_main_process and self.cfg.train.num_samples > 0:
            write_samples(self.run, self.unwrapped, self.tokenizer, self.cfg, step=self.step)
        acc.wait_for_everyone()
        return valid

    def fit(self, stop_after: int | None = None) -> TrainResult:
        """Train to `train.max_steps`; `stop_after` ends early after that many steps (as an interruption).

        The run folder's lock is released when training ends or fails, and kept after `stop_after`."""
        try:
            result = self._fit(stop_after)
        except BaseException as e:
            self.close()
            told = checkpoint.explain_stop(e, self.run, self.step)
            if told is None:
                raise
            raise told from None
        if self.step >= self.cfg.train.max_steps:
            self.close()
        return result

    def _fit(self, stop_after: int | None) -> TrainResult:
        """The loop itself: steps, logs, validation and checkpoints at their intervals."""
        t, acc = self.cfg.train, self.accelerator
        self.model.train()
        show = t.progress and acc.is_main_process
        bar = tqdm(total=t.max_steps, initial=self.step, desc="train", disable=not show, **BAR)
        valid, loss, window_tokens, window_start = None, float("nan"), 0.0, time.perf_counter()
        if self.step == 0 and not self.from_checkpoint and not self._pretrained:
            self.objective.pretrain(self.unwrapped)  # e.g. the discriminator, before the first step
            self._pretrained = True
            self.trajectory(self.step, self.unwrapped, self.log)  # a trajectory starts before the first step
        steps_done = 0
        while self.step < t.max_steps:
            m = self.train_step()
            self.step += 1
            steps_done += 1
            self.counters.tokens_seen += int(m["tokens"])
            window_tokens += m["tokens"]
            loss = m["loss"]
            if self.step % t.log_every == 0 or self.step == t.max_steps:
                elapsed = time.perf_counter() - window_start
                m.update(
                    tokens_per_s=window_tokens / max(elapsed, 1e-9),
                    lr=self.scheduler.get_last_lr()[0],
                    epoch=self.batches.epoch_of(self.step * t.grad_accum),
                )
                if self.objective.samples_drawn:  # objectives that sample sequences (adversarial)
                    m["samples_drawn"] = self.objective.samples_drawn
                self.log.write(self.step, "train", m)
                self._log_training_samples()
                bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{m['tokens_per_s']:.0f}", refresh=False)
                window_tokens, window_start = 0.0, time.perf_counter()
            bar.update(1)
            self.trajectory(self.step, self.unwrapped, self.log)
            last = self.step == t.max_steps
            if (t.eval_every and self.step % t.eval_every == 0) or last:
                valid = self._evaluate_and_keep_best()
                self.model.train()
            if (t.save_every and self.step % t.save_every == 0) or last:
                self.save_checkpoint()
            if stop_after is not None and steps_done >= stop_after:
                break
        bar.close()
        if self.step >= t.max_steps:
            # Not acc.end_training(): it also tears down the process group, which callers may still need.
            for tracker in acc.trackers:
                tracker.finish()
        return TrainResult(self.run.path, self.step, loss, valid, self.counters.best_valid)


def train(cfg: RunConfig, *, stop_after: int | None = None) -> TrainResult:
    """Train a generator as `cfg` says (the Python API of `seqgen train`)."""
    trainer = Trainer(cfg)
    try:
        return trainer.fit(stop_after=stop_after)
    finally:
        trainer.close()
