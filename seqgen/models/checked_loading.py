"""Pickle-free loading of a `save_pretrained` folder with one-line errors, shared by generators and
discriminators: the weights are checked against the config before loading, so every failure names the tensor
and the path, and a load that leaves keys missing, unexpected or mismatched is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from huggingface_hub.errors import StrictDataclassError
from safetensors import SafetensorError, safe_open

from seqgen.errors import SeqgenError

LOAD_ERRORS = (OSError, ValueError, TypeError, KeyError, RuntimeError, StrictDataclassError)


def reason(e: BaseException) -> str:
    """The first line of an error; for a config validator's error, the validator's own message."""
    if isinstance(e, StrictDataclassError) and e.__cause__ is not None:
        e = e.__cause__
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def check_weights(path: Path, build_from_config: Callable[[], torch.nn.Module]) -> None:
    """Check model.safetensors against the model `build_from_config` makes (on the meta device, shapes only).

    safetensors checks that the header covers the file exactly, so truncated or garbage files fail here
    (there is no checksum: flipped bytes inside tensor data are undetectable by any loader).
    """
    from seqgen.models.generator import quiet_transformers

    try:
        with safe_open(str(path), framework="pt") as f:
            stored = {key: list(f.get_slice(key).get_shape()) for key in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise SeqgenError(f"corrupt model.safetensors ({reason(e)}): {path}") from None
    try:
        with torch.device("meta"), quiet_transformers():
            expected = {k: list(v.shape) for k, v in build_from_config().state_dict().items()}
    except LOAD_ERRORS as e:
        raise SeqgenError(
            f"cannot build the model described by {path.parent / 'config.json'}: {reason(e)}"
        ) from None
    for key, shape in stored.items():
        if key in expected and expected[key] != shape:
            raise SeqgenError(
                f"tensor {key} has shape {shape} in model.safetensors, "
                f"config.json needs {expected[key]}: {path}"
            )


def load_checked(model_class: Any, folder: Path, config: Any, what: str) -> Any:
    """`model_class.from_pretrained(folder)`, offline, with `config`; missing, unexpected or mismatched keys
    are refused."""
    from seqgen.models.generator import quiet_transformers

    try:
        with quiet_transformers():
            model, info = model_class.from_pretrained(
                str(folder), config=config, local_files_only=True, output_loading_info=True
            )
    except (*LOAD_ERRORS, SafetensorError) as e:
        raise SeqgenError(f"cannot load the {what} in {folder}: {reason(e)}") from None
    bad = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if bad:
        detail = "; ".join(
            f"{k.replace('_', ' ')}: {', '.join(sorted(map(str, v))[:3])}" for k, v in bad.items()
        )
        raise SeqgenError(f"model.safetensors does not match config.json in {folder} ({detail})")
    return model
