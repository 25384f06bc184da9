"""GPT-style Transformer generators: a fresh `GPT2LMHeadModel` from the config, or a pretrained folder.

GPT-2 is used as the architecture because transformers' implementation is fast (SDPA attention, a KV `Cache`
whose length sets the positions of new tokens) and its folders load anywhere with `AutoModelForCausalLM`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    Cache,
    DynamicCache,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
)
from transformers.cache_utils import DynamicLayer

from seqgen.errors import SeqgenError
from seqgen.models.checked_loading import LOAD_ERRORS, check_weights, load_checked, reason, safetensors_files
from seqgen.models.config import ModelConfig


def gpt2_config(
    model_cfg: ModelConfig, vocab_size: int, *, pad_id: int, bos_id: int, eos_id: int
) -> GPT2Config:
    """The GPT2Config for `model_cfg`: one dropout knob drives residual, embedding and attention dropout."""
    if model_cfg.d_model % model_cfg.num_heads:
        raise SeqgenError(
            f"model.num_heads={model_cfg.num_heads} does not divide model.d_model={model_cfg.d_model}"
        )
    return GPT2Config(
        vocab_size=vocab_size,
        n_positions=model_cfg.context,
        n_embd=model_cfg.d_model,
        n_layer=model_cfg.num_layers,
        n_head=model_cfg.num_heads,
        resid_pdrop=model_cfg.dropout,
        embd_pdrop=model_cfg.dropout,
        attn_pdrop=model_cfg.dropout,
        pad_token_id=pad_id,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
    )


def build_transformer(
    model_cfg: ModelConfig, vocab_size: int, *, pad_id: int, bos_id: int, eos_id: int
) -> GPT2LMHeadModel:
    """A randomly initialised GPT-2 causal LM (tied input/output embeddings, as GPT-2 does)."""
    cfg = gpt2_config(model_cfg, vocab_size, pad_id=pad_id, bos_id=bos_id, eos_id=eos_id)
    return GPT2LMHeadModel(cfg)


def load_pretrained_lm(name_or_path: str) -> PreTrainedModel:
    """A causal LM from a local `save_pretrained` folder (offline-safe) or, online only, a hub name.

    Any failure is one `SeqgenError` line: a folder that does not load, or a name that is neither a folder nor
    reachable on the hub (offline, misspelt, private).
    """
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return _load_local(local, f"model.pretrained={name_or_path}")
    if local.exists() or name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise SeqgenError(f"pretrained model folder not found: {local}")
    try:  # the local hub cache first: works offline and skips the hub's retries when the model is cached
        return AutoModelForCausalLM.from_pretrained(name_or_path, local_files_only=True, use_safetensors=True)
    except Exception:
        pass
    try:  # use_safetensors: never download or unpickle .bin weights, which can run code when loaded
        return AutoModelForCausalLM.from_pretrained(name_or_path, use_safetensors=True)
    except Exception as e:  # network, auth, unknown repo, bad files: all mean "cannot get it"
        raise SeqgenError(
            f"pretrained model '{name_or_path}' is not a local folder and could not be fetched from the hub "
            f"(offline or unknown name): {_first_line(e)}"
        ) from None


def _load_local(folder: Path, name: str) -> PreTrainedModel:
    """A local `save_pretrained` folder, read like a run's generator (`load_generator`), offline: config.json,
    then the safetensors weights checked against it (truncated files, wrong shapes) before loading; pickle
    weights are refused unopened. Every failure is one line naming the file."""
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise SeqgenError(f"{name} has no config.json: {folder}")
    try:
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except LOAD_ERRORS as e:
        raise SeqgenError(f"invalid model config {cfg_path}: {reason(e)}") from None
    files = safetensors_files(folder, name)  # before anything reads the weights
    build = cache(lambda: AutoModelForCausalLM.from_config(config))  # one meta model for all shards
    for path in files:
        check_weights(path, build)
    return load_checked(AutoModelForCausalLM, folder, config, "pretrained model")


def check_vocab(lm: PreTrainedModel, vocab_size: int, where: str) -> None:
    """The LM's output size must equal the tokenizer's vocabulary, or ids would mean different tokens."""
    lm_vocab = lm.get_output_embeddings().weight.shape[0]
    if lm_vocab != vocab_size:
        raise SeqgenError(
            f"the model in {where} has a vocabulary of {lm_vocab} but the tokenizer has {vocab_size}; "
            "use the model's own tokenizer (tokenizer.path)"
        )


class _PreallocatedLayer(DynamicLayer):
    """A `DynamicLayer` whose keys/values live in a buffer sized for the whole sample.

    `DynamicLayer.update` concatenates, copying the entire cache on every step: for small models on CPU that
    copy is most of the sampling time (O(T^2) memory traffic). Here a step copies only the new token and the
    layer exposes views of the filled part, so attention sees exactly the cached tokens (no mask needed).
    """

    is_croppable = False

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        b, h = key_states.shape[:2]
        self._k = key_states.new_empty((b, h, self.capacity, key_states.shape[-1]))
        self._v = value_states.new_empty((b, h, self.capacity, value_states.shape[-1]))
        self.keys, self.values = self._k[:, :, :0], self._v[:, :, :0]
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise ValueError(f"KV cache holds {self.capacity} positions; {end} requested")
        self._k[:, :, self.length : end] = key_states
        self._v[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self._k[:, :, :end], self._v[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def reset(self) -> None:
        super().reset()
        self.length = 0


class PreallocatedCache(DynamicCache):
    """A KV cache for `capacity` positions per layer, filled without copying what is already cached."""

    def __init__(self, num_layers: int, capacity: int):
        Cache.__init__(self, layers=[_PreallocatedLayer(capacity) for _ in range(num_layers)])


def new_kv_cache(lm: PreTrainedModel, capacity: int) -> Cache | None:
    """A preallocated cache for GPT-2 models; None (the model's own default cache) for other architectures,
    whose layer layouts (sliding windows, linear attention) the library knows and this helper does not."""
    if isinstance(lm, GPT2LMHeadModel) and not lm.config.add_cross_attention:
        return PreallocatedCache(lm.config.n_layer, capacity)
    return None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
