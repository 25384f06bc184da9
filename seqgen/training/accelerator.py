"""The run's Accelerator: devices, processes, mixed precision, torch.compile and the TensorBoard tracker."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from accelerate import Accelerator

from seqgen.errors import SeqgenError
from seqgen.training.config import TrainConfig


class _DropTiedWeightNotice(logging.Filter):
    # Accelerate's save_state stores a tied weight (GPT-2's lm_head = wte) once and warns that it did; the tie
    # is restored on load (the resume tests compare every parameter bit for bit), so the notice is noise.
    def filter(self, record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()


logging.getLogger("accelerate.utils.other").addFilter(_DropTiedWeightNotice())


def mixed_precision(setting: str) -> str:
    """train.mixed_precision as Accelerate spells it: auto is bf16 on a GPU that supports it, else fp32."""
    if setting == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    return setting


def tensorboard_available() -> bool:
    try:
        from accelerate.utils import is_tensorboard_available

        return bool(is_tensorboard_available())
    except ImportError:
        return False


def trackers(t: TrainConfig) -> list[str]:
    """The trackers a run logs to: train.report_to (each one must be installed), else TensorBoard when
    train.tensorboard is on and it is installed."""
    if not t.trackers():
        return ["tensorboard"] if t.tensorboard and tensorboard_available() else []
    import accelerate.utils as available

    for name in t.trackers():
        check = getattr(available, f"is_{name}_available", None)
        if check is None or not check():
            package = name.replace("_", "-")  # the pip name (comet-ml)
            raise SeqgenError(f"train.report_to={name} needs the {name} package: pip install {package}")
    return t.trackers()


def make_accelerator(t: TrainConfig, project_dir: Path) -> tuple[Accelerator, list[str]]:
    """(the Accelerator of a run in `project_dir`, the trackers it logs to; maybe none)."""
    log_with = trackers(t) or None
    accelerator = Accelerator(
        mixed_precision=mixed_precision(t.mixed_precision),
        log_with=log_with,
        project_dir=str(project_dir),
        step_scheduler_with_optimizer=False,  # one scheduler step per optimiser step, any process count
        dynamo_backend="inductor" if t.compile else "no",
    )
    return accelerator, log_with or []
