"""The run's Accelerator: devices, processes, mixed precision, torch.compile and the TensorBoard tracker."""

from __future__ import annotations

import logging
import platform
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from seqgen.errors import SeqgenError
from seqgen.training.config import TrainConfig


class _DropTiedWeightNotice(logging.Filter):
    # Accelerate's save_state stores a tied weight (GPT-2's lm_head = wte) once and warns that it did; the tie
    # is restored on load (the resume tests compare every parameter bit for bit), so the notice is noise.
    def filter(self, record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()


logging.getLogger("accelerate.utils.other").addFilter(_DropTiedWeightNotice())
log = logging.getLogger("seqgen")


def cpu_bf16_supported() -> bool:
    """Whether torch runs bf16 matrix kernels on this CPU (oneDNN's own check: AVX-512 on x86, the BF16
    extension on Arm). False where the check itself is missing: a torch without oneDNN, or an old one."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # the op is not registered in this build
        return False


def cpu_bf16_emulated() -> bool:
    """True on an x86 CPU that oneDNN runs bf16 on without bf16 instructions (AVX-512 but neither AVX512-BF16
    nor AMX, e.g. Skylake): the kernels convert to fp32 and back, usually slower than fp32 itself."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    checks = [
        getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    ]
    if any(check is None for check in checks):  # a torch that cannot tell: say nothing
        return False
    return not any(check() for check in checks)


def cuda_bf16_supported() -> bool:
    """Whether the current CUDA GPU has bf16 arithmetic (compute capability 8.0+): torch's default check also
    says yes for GPUs that only emulate it, slower than fp32."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # a torch without the argument (it never counted emulation)
        return bool(torch.cuda.is_bf16_supported())


def mixed_precision(setting: str, device: torch.device | None = None) -> str:
    """train.mixed_precision as Accelerate spells it for a run on `device` (default: where Accelerate puts
    this process). auto is bf16 on a CUDA GPU with bf16 arithmetic and fp32 everywhere else, every CPU
    included: a config then gives the same numbers on CPUs with and without bf16 instructions. bf16 where the
    device cannot run it is a SeqgenError."""
    if device is None:
        from accelerate import PartialState
        from accelerate.utils import parse_flag_from_env

        # What Accelerator() sets up next anyway (process group, device), with the same reading of the env.
        device = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU")).device
    if setting == "auto":
        return "bf16" if device.type == "cuda" and cuda_bf16_supported() else "no"
    if setting == "bf16":
        check_bf16(device)
    return setting


def check_bf16(device: torch.device) -> None:
    """Refuse bf16 on a CPU or CUDA GPU that cannot run it; warn where a CPU only emulates it. Other devices
    (mps, xpu, ...) are left to Accelerate."""
    if device.type == "cpu":
        if not cpu_bf16_supported():
            raise SeqgenError(
                "train.mixed_precision=bf16: this CPU has no bf16 support in torch (oneDNN reports none); "
                "use train.mixed_precision=no"
            )
        if cpu_bf16_emulated():
            log.warning(
                "train.mixed_precision=bf16: this CPU has no bf16 instructions (AVX512-BF16 or AMX), so "
                "bf16 is emulated and likely slower than train.mixed_precision=no"
            )
    elif device.type == "cuda" and not cuda_bf16_supported():
        major, minor = torch.cuda.get_device_capability(device)
        raise SeqgenError(
            f"train.mixed_precision=bf16: GPU {torch.cuda.get_device_name(device)} (compute capability "
            f"{major}.{minor}) has no bf16 arithmetic (it needs 8.0+); use train.mixed_precision=no"
        )


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
    precision = mixed_precision(t.mixed_precision)
    # Accelerate keeps one AcceleratorState per process and refuses a second Accelerator with another mixed
    # precision (and silently keeps the first one's torch.compile backend). Runs one after another in one
    # process (a study, the tests, the benchmark) may differ in both, so each run starts from a fresh one.
    # PartialState (the device, the process group) stays; models prepared earlier keep their wrappers.
    reset = getattr(AcceleratorState, "_reset_state", None)
    if reset is not None:
        reset()
    accelerator = Accelerator(
        mixed_precision=precision,
        log_with=log_with,
        project_dir=str(project_dir),
        step_scheduler_with_optimizer=False,  # one scheduler step per optimiser step, any process count
        dynamo_backend="inductor" if t.compile else "no",
    )
    return accelerator, log_with or []
