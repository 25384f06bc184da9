"""Resume: the checkpoint a run writes, reads back, and the config a resumed run may use (DESIGN §8, §9).

RUN/checkpoint is replaced as a whole (seqgen.atomic): a crash at any point leaves the previous checkpoint
loadable. It holds Accelerate's state (optimisers, schedulers, RNGs of every process, every prepared model:
loaded with weights_only=True), the generator as a save_pretrained folder, the objective's own models
(the discriminator) and trainer.json (step, tokens seen, best validation NLL, process count, the objective's
state). A checkpoint never holds a non-finite tensor.

A resumed run is its saved config.yaml: keys the user does not give are inherited, and keys that change what
a step computes (all but `RESUMABLE_CHANGES`) must equal the saved ones.
"""

from __future__ import annotations

import errno
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqgen.atomic import begin_dir, commit_dir
from seqgen.config import flat_dict
from seqgen.errors import SeqgenError, TrainingStopped
from seqgen.run_folder import RunConfig, RunFolder, config_from_dict
from seqgen.training.finite import all_finite

if TYPE_CHECKING:
    from seqgen.models import Generator
    from seqgen.tokenization import Tokenizer

# Keys that may change when a run is resumed: they do not change the numbers a step computes.
RESUMABLE_CHANGES = {
    "resume",
    "out",  # a run folder may be moved or copied before it is resumed
    "train.max_steps",
    "train.eval_every",
    "train.save_every",
    "train.log_every",
    "train.oracle_eval_every",
    "train.num_samples",
    "train.progress",
    "train.tensorboard",
    "train.report_to",
}
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


@dataclass
class Counters:
    """What the loop counts and a checkpoint keeps besides the tensors."""

    step: int = 0
    tokens_seen: int = 0
    best_valid: float | None = None


# ------------------------------------------------------------------------------------------ the config
def resumed_config(cfg: RunConfig) -> RunConfig:
    """The config of resuming `cfg.out`: its saved config.yaml, with the resumable keys the user gave."""
    run = RunFolder(cfg.out)
    if not run.path.is_dir():
        raise SeqgenError(f"cannot resume: run folder not found: {run.path}")
    if not run.config_file.is_file():
        raise SeqgenError(
            f"cannot resume {run.path}: it holds no config.yaml (nothing of a run was written); start it "
            "again without resume=true"
        )
    saved = flat_dict(run.load_config().to_dict())
    given = cfg.given_keys()
    mine = flat_dict(cfg.to_dict())
    changed = sorted(k for k in given if k not in RESUMABLE_CHANGES and mine[k] != saved.get(k))
    if changed:
        raise SeqgenError(
            "cannot resume: the config differs from the run's config.yaml at "
            + ", ".join(f"{k} ({saved.get(k)!r} -> {mine[k]!r})" for k in changed)
        )
    values = {**saved, **{k: mine[k] for k in given | {"resume", "out"}}}
    run.use_recorded_corpora(values, given)
    out = config_from_dict(values)
    out.set_given(given)
    return out


# ------------------------------------------------------------------------------------------ the files
def note(run: RunFolder) -> str:
    """Which checkpoint is on disk, for messages: the file is the truth, not what the run meant to do."""
    step = run.checkpoint_step()
    if step is None:
        return f"no checkpoint of this run was written yet in {run.path}"
    return f"the checkpoint of step {step} is intact in {run.path / 'checkpoint'}"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says which checkpoint is on disk and how to resume."""


def explain_stop(e: BaseException, run: RunFolder, step: int) -> BaseException | None:
    """What the user is told when training stops at `step` with `e`, naming the checkpoint that is really
    on disk and the command that resumes; None for an error that is not about the run (re-raise it)."""
    resume = f"seqgen train out={run.path} resume=true"
    if isinstance(e, KeyboardInterrupt):
        return TrainingInterrupted(
            f"interrupted at step {step} of {run.path}; {note(run)}; resume with: {resume}"
        )
    if isinstance(e, TrainingStopped):
        return SeqgenError(f"{e.what}; training stopped ({note(run)}); {e.advice}")
    if isinstance(e, Exception) and no_space(e):
        return SeqgenError(
            f"no space left on the device while writing to the run folder {run.path} at step {step}; "
            f"{note(run)}; free some space and resume with: {resume}"
        )
    return None


def no_space(e: BaseException) -> bool:
    """A write that failed because the disk is full: an OSError, or what torch.save (a RuntimeError from its
    zip writer noticing a short write) and safetensors (SafetensorError) make of one."""
    if isinstance(e, OSError):
        return e.errno in _NO_SPACE
    text = str(e)
    return "No space left" in text or "os error 28" in text or "unexpected pos" in text


def save(
    run: RunFolder,
    accelerator: Any,
    *,
    generator: Generator,
    tokenizer: Tokenizer | None = None,
    objective: Any,
    counters: Counters,
    tensors: list[torch.Tensor],
) -> None:
    """Write RUN/checkpoint as a whole (every process calls this). `tensors`: what must be finite; `tokenizer`
    goes into the generator folder in its Hugging Face form (`Generator.save`)."""
    acc = accelerator
    target = run.path / "checkpoint"
    acc.wait_for_everyone()
    if not all_finite(tensors):  # the step loop stops before this; never write a poisoned checkpoint
        raise SeqgenError(f"refusing to checkpoint non-finite weights at step {counters.step}; {note(run)}")
    # The main process makes the temporary folder; every process writes its RNG state into it.
    tmp = [str(begin_dir(target)) if acc.is_main_process else ""]
    if acc.num_processes > 1:
        torch.distributed.broadcast_object_list(tmp, src=0)
    tmp_dir = Path(tmp[0])
    try:
        acc.save_state(str(tmp_dir / "state"))
        acc.wait_for_everyone()
        if acc.is_main_process:
            generator.save(tmp_dir / "generator", tokenizer)
            objective.save_models(tmp_dir)
            state = {
                "step": counters.step,
                "tokens_seen": counters.tokens_seen,
                "best_valid_nll": counters.best_valid,
                "processes": acc.num_processes,
                "objective": objective.state(),
            }
            (tmp_dir / "trainer.json").write_text(json.dumps(state, indent=2) + "\n")
            commit_dir(tmp_dir, target)
    except BaseException:
        if acc.is_main_process:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    acc.wait_for_everyone()


def load(run: RunFolder, accelerator: Any, objective: Any) -> Counters:
    """Restore Accelerate's state and the objective's from RUN/checkpoint; the counters to continue from."""
    state = run.load_trainer_state()
    if state.get("processes", 1) != accelerator.num_processes:
        raise SeqgenError(
            f"cannot resume: the checkpoint was written by {state.get('processes')} processes, this run has "
            f"{accelerator.num_processes}"
        )
    try:
        accelerator.load_state(str(run.checkpoint_dir / "state"))
    except Exception as e:  # corrupt or mismatched files: say which, in one line
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise SeqgenError(
            f"cannot resume from {run.checkpoint_dir}: corrupt or mismatched state ({msg})"
        ) from None
    objective.load_state(state.get("objective") or {})
    return Counters(state["step"], state.get("tokens_seen", 0), state.get("best_valid_nll"))
