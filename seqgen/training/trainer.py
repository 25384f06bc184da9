"""The training loop on Accelerate: AdamW, warmup + cosine, clipping, accumulation, validation, checkpoints.

One optimiser step consumes `train.batch_size` sequences in total: `grad_accum` global micro-batches, each
split evenly over the processes. The loss of a step is the summed token NLL divided by the number of non-pad
target tokens of the *whole step* on all processes (DESIGN §5), so 1 process x 4 micro-batches and 2 processes
x 2 micro-batches compute the same gradient. Which rows form a batch is a function of (seed, step) only
(`BatchOrder`), so resuming from a checkpoint — mid-epoch too — continues exactly as if never stopped.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from seqgen.atomic import atomic_write_text, begin_dir, commit_dir
from seqgen.data.encoding import collate, count_tokens, unk_fraction
from seqgen.errors import SeqgenError
from seqgen.metrics.likelihood import heldout_nll
from seqgen.models import Generator, build_generator, load_generator
from seqgen.models.discriminator import save_discriminator
from seqgen.objectives.objective import ObjectiveModule, build_objective
from seqgen.run_folder import Config, RunFolder, RunLock
from seqgen.text_sampling import sample_texts
from seqgen.training.batch_order import BatchOrder
from seqgen.training.finite import ParameterSnapshot, all_finite, optimizer_tensors
from seqgen.training.metrics_log import MetricsLog
from seqgen.training.optim import build_optimizer, build_scheduler
from seqgen.training.run_start import resolve_start
from seqgen.training.setup import RunData, load_run_data

log = logging.getLogger("seqgen")
BUILTIN_CORPORA = ("caption", "oracle", "seqgan_oracle")
UNK_WARNING = 0.05  # warn when more than this fraction of a split's tokens are <unk>
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says which checkpoint is on disk and how to resume."""


class _DropTiedWeightNotice(logging.Filter):
    # Accelerate's save_state stores a tied weight (GPT-2's lm_head = wte) once and warns that it did; the tie
    # is restored on load (the resume tests compare every parameter bit for bit), so the notice is noise.
    def filter(self, record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()


logging.getLogger("accelerate.utils.other").addFilter(_DropTiedWeightNotice())


@dataclass
class TrainResult:
    run: Path
    step: int
    train_loss: float
    valid: dict[str, float] | None
    best_valid_nll: float | None


def _mixed_precision(setting: str) -> str:
    if setting == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    return setting


class Trainer:
    """One training run: `Trainer(cfg).fit()`. The main process holds the run folder's lock from here until
    `fit` finishes (or fails), or until `close()`."""

    def __init__(self, cfg: Config, data: RunData | None = None) -> None:
        cfg = resolve_start(cfg)  # what a resumed run / a run started from another one really uses
        self.cfg = cfg
        self.run = RunFolder(cfg.out)
        t = cfg.train
        log_with = "tensorboard" if t.tensorboard and _tensorboard_available() else None
        self.accelerator = Accelerator(
            mixed_precision=_mixed_precision(t.mixed_precision),
            log_with=log_with,
            project_dir=str(self.run.path),
            step_scheduler_with_optimizer=False,  # one scheduler step per optimiser step, any process count
            dynamo_backend="inductor" if t.compile else "no",
        )
        self._lock: RunLock | None = None
        self._created_folder = False
        if self.accelerator.is_main_process:
            self._open_run_folder()
        try:
            self._setup(data, log_with)
        except BaseException:
            self.close(remove_if_new=True)
            raise

    def _setup(self, data: RunData | None, log_with: str | None) -> None:
        cfg, t, acc = self.cfg, self.cfg.train, self.accelerator
        world = acc.num_processes
        if t.batch_size % (t.grad_accum * world):
            raise SeqgenError(
                f"train.batch_size={t.batch_size} is not divisible by train.grad_accum={t.grad_accum} x "
                f"{world} processes"
            )
        self.micro_global = t.batch_size // t.grad_accum
        # A resumed folder killed before its first checkpoint starts again from step 0 (with its tokenizer).
        self.from_checkpoint = bool(cfg.resume and self.run.has_checkpoint())
        set_seed(t.seed)
        own_tokenizer = cfg.resume and self.run.tokenizer_dir.is_dir()
        self.data = data or load_run_data(cfg, self.run if own_tokenizer else None, splits=("train", "valid"))
        self.tokenizer = self.data.tokenizer
        self.pad_id = self.tokenizer.pad_id
        self.unk = self._unk_fractions()
        generator = self._initial_generator()
        self.max_len = cfg.data.max_len
        self.order = BatchOrder(len(self.data.train), self.micro_global, t.seed)
        self._train_ids = self.data.train.with_format(None)
        self.objective = build_objective(cfg, self.pad_id)
        optimizer = build_optimizer(generator, t)
        scheduler = build_scheduler(optimizer, t)
        # The prepared model is generator + loss in one module: one forward per backward under DDP.
        self.model, self.optimizer, self.scheduler = acc.prepare(
            ObjectiveModule(generator, self.objective), optimizer, scheduler
        )
        # Adversarial runs with a learned discriminator: it and its optimiser are prepared too (DDP, devices).
        self.d_model: Any = None
        self.d_optimizer: Any = None
        if cfg.objective == "adversarial":
            self._setup_adversarial()
        self.d_batches = 0  # discriminator micro-batch draws so far (its real rows: `self.d_order`)
        self.step = 0
        self.tokens_seen = 0
        self.best_valid: float | None = None
        if self.from_checkpoint:
            self._load_checkpoint()
        elif acc.is_main_process:
            self._write_run_files()
        acc.wait_for_everyone()
        # A resumed run drops what the interrupted one logged after its checkpoint; a new start, everything.
        self.log = MetricsLog(
            self.run.metrics_file, acc, keep_until=self.step if self.from_checkpoint else -1
        )
        if acc.is_main_process:
            self._say_how_it_starts()
        if log_with:
            acc.init_trackers("tensorboard")

    # ------------------------------------------------------------------------------------------ setup
    def _open_run_folder(self) -> None:
        """Main process: take the folder's lock, clear leftovers of killed saves, refuse what cannot start."""
        cfg, run = self.cfg, self.run
        if run.path.exists() and not run.path.is_dir():
            raise SeqgenError(f"run folder {run.path} is a file; choose another out=")
        if not run.path.exists():
            if cfg.resume:
                raise SeqgenError(f"cannot resume: run folder not found: {run.path}")
            run.path.mkdir(parents=True)
            self._created_folder = True
        self._lock = run.lock()
        removed = run.remove_stale_temporaries()
        if removed:
            log.info(
                "removed %d leftover temporary file(s) of an interrupted save in %s", len(removed), run.path
            )
        if not cfg.resume and run.holds_anything():
            raise SeqgenError(
                f"run folder {run.path} is not empty; continue it with resume=true or choose another out="
            )

    def close(self, remove_if_new: bool = False) -> None:
        """Give up the run folder's lock (and, for a start that failed, the empty folder it made)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if remove_if_new and self._created_folder and self.run.path.is_dir():
            if not any(self.run.path.iterdir()):
                self.run.path.rmdir()

    def _say_how_it_starts(self) -> None:
        cfg = self.cfg
        if self.from_checkpoint:
            log.info("resuming %s from step %d", self.run.path, self.step)
        elif cfg.resume:
            log.info("%s has no checkpoint yet: starting it from step 0", self.run.path)
        if cfg.init_from:
            log.info(
                "starting from the generator of %s (its data, tokenizer and model settings)", cfg.init_from
            )
        rates = ", ".join(f"{split} {100 * v:.2f}%" for split, v in self.unk.items())
        log.info("<unk> tokens: %s", rates)
        for split, v in self.unk.items():
            if v > UNK_WARNING:
                log.warning(
                    "%.1f%% of the %s split's tokens are <unk> (more than %.0f%%): the %s tokenizer does not "
                    "cover this corpus; every <unk> hides a word from the model and the metrics",
                    100 * v,
                    split,
                    100 * UNK_WARNING,
                    self.tokenizer.kind,
                )

    def _unk_fractions(self) -> dict[str, float]:
        out = {"train": unk_fraction(self.data.train, self.tokenizer)}
        if self.data.valid is not None:
            out["valid"] = unk_fraction(self.data.valid, self.tokenizer)
        return out

    def _setup_adversarial(self) -> None:
        from seqgen.objectives.adversarial.objective import DiscriminatorModule
        from seqgen.training.discriminator_setup import build_run_discriminator

        cfg, acc = self.cfg, self.accelerator
        per_process = self.micro_global // acc.num_processes
        if per_process % cfg.adv.group_size:
            raise SeqgenError(
                f"adv.group_size={cfg.adv.group_size} does not divide the micro-batch of {per_process} "
                f"sequences on each of {acc.num_processes} processes"
            )
        self.objective.check_data(self._train_ids, self.tokenizer)
        disc = None
        if cfg.adv.discriminator != "oracle":
            disc = build_run_discriminator(cfg, self.tokenizer)
            a = cfg.adv
            d_opt = torch.optim.Adam(disc.parameters(), lr=a.d_lr, betas=(a.d_beta1, a.d_beta2))
            self.d_model, self.d_optimizer = acc.prepare(DiscriminatorModule(disc, self.objective), d_opt)
            self.d_order = BatchOrder(len(self.data.train), self.micro_global, cfg.train.seed + 1)
        self.objective.bind(tokenizer=self.tokenizer, accelerator=acc, discriminator=disc)

    @property
    def unwrapped_discriminator(self) -> Any:
        return self.accelerator.unwrap_model(self.d_model).discriminator if self.d_model is not None else None

    def _initial_generator(self) -> Generator:
        cfg = self.cfg
        if cfg.init_from:
            gen = load_generator(RunFolder(cfg.init_from).generator_for("best"))
            if gen.vocab_size != self.tokenizer.vocab_size:
                raise SeqgenError(
                    f"init_from {cfg.init_from}: generator vocabulary does not match its tokenizer"
                )
            return gen
        return build_generator(
            cfg.model,
            self.tokenizer.vocab_size,
            pad_id=self.tokenizer.pad_id,
            bos_id=self.tokenizer.bos_id,
            eos_id=self.tokenizer.eos_id,
        )

    def _write_run_files(self) -> None:
        self.run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run.config_file, _yaml(self.cfg))
        self.tokenizer.save(self.run.tokenizer_dir)
        info = {
            "split_rule": self.data.rule,
            "corpus": _corpus_paths(self.cfg),
            "train_rows": len(self.data.train),
            "train_tokens": count_tokens(self.data.train),
            "valid_tokens": count_tokens(self.data.valid) if self.data.valid is not None else None,
            "unk_fraction": self.unk,
            "vocab_size": self.tokenizer.vocab_size,
            "parameters": self.unwrapped.num_parameters(),
            "processes": self.accelerator.num_processes,
            "mixed_precision": self.accelerator.mixed_precision,
        }
        atomic_write_text(self.run.info_file, json.dumps(info, indent=2) + "\n")

    @property
    def unwrapped(self) -> Generator:
        return self.accelerator.unwrap_model(self.model).generator

    # ------------------------------------------------------------------------------------ checkpoints
    def checkpoint_note(self) -> str:
        """Which checkpoint is on disk, for messages: the file is the truth, not what this run meant to do."""
        step = self.run.checkpoint_step()
        if step is None:
            return f"no checkpoint of this run was written yet in {self.run.path}"
        return f"the checkpoint of step {step} is intact in {self.run.path / 'checkpoint'}"

    @property
    def _inner_optimizer(self) -> torch.optim.Optimizer:
        return getattr(self.optimizer, "optimizer", self.optimizer)  # under Accelerate's wrapper

    def _trained_tensors(self) -> list[torch.Tensor]:
        """The generator's parameters and its optimiser's state: never to be checkpointed non-finite."""
        return [*self.model.parameters(), *optimizer_tensors(self._inner_optimizer)]

    def save_checkpoint(self) -> None:
        """Write RUN/checkpoint as a whole: a crash at any point leaves the previous checkpoint loadable."""
        acc = self.accelerator
        target = self.run.path / "checkpoint"
        acc.wait_for_everyone()
        tensors = self._trained_tensors()
        if self.d_model is not None:
            d_opt = getattr(self.d_optimizer, "optimizer", self.d_optimizer)
            tensors += [*self.d_model.parameters(), *optimizer_tensors(d_opt)]
        if not all_finite(tensors):  # the step loop stops before this; never write a poisoned checkpoint
            raise SeqgenError(
                f"refusing to checkpoint non-finite weights at step {self.step}; {self.checkpoint_note()}"
            )
        # The main process makes the temporary folder; every process writes its RNG state into it.
        tmp = [str(begin_dir(target)) if acc.is_main_process else ""]
        if acc.num_processes > 1:
            torch.distributed.broadcast_object_list(tmp, src=0)
        tmp_dir = Path(tmp[0])
        try:
            acc.save_state(str(tmp_dir / "state"))
            acc.wait_for_everyone()
            if acc.is_main_process:
                self.unwrapped.save(tmp_dir / "generator")
                disc = self.unwrapped_discriminator
                if disc is not None:
                    save_discriminator(disc, tmp_dir / "discriminator")
                state = {
                    "step": self.step,
                    "tokens_seen": self.tokens_seen,
                    "best_valid_nll": self.best_valid,
                    "processes": acc.num_processes,
                    "d_batches": self.d_batches,
                    "objective": self.objective.state(),
                }
                (tmp_dir / "trainer.json").write_text(json.dumps(state, indent=2) + "\n")
                commit_dir(tmp_dir, target)
                if self.data.valid is None:  # no validation split: the run's generator is the last one
                    self.unwrapped.save(self.run.path / "generator")
                if disc is not None:  # the run's discriminator is the latest one
                    save_discriminator(disc, self.run.path / "discriminator")
        except BaseException:
            if acc.is_main_process:
                shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        acc.wait_for_everyone()

    def _load_checkpoint(self) -> None:
        state = self.run.load_trainer_state()
        if state.get("processes", 1) != self.accelerator.num_processes:
            raise SeqgenError(
                f"cannot resume: the checkpoint was written by {state.get('processes')} processes, "
                "this run has "
                f"{self.accelerator.num_processes}"
            )
        try:
            self.accelerator.load_state(str(self.run.checkpoint_dir / "state"))
        except Exception as e:  # corrupt or mismatched files: say which, in one line
            msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            raise SeqgenError(
                f"cannot resume from {self.run.checkpoint_dir}: corrupt or mismatched state ({msg})"
            ) from None
        self.step = state["step"]
        self.tokens_seen = state.get("tokens_seen", 0)
        self.best_valid = state.get("best_valid_nll")
        self.d_batches = int(state.get("d_batches", 0))
        self.objective.load_state(state.get("objective") or {})

    # ------------------------------------------------------------------------------------------- loop
    def _micro_batches(self, step: int) -> list[torch.Tensor]:
        acc, accum = self.accelerator, self.cfg.train.grad_accum
        out = []
        for k in range(step * accum, (step + 1) * accum):
            rows = self.order.rows(k, acc.process_index, acc.num_processes)
            out.append(collate(self._train_ids[rows]["input_ids"], self.pad_id))
        return out

    def accumulate_gradients(self) -> tuple[float, float, dict[str, float]]:
        """Forward and backward of every micro-batch of this step: (loss of the step over all processes,
        target tokens of the step, this process's mean diagnostics). Gradients are left in `.grad`."""
        acc, t = self.accelerator, self.cfg.train
        batches = [b.to(acc.device) for b in self._micro_batches(self.step)]
        local_tokens = sum(int((b[:, 1:] != self.pad_id).sum()) for b in batches)
        counts = torch.tensor([float(local_tokens)], device=acc.device)
        global_tokens = (
            float(acc.reduce(counts, reduction="sum").item()) if acc.num_processes > 1 else counts.item()
        )
        totals = {"tokens": max(global_tokens, 1.0), "rows": float(t.batch_size)}
        rngs = [self._rng(j) for j in range(len(batches))]
        # Objectives that need the whole step first (adversarial: samples of every micro-batch, MaliGAN's
        # normaliser over all of them) prepare it here, outside the prepared module's forward.
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
        self.objective.end_step()
        grad_norm = self._clip()
        skipped = {"loss": loss, "skipped": 1.0, "tokens": global_tokens}
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            what = f"loss={loss}" if not math.isfinite(loss) else f"gradient norm={grad_norm}"
            if t.on_nonfinite == "stop":
                raise SeqgenError(
                    f"non-finite {what} at step {self.step + 1}; training stopped "
                    f"({self.checkpoint_note()}); try a lower train.lr or train.on_nonfinite=skip"
                )
            self.optimizer.zero_grad(set_to_none=True)
            return skipped
        # A finite loss and gradient can still give an update that overflows the weights (a huge lr): the
        # step is checked after it is taken, and undone (skip) or the run stopped before anything is saved.
        before = (
            ParameterSnapshot(list(self.model.parameters()), self._inner_optimizer)
            if t.on_nonfinite == "skip"
            else None
        )
        try:
            self.optimizer.step()
            overflow = not all_finite(self._trained_tensors())
        except RuntimeError as e:  # torch refuses a step size beyond float32 ("... without overflow")
            if "overflow" not in str(e):
                raise
            overflow = True
        self.optimizer.zero_grad(set_to_none=True)
        if overflow:
            if before is None:
                raise SeqgenError(
                    f"the update of step {self.step + 1} made the generator's weights non-finite (loss "
                    f"{loss:.4g}, gradient norm {grad_norm:.4g}); training stopped "
                    f"({self.checkpoint_note()}); try a lower train.lr or train.on_nonfinite=skip"
                )
            before.restore()
            return skipped
        self.scheduler.step()
        fakes = self.objective.step_samples()
        if self.d_model is not None:
            for i in range(self.cfg.adv.d_steps):
                diagnostics.update(self.discriminator_update(fakes if i == 0 else None))
        return {
            "loss": loss,
            "grad_norm": grad_norm,
            "tokens": global_tokens,
            **self.objective.logged(self.step),
            **diagnostics,
        }

    def _rng(self, micro: int, stream: int = 0) -> torch.Generator:
        """The objective's random stream for micro-batch `micro` of this step on this process: a function of
        (seed, step, micro-batch, rank, stream) only, so a resumed run draws what an uninterrupted one does.
        Stream 0 is the generator step's; the discriminator's updates use their own
        (`discriminator_update`)."""
        acc = self.accelerator
        key = ((self.cfg.train.seed * 1_000_003 + self.step) * 1009 + micro) * 4099 + acc.process_index
        key = key * 7919 + stream
        return torch.Generator(device=acc.device).manual_seed(key % (2**63 - 1))

    def discriminator_update(self, fakes: list[torch.Tensor] | None = None) -> dict[str, float]:
        """One optimiser step of the discriminator: real rows from its own batch order against `fakes` (the
        generator step's samples, one tensor per micro-batch) or, when None, freshly drawn samples."""
        acc, accum = self.accelerator, self.cfg.train.grad_accum
        diagnostics: dict[str, float] = {}
        loss_sum = torch.zeros((), device=acc.device)
        for j in range(accum):
            index = self.d_batches
            self.d_batches += 1
            rows = self.d_order.rows(index, acc.process_index, acc.num_processes)
            real = collate(self._train_ids[rows]["input_ids"], self.pad_id).to(acc.device)
            rng = self._rng(j, stream=1 + index)  # distinct per draw, also across d_steps of one step
            fake = fakes[j] if fakes is not None else self.objective.sample(self.unwrapped, real.size(0), rng)
            sync = nullcontext() if j == accum - 1 else acc.no_sync(self.d_model)
            with sync:
                loss, diag = self.d_model(real, fake, rng)
                acc.backward(loss / accum)  # the mean over micro-batches (DDP averages over processes)
            loss_sum += loss.detach().float() / accum
            for k, v in diag.items():
                diagnostics[k] = diagnostics.get(k, 0.0) + v / accum
        if acc.num_processes > 1:
            loss_sum = acc.reduce(loss_sum, reduction="mean")
        value = float(loss_sum)
        if not math.isfinite(value):
            raise SeqgenError(
                f"non-finite discriminator loss={value} at step {self.step + 1}; training stopped "
                f"({self.checkpoint_note()}); try a lower adv.d_lr or a gradient penalty"
            )
        self.d_optimizer.step()
        self.d_optimizer.zero_grad(set_to_none=True)
        if not all_finite(list(self.d_model.parameters())):
            raise SeqgenError(
                f"the discriminator update at step {self.step + 1} made its weights non-finite; training "
                f"stopped ({self.checkpoint_note()}); try a lower adv.d_lr or a gradient penalty"
            )
        diagnostics["d_loss"] = value
        return diagnostics

    def pretrain_discriminator(self) -> None:
        """adv.d_pretrain_steps discriminator updates on fresh samples before the first generator step."""
        n, every = self.cfg.adv.d_pretrain_steps, self.cfg.train.log_every
        show = self.cfg.train.progress and self.accelerator.is_main_process
        for i in tqdm(range(n), desc="discriminator pre-training", disable=not show or n == 0, **_BAR):
            m = self.discriminator_update(None)
            if (i + 1) % every == 0 or i + 1 == n:
                self.log.write(0, "d_pretrain", {"d_step": i + 1, **m})

    def _clip(self) -> float:
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.cfg.train.grad_clip > 0:
            return float(self.accelerator.clip_grad_norm_(params, self.cfg.train.grad_clip))
        return float(torch.linalg.vector_norm(torch.stack([p.grad.detach().norm() for p in params])))

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
        """Adversarial runs: a few of the step's samples (what the discriminator just judged) in the log."""
        fakes = self.objective.step_samples()
        n = self.cfg.train.num_samples
        if not fakes or n <= 0:
            return
        fakes = fakes[0]
        self.log.write(
            self.step, "samples", {"texts": [self.tokenizer.decode(r) for r in fakes[:n].tolist()]}
        )

    @property
    def keep(self) -> str:
        keep = self.cfg.train.keep
        if keep == "auto":
            return "last" if self.cfg.objective == "adversarial" else "best_valid"
        return keep

    def _evaluate_and_keep_best(self) -> dict[str, float] | None:
        acc = self.accelerator
        valid = self.validate()
        if valid is not None:
            self.log.write(self.step, "valid", valid)
            if self.best_valid is None or valid["nll"] < self.best_valid:
                self.best_valid = valid["nll"]
                if acc.is_main_process and self.keep == "best_valid":
                    self.unwrapped.save(self.run.path / "generator")
            if acc.is_main_process and self.keep == "last":
                self.unwrapped.save(self.run.path / "generator")
        if acc.is_main_process and self.cfg.train.num_samples > 0:
            texts = sample_texts(
                self.unwrapped,
                self.tokenizer,
                self.cfg.train.num_samples,
                max_len=self.max_len,
                stream=self.cfg.data.mode == "stream",
                seed=self.cfg.train.seed * 7919 + self.step,
            )
            self.run.samples_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.run.samples_dir / f"step-{self.step}.txt", "\n".join(texts) + "\n")
        acc.wait_for_everyone()
        return valid

    def fit(self, stop_after: int | None = None) -> TrainResult:
        """Train to `train.max_steps`; `stop_after` ends early after that many steps (as an interruption).

        The run folder's lock is released when training ends or fails, and kept after `stop_after`."""
        try:
            result = self._fit(stop_after)
        except KeyboardInterrupt:
            self.close()
            raise TrainingInterrupted(
                f"interrupted at step {self.step} of {self.run.path}; {self.checkpoint_note()}; resume with: "
                f"seqgen train out={self.run.path} resume=true"
            ) from None
        except Exception as e:
            self.close()
            if not _no_space(e):
                raise
            raise SeqgenError(
                f"no space left on the device while writing to the run folder {self.run.path} at step "
                f"{self.step}; {self.checkpoint_note()}; free some space and resume with: seqgen train "
                f"out={self.run.path} resume=true"
            ) from None
        except BaseException:
            self.close()
            raise
        if self.step >= self.cfg.train.max_steps:
            self.close()
        return result

    def _fit(self, stop_after: int | None) -> TrainResult:
        t, acc = self.cfg.train, self.accelerator
        self.model.train()
        bar = tqdm(
            total=t.max_steps,
            initial=self.step,
            desc="train",
            disable=not (t.progress and acc.is_main_process),
            **_BAR,
        )
        valid, loss, window_tokens, window_start = None, float("nan"), 0.0, time.perf_counter()
        steps_done = 0
        if self.d_model is not None and self.step == 0 and self.d_batches == 0:
            self.pretrain_discriminator()
        while self.step < t.max_steps:
            m = self.train_step()
            self.step += 1
            steps_done += 1
            self.tokens_seen += int(m["tokens"])
            window_tokens += m["tokens"]
            loss = m["loss"]
            if self.step % t.log_every == 0 or self.step == t.max_steps:
                elapsed = time.perf_counter() - window_start
                m["tokens_per_s"] = window_tokens / max(elapsed, 1e-9)
                m["lr"] = self.scheduler.get_last_lr()[0]
                m["epoch"] = self.order.epoch_of(self.step * t.grad_accum)
                self.log.write(self.step, "train", m)
                self._log_training_samples()
                bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{m['tokens_per_s']:.0f}", refresh=False)
                window_tokens, window_start = 0.0, time.perf_counter()
            bar.update(1)
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
        return TrainResult(self.run.path, self.step, loss, valid, self.best_valid)


# tqdm settings of the training bars. In a log file (not a terminal) a redraw is a new line: redraw rarely.
_BAR = dict(mininterval=0.5 if sys.stderr.isatty() else 30.0, dynamic_ncols=True)


def _no_space(e: BaseException) -> bool:
    """A write that failed because the disk is full: an OSError, or what torch.save (a RuntimeError from its
    zip writer noticing a short write) and safetensors (SafetensorError) make of one."""
    if isinstance(e, OSError):
        return e.errno in _NO_SPACE
    text = str(e)
    return "No space left" in text or "os error 28" in text or "unexpected pos" in text


def _corpus_paths(cfg: Config) -> dict[str, str | None]:
    """split -> absolute path of the corpus file/folder it was read from (None: built-in or hub corpora)."""
    out: dict[str, str | None] = {}
    for split in ("train", "valid", "test"):
        source = getattr(cfg.data, split)
        builtin = source in BUILTIN_CORPORA or (source or "").startswith("hf:")
        p = Path(source).expanduser() if source and not builtin else None
        out[split] = str(p.resolve()) if p is not None and p.exists() else None
    return out


def _tensorboard_available() -> bool:
    try:
        from accelerate.utils import is_tensorboard_available

        return bool(is_tensorboard_available())
    except ImportError:
        return False


def _yaml(cfg: Config) -> str:
    import yaml

    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def train(cfg: Config, *, stop_after: int | None = None) -> TrainResult:
    """Train a generator as `cfg` says (the Python API of `seqgen train`)."""
    trainer = Trainer(cfg)
    try:
        return trainer.fit(stop_after=stop_after)
    finally:
        trainer.close()
