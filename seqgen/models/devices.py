"""Which torch device a command runs on (cuda when available, else cpu, or the one named), and fp32 inside a
mixed-precision region."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from seqgen.errors import SeqgenError


def resolve_device(name: str | None = None) -> torch.device:
    """`name` ("cpu", "cuda", "cuda:1", ...) as a device, or the default; one line for an unknown name or a
    CUDA device that is not there."""
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SeqgenError(f"unknown --device {name!r} (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SeqgenError(f"--device {name} asked for, but no CUDA device is available")
    return device


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """fp32 on `device` inside, even within an autocast region (the forward of a model that Accelerate
    prepared for mixed precision): for what is measured or drawn there rather than trained."""
    try:
        on = torch.is_autocast_enabled(device.type)
    except TypeError:  # a torch whose check takes no device type: switch it off regardless
        on = True
    if not on:
        yield
        return
    with torch.autocast(device_type=device.type, enabled=False):
        yield
