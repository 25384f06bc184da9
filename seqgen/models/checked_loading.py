"""Pickle-free loading of a `save_pretrained` folder with one-line errors, shared by generators and
discriminators: the weights are checked against the config before loading, so every failure names the tensor
and the path, and a load that leaves keys missing, unexpected or mismatched is refused."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from huggingface_hub.errors import StrictDataclassError
from safetensors import SafetensorError, safe_open
from transformers.utils import logging as hf_logging

from seqgen.errors import SeqgenError


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and load reports while saving/loading; restore the settings after.

    seqgen checks what the reports say itself and raises one-line errors, so they are only noise here.
    """
    was_on, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if was_on:
            hf_logging.enable_progress_bar()


LOAD_ERRORS = (OSError, ValueError, TypeError, KeyError, RuntimeError, StrictDataclassError)


def reason(e: BaseException) -> str:
    """The first line of an error; for a config validator's error, the validator's own message."""
    if isinstance(e, StrictDataclassError) and e.__cause__ is not None:
        e = e.__cause__
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def check_weights(path: Path, build_from_config: Callable[[], torch.nn.Module]) -> None:
    """Check a safetensors file (model.safetensors or one shard of it) against the model `build_from_config`
    makes (on the meta device, shapes only).

    safetensors checks that the header covers the file exactly, so truncated or garbage files fail here
    (there is no checksum: flipped bytes inside tensor data are undetectable by any loader).
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            stored = {key: list(f.get_slice(key).get_shape()) for key in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise SeqgenError(f"corrupt {path.name} ({reason(e)}): {path}") from None
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
                f"tensor {key} has shape {shape} in {path.name}, config.json needs {expected[key]}: {path}"
            )


def load_checked(model_class: Any, folder: Path, config: Any, what: str) -> Any:
    """`model_class.from_pretrained(folder)`, offline, with `config`; missing, unexpected or mismatched keys
    are refused."""
    try:
        with quiet_transformers():
            model, info = model_class.from_pretrained(
                str(folder),
                config=config,
                local_files_only=True,
                output_loading_info=True,
                use_safetensors=True,  # never fall back to pickle-based weights (.bin), which can run code
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


# Weight files loaded with pickle (torch.load): opening one can execute code, so they are never read.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
SAFE_WEIGHTS, SAFE_INDEX = "model.safetensors", "model.safetensors.index.json"


def safetensors_files(folder: Path, name: str) -> list[Path]:
    """The safetensors weights of a `save_pretrained` folder: model.safetensors, or every shard that
    model.safetensors.index.json lists. `name` is how the user gave the folder ("model.pretrained=DIR").

    A folder with pickle-based weights only (pytorch_model.bin, ...) is refused without opening them.
    """
    single, index = folder / SAFE_WEIGHTS, folder / SAFE_INDEX
    if single.is_file():
        return [single]
    if index.is_file():
        return _shards(index)
    pickled = sorted(p.name for p in folder.iterdir() if p.name.endswith(PICKLE_SUFFIXES) and p.is_file())
    if pickled:
        raise SeqgenError(
            f"{name} holds pickle-based weights ({', '.join(pickled[:3])}) and no {SAFE_WEIGHTS}: pickle "
            "files can execute code when loaded, so seqgen reads only safetensors; convert them where you "
            "trust them, e.g. AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(NEW_DIR)"
        )
    raise SeqgenError(f"{name} has no {SAFE_WEIGHTS} (or {SAFE_INDEX}): {folder}")


def _shards(index: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise SeqgenError(f"not a valid safetensors index (no 'weight_map' of file names): {index}") from None
    if not names:
        raise SeqgenError(f"safetensors index lists no shards: {index}")
    # A shard must be a safetensors file beside the index, so an index cannot point anywhere else.
    bad = next((n for n in names if Path(n).name != n or not n.endswith(".safetensors")), None)
    if bad is not None:
        raise SeqgenError(f"invalid shard name {bad!r} in {index} (expected NAME.safetensors beside it)")
    shards = [index.parent / n for n in names]
    missing = next((p for p in shards if not p.is_file()), None)
    if missing is not None:
        raise SeqgenError(f"shard {missing.name} listed in {index.name} is missing: {missing}")
    return shards
