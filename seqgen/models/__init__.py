"""Generators (LSTM/GRU, GPT-style Transformers and independent positions) behind one `Generator` interface;
build, save and load.

Importing this package (as `import seqgen` does) registers seqgen's own model classes (RNN, independent
positions, discriminators) with transformers' Auto classes (seqgen.models.registration), so their saved
folders load with `AutoModelForCausalLM.from_pretrained(folder)` like any Transformer folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from huggingface_hub.errors import StrictDataclassError
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel

from seqgen.errors import SeqgenError
from seqgen.models.checked_loading import LOAD_ERRORS, check_weights, load_checked, quiet_transformers, reason
from seqgen.models.config import ModelConfig
from seqgen.models.generator import Generator, kind_of
from seqgen.models.independent import IndependentConfig, IndependentForCausalLM
from seqgen.models.registration import register_auto_classes
from seqgen.models.rnn import RNNConfig, RNNForCausalLM
from seqgen.models.sampling import build_processors, sample_incremental
from seqgen.models.transformer import build_transformer, check_vocab, gpt2_config, load_pretrained_lm

# What transformers raises for a bad folder: file errors, bad JSON/values, config validators, shape errors.

__all__ = [
    "Generator",
    "IndependentConfig",
    "IndependentForCausalLM",
    "RNNConfig",
    "RNNForCausalLM",
    "build_generator",
    "build_processors",
    "gpt2_config",
    "load_generator",
    "register_auto_classes",
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
    if model_cfg.kind == "independent":
        return Generator(
            _build_independent(model_cfg, vocab_size, pad_id=pad_id, bos_id=bos_id, eos_id=eos_id)
        )
    if model_cfg.kind not in ("lstm", "gru"):
        raise SeqgenError(
            f"unknown model kind {model_cfg.kind!r}; expected lstm, gru, transformer or independent"
        )
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
        raise SeqgenError(f"invalid RNN model settings: {reason(e)}") from None
    return Generator(RNNForCausalLM(cfg))


def _build_independent(
    model_cfg: ModelConfig, vocab_size: int, *, pad_id: int, bos_id: int, eos_id: int
) -> IndependentForCausalLM:
    """One categorical per position for `model.context` positions (every other model.* key is unused)."""
    try:
        cfg = IndependentConfig(
            vocab_size=vocab_size,
            context=model_cfg.context,
            pad_token_id=pad_id,
            bos_token_id=bos_id,
            eos_token_id=eos_id,
        )
    except (ValueError, TypeError, StrictDataclassError) as e:  # the config's own validators
        raise SeqgenError(f"invalid independent-positions model settings: {reason(e)}") from None
    return IndependentForCausalLM(cfg)


def _load_pretrained(model_cfg: ModelConfig, vocab_size: int) -> PreTrainedModel:
    with quiet_transformers():
        lm = load_pretrained_lm(model_cfg.pretrained)
    check_vocab(lm, vocab_size, model_cfg.pretrained)
    kind = kind_of(lm)
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
    except LOAD_ERRORS as e:
        raise SeqgenError(f"invalid generator config {cfg_path}: {reason(e)}") from None
    if not weights.is_file():
        raise SeqgenError(f"generator folder has no model.safetensors: {folder}")
    check_weights(weights, lambda: AutoModelForCausalLM.from_config(config))
    lm = load_checked(AutoModelForCausalLM, folder, config, "generator")
    return Generator(lm)
