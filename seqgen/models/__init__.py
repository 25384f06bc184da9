"""Generators (LSTM/GRU and GPT-style Transformers) behind one `Generator` interface; build, save and load.

Importing this package registers the RNN classes with transformers' Auto classes, so a saved RNN folder loads
with `AutoModelForCausalLM.from_pretrained(folder)` like any Transformer folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from huggingface_hub.errors import StrictDataclassError
from safetensors import SafetensorError, safe_open
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig, PreTrainedModel

from seqgen.config import ModelConfig
from seqgen.errors import SeqgenError
from seqgen.models.generator import Generator, quiet_transformers
from seqgen.models.rnn import RNNConfig, RNNForCausalLM
from seqgen.models.sampling import build_processors, sample_incremental
from seqgen.models.transformer import build_transformer, check_vocab, gpt2_config, load_pretrained_lm

AutoConfig.register(RNNConfig.model_type, RNNConfig, exist_ok=True)
AutoModelForCausalLM.register(RNNConfig, RNNForCausalLM, exist_ok=True)

# What transformers raises for a bad folder: file errors, bad JSON/values, config validators, shape errors.
_LOAD_ERRORS = (OSError, ValueError, TypeError, KeyError, RuntimeError, StrictDataclassError)

__all__ = [
    "Generator",
    "RNNConfig",
    "RNNForCausalLM",
    "build_generator",
    "build_processors",
    "gpt2_config",
    "load_generator",
    "sample_incremental",
]


def build_generator(
    model_cfg: ModelConfig, vocab_size: int, *, pad_id: int = 0, bos_id: int = 1, eos_id: int = 2
) -> Generator:
    """A fresh generator for `model_cfg` over a `vocab_size` vocabulary, or `model_cfg.pretrained` loaded.

    Initialisation draws from torch's global RNG: seed it first for a reproducible model.
    """
    if vocab_size < 1:
        raise SeqgenError(f"vocabulary size must be at least 1, got {vocab_size}")
    for name, value in (("pad", pad_id), ("bos", bos_id), ("eos", eos_id)):
        if not 0 <= value < vocab_size:
            raise SeqgenError(f"{name} id {value} is outside the vocabulary [0, {vocab_size})")
    if model_cfg.pretrained:
        gen = Generator(_load_pretrained(model_cfg, vocab_size))
        cfg = gen.lm.config  # the tokenizer's special ids are the truth for the data
        cfg.pad_token_id, cfg.bos_token_id, cfg.eos_token_id = pad_id, bos_id, eos_id
        return gen
    if model_cfg.kind == "transformer":
        return Generator(
            build_transformer(model_cfg, vocab_size, pad_id=pad_id, bos_id=bos_id, eos_id=eos_id)
        )
    if model_cfg.kind not in ("lstm", "gru"):
        raise SeqgenError(f"unknown model kind {model_cfg.kind!r}; expected lstm, gru or transformer")
    try:
        cfg = RNNConfig(
            vocab_size=vocab_size,
            cell=model_cfg.kind,
            emb_dim=model_cfg.emb_dim,
            hidden_dim=model_cfg.hidden_dim,
            num_layers=model_cfg.num_layers,
            dropout=model_cfg.dropout,
            tie_word_embeddings=model_cfg.tie_embeddings,
            pad_token_id=pad_id,
            bos_token_id=bos_id,
            eos_token_id=eos_id,
        )
    except (ValueError, TypeError, StrictDataclassError) as e:  # the config's own validators
        raise SeqgenError(f"invalid RNN model settings: {_reason(e)}") from None
    return Generator(RNNForCausalLM(cfg))


def _load_pretrained(model_cfg: ModelConfig, vocab_size: int) -> PreTrainedModel:
    with quiet_transformers():
        lm = load_pretrained_lm(model_cfg.pretrained)
    check_vocab(lm, vocab_size, model_cfg.pretrained)
    kind = lm.config.cell if isinstance(lm, RNNForCausalLM) else "transformer"
    if kind != model_cfg.kind:
        raise SeqgenError(
            f"model.pretrained={model_cfg.pretrained} holds a {kind} model but model.kind is {model_cfg.kind}"
        )
    return lm


def load_generator(directory: str | os.PathLike) -> Generator:
    """A generator saved by `Generator.save` (or any local causal-LM `save_pretrained` folder), in eval mode.

    Offline and pickle-free: only config.json and model.safetensors are read. Every way the folder can be bad
    (missing, unreadable config, missing/corrupt weights, tensors that do not fit the config) is one
    `SeqgenError` line naming the path.
    """
    from seqgen.atomic import recover_dir

    folder = recover_dir(Path(directory))  # a save interrupted between its two renames is undone first
    if not folder.is_dir():
        raise SeqgenError(f"generator folder not found: {folder}")
    cfg_path, weights = folder / "config.json", folder / "model.safetensors"
    if not cfg_path.is_file():
        raise SeqgenError(f"generator folder has no config.json: {folder}")
    try:
        json.loads(cfg_path.read_text(encoding="utf-8"))
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except _LOAD_ERRORS as e:
        raise SeqgenError(f"invalid generator config {cfg_path}: {_reason(e)}") from None
    if not weights.is_file():
        raise SeqgenError(f"generator folder has no model.safetensors: {folder}")
    _check_weights(weights, config)
    try:
        with quiet_transformers():
            lm, info = AutoModelForCausalLM.from_pretrained(
                str(folder), config=config, local_files_only=True, output_loading_info=True
            )
    except (*_LOAD_ERRORS, SafetensorError) as e:
        raise SeqgenError(f"cannot load the generator in {folder}: {_reason(e)}") from None
    bad = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if bad:
        detail = "; ".join(
            f"{k.replace('_', ' ')}: {', '.join(sorted(map(str, v))[:3])}" for k, v in bad.items()
        )
        raise SeqgenError(f"model.safetensors does not match config.json in {folder} ({detail})")
    return Generator(lm)


def _check_weights(path: Path, config: PretrainedConfig) -> None:
    """Check model.safetensors against config.json before loading, so every failure names the tensor and path.

    The header is parsed (safetensors checks that it covers the file exactly, so truncated or garbage files
    fail here; there is no checksum, so flipped bytes inside the data are not detectable by any loader), then
    each stored shape is compared with a shape-only (meta device) model built from the config.
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            stored = {key: list(f.get_slice(key).get_shape()) for key in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise SeqgenError(f"corrupt model.safetensors ({_reason(e)}): {path}") from None
    try:
        with torch.device("meta"), quiet_transformers():
            expected = {
                k: list(v.shape) for k, v in AutoModelForCausalLM.from_config(config).state_dict().items()
            }
    except _LOAD_ERRORS as e:
        raise SeqgenError(
            f"cannot build the model described by {path.parent / 'config.json'}: {_reason(e)}"
        ) from None
    for key, shape in stored.items():
        if key in expected and expected[key] != shape:
            raise SeqgenError(
                f"tensor {key} has shape {shape} in model.safetensors, "
                f"config.json needs {expected[key]}: {path}"
            )


def _reason(e: BaseException) -> str:
    """The first line of an error; for a config validator's error, the validator's own message."""
    if isinstance(e, StrictDataclassError) and e.__cause__ is not None:
        e = e.__cause__
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__
