"""Sequence discriminators (CNN, RNN, Transformer): V(x), the logit that x is real, for adversarial training
and the classifier two-sample test.

Interface (what objectives and metrics rely on)
-----------------------------------------------
``disc(input_ids)`` or ``disc(one_hot=rows)`` returns a `DiscriminatorOutput`:

- ``logits`` (B,): the sequence logit V(x); D(x) = sigmoid(V(x)) is the probability that x is real.
- ``token_logits`` (B, L), only with ``return_token_logits=True``: the logit of every *prefix*,
  ``token_logits[:, t] = V(x_1..x_t)`` (dense rewards, ScratchGAN style). It depends only on tokens <= t
  (left-padded convolutions with a running max, a unidirectional RNN, causal attention), and at a row's last
  real token it equals ``logits`` exactly: one head scores prefixes and whole sequences alike. Pad positions
  hold 0.

Inputs are token ids (B, L) long, or soft one-hot rows (B, L, V) float. Both are embedded as ``one_hot @ E``
(the ids path is the same product done as a lookup), so a gradient penalty can differentiate V with respect to
the rows (GAN-GP at interpolates, DRAGAN at perturbed data) and exact one-hot rows score like their ids.

Rows are right-padded (BOS ... EOS, then pad, as `seqgen.data.encoding.collate` makes them). The real length
of each row comes from ``attention_mask`` (1 = real, a prefix of each row) or ``lengths``; by default, from
``input_ids != pad_id``, or for soft rows from ``argmax(row) != pad_id`` (so an exact one-hot batch and its
ids get the same mask, and an interpolate of two rows counts as padding where its heavier side is pad).
Appending padding never changes any logit at a real position: every kind is causal, and the sequence logit is
read at the last real token.

Kinds
-----
- ``cnn`` (SeqGAN, Yu et al. 2017): Conv1d filters of several widths (default 2, 3, 4, 5; ``num_filters``
  each) over the embeddings, ReLU, max over time, one highway layer, dropout, a linear head. The convolutions
  are padded on the left only (causal), and "max over time" is a running maximum, so position t pools the
  windows that end at or before t; the sequence logit pools the whole row.
- ``rnn``: LSTM or GRU (``cell``) over the embeddings; a linear head on the state at each position; the
  sequence logit is the head on the state at the last real token.
- ``transformer``: transformers' `GPT2Model` (causal self-attention, learned positions, width
  ``hidden_dim``, ``max_len`` positions) with a linear head; the sequence logit is read at the last real
  position, which under causal attention is the only position that has seen the whole row. GPT-2 rather than
  hand-built torch layers: it is the generator's own architecture and implementation (SDPA attention, tested
  masking), it accepts ``inputs_embeds`` (the soft one-hot path), and a generator's transformer weights could
  seed a discriminator of the same shape.

Models are transformers `PreTrainedModel`s: `save_discriminator` writes config.json + model.safetensors
atomically, and `load_discriminator` reads them back without unpickling, turning every kind of bad folder
into a one-line `SeqgenError`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from huggingface_hub.errors import StrictDataclassError
from torch import nn
from transformers import GPT2Config, GPT2Model, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from seqgen.atomic import atomic_dir, recover_dir
from seqgen.errors import SeqgenError
from seqgen.models.checked_loading import LOAD_ERRORS, check_weights, load_checked, quiet_transformers, reason
from seqgen.models.discriminator_config import KINDS, DiscriminatorConfig

__all__ = [
    "KINDS",
    "DiscriminatorConfig",
    "DiscriminatorOutput",
    "SequenceDiscriminator",
    "build_discriminator",
    "save_discriminator",
    "load_discriminator",
]


@dataclass
class DiscriminatorOutput(ModelOutput):
    """`logits` (B,): sequence logits V(x). `token_logits` (B, L): prefix logits (0 at pad), if asked for."""

    logits: torch.Tensor | None = None
    token_logits: torch.Tensor | None = None


class _Highway(nn.Module):
    """y = g * relu(W_h x) + (1 - g) * x, gate g = sigmoid(W_g x) (Srivastava et al. 2015), as in SeqGAN."""

    def __init__(self, size: int):
        super().__init__()
        self.transform = nn.Linear(size, size)
        self.gate = nn.Linear(size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.gate(x))
        return g * F.relu(self.transform(x)) + (1.0 - g) * x


class SequenceDiscriminator(PreTrainedModel):
    """V(x) for token sequences: a CNN, RNN or Transformer body under one linear head (see the module doc)."""

    config: DiscriminatorConfig
    config_class = DiscriminatorConfig
    base_model_prefix = "discriminator"
    main_input_name = "input_ids"

    def __init__(self, config: DiscriminatorConfig):
        super().__init__(config)
        self.drop = nn.Dropout(config.dropout)
        if config.kind == "transformer":
            self.encoder = GPT2Model(
                GPT2Config(
                    vocab_size=config.vocab_size,
                    n_positions=config.max_len,
                    n_embd=config.hidden_dim,
                    n_layer=config.num_layers,
                    n_head=config.num_heads,
                    resid_pdrop=config.dropout,
                    embd_pdrop=config.dropout,
                    attn_pdrop=config.dropout,
                    pad_token_id=config.pad_token_id,
                    bos_token_id=None,  # GPT-2's defaults (50256) lie outside small vocabularies
                    eos_token_id=None,
                )
            )
            features = config.hidden_dim
        else:
            self.embed = nn.Embedding(config.vocab_size, config.emb_dim)
            if config.kind == "cnn":
                self.convs = nn.ModuleList(
                    nn.Conv1d(config.emb_dim, config.num_filters, w) for w in config.filter_widths
                )
                features = config.num_filters * len(config.filter_widths)
                self.highway = _Highway(features)
            else:
                rnn_cls = nn.LSTM if config.cell == "lstm" else nn.GRU
                self.rnn = rnn_cls(
                    config.emb_dim,
                    config.hidden_dim,
                    num_layers=config.num_layers,
                    batch_first=True,
                    dropout=config.dropout if config.num_layers > 1 else 0.0,
                )
                features = config.hidden_dim
        self.head = nn.Linear(features, 1)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # `init.*` skip tensors already loaded from a checkpoint, so this is safe during from_pretrained.
        # Fan-in scaled weights keep every layer's output (and so the initial logits) at unit scale; the
        # GPT-2 body is initialised by its own `_init_weights` (transformers dispatches sub-models).
        if isinstance(module, nn.Embedding):
            init.normal_(module.weight, std=self.config.initializer_range)
        elif isinstance(module, nn.Linear | nn.Conv1d):
            fan_in = module.weight[0].numel()
            init.normal_(module.weight, std=fan_in**-0.5)
            init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM | nn.GRU):
            bound = module.hidden_size**-0.5
            for param in module.parameters():
                init.uniform_(param, -bound, bound)

    # ------------------------------------------------------------------ facts from the config
    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def pad_id(self) -> int:
        return self.config.pad_token_id

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.wte if self.kind == "transformer" else self.embed

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        if self.kind == "transformer":
            self.encoder.wte = value
        else:
            self.embed = value

    # ------------------------------------------------------------------ scoring
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        *,
        one_hot: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        return_token_logits: bool = False,
    ) -> DiscriminatorOutput:
        """Sequence logits (B,) and, with `return_token_logits`, prefix logits (B, L) (see the module doc).

        Give exactly one of `input_ids` (B, L) long and `one_hot` (B, L, V) float, and at most one of
        `attention_mask` (B, L) and `lengths` (B,); without either, pad tokens mark the padding.
        """
        if (input_ids is None) == (one_hot is None):
            raise ValueError("give exactly one of input_ids (B, L) and one_hot (B, L, V)")
        if attention_mask is not None and lengths is not None:
            raise ValueError("give at most one of attention_mask and lengths")
        emb_weight = self.get_input_embeddings().weight
        if input_ids is not None:
            if input_ids.dim() != 2 or input_ids.is_floating_point():
                raise ValueError(f"input_ids must be a (B, L) integer tensor, got {tuple(input_ids.shape)}")
            tokens = input_ids
            x = F.embedding(input_ids, emb_weight)
        else:
            if one_hot.dim() != 3 or one_hot.shape[-1] != self.vocab_size:
                raise ValueError(f"one_hot must be (B, L, {self.vocab_size}), got {tuple(one_hot.shape)}")
            tokens = one_hot.argmax(-1)
            x = one_hot.to(emb_weight.dtype) @ emb_weight
        batch, length = tokens.shape
        if self.kind == "transformer" and length > self.config.max_len:
            raise SeqgenError(
                f"sequences of {length} tokens exceed the transformer discriminator's max_len="
                f"{self.config.max_len}"
            )
        if lengths is None:
            mask = tokens != self.pad_id if attention_mask is None else attention_mask.bool()
            lengths = mask.sum(dim=1)
        else:
            mask = torch.arange(length, device=tokens.device) < lengths.to(tokens.device)[:, None]

        last = (lengths.to(tokens.device).long() - 1).clamp(min=0)
        rows = torch.arange(batch, device=tokens.device)
        if self.kind == "cnn" and not return_token_logits:
            # The running max at the last real token is the max over the real positions; ReLU maps are >= 0,
            # so zeroing the padding leaves that max exact. Half the cost of cummax and its backward.
            maps = self._conv_maps(x)
            pooled = maps.masked_fill(~mask[:, :, None], 0.0).amax(dim=1)
            return DiscriminatorOutput(logits=self._head(pooled))
        features = self._features(x)  # (B, L, F): causal, position t has seen tokens <= t
        if return_token_logits:
            token_logits = self._head(features).masked_fill(~mask, 0.0)
            return DiscriminatorOutput(logits=token_logits[rows, last], token_logits=token_logits)
        return DiscriminatorOutput(logits=self._head(features[rows, last]))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, E) embeddings -> (B, L, F) causal features (before the head's highway/dropout)."""
        if self.kind == "transformer":
            return self.encoder(inputs_embeds=x, use_cache=False).last_hidden_state
        if self.kind == "rnn":
            states, _ = self.rnn(self.drop(x))
            return states
        return self._conv_maps(x).cummax(dim=1).values  # running max over time

    def _conv_maps(self, x: torch.Tensor) -> torch.Tensor:
        """cnn: (B, L, E) -> (B, L, F) ReLU feature maps of the left-padded (causal) convolutions."""
        x = x.transpose(1, 2)  # (B, E, L) for Conv1d
        maps = [F.relu(conv(F.pad(x, (conv.kernel_size[0] - 1, 0)))) for conv in self.convs]
        return torch.cat(maps, dim=1).transpose(1, 2)

    def _head(self, features: torch.Tensor) -> torch.Tensor:
        """(..., F) features -> (...) logits."""
        if self.kind == "cnn":
            features = self.highway(features)
        return self.head(self.drop(features)).squeeze(-1)


# ============================================================================================================
# Build, save, load
# ============================================================================================================


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Draw from torch's global RNGs seeded with `seed` and restore its state afterwards (no-op for None)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):  # manual_seed seeds CUDA too
        torch.manual_seed(seed)
        yield


def build_discriminator(
    kind: str,
    vocab_size: int,
    pad_id: int,
    *,
    emb_dim: int = 64,
    hidden_dim: int = 64,
    num_layers: int = 1,
    filter_widths: Sequence[int] = (2, 3, 4, 5),
    num_filters: int = 64,
    num_heads: int = 4,
    max_len: int = 64,
    dropout: float = 0.0,
    cell: str = "lstm",
    seed: int | None = None,
) -> SequenceDiscriminator:
    """A freshly initialised discriminator of `kind` (cnn, rnn or transformer), in train mode, on the CPU.

    With `seed`, initialisation is reproducible and leaves torch's global RNG as it was; without it, the
    global RNG is used (seed it first). Impossible settings raise a one-line `SeqgenError`.
    """
    try:
        config = DiscriminatorConfig(
            kind=kind,
            vocab_size=vocab_size,
            emb_dim=emb_dim,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            filter_widths=list(filter_widths),
            num_filters=num_filters,
            num_heads=num_heads,
            max_len=max_len,
            dropout=dropout,
            cell=cell,
            pad_token_id=pad_id,
        )
    except (ValueError, TypeError, StrictDataclassError) as e:
        raise SeqgenError(f"invalid discriminator settings: {reason(e)}") from None
    with _seeded(seed):
        return SequenceDiscriminator(config)


def save_discriminator(model: SequenceDiscriminator, directory: str | os.PathLike) -> None:
    """Write `model` as a `save_pretrained` folder (config.json + model.safetensors), atomically.

    A crash never leaves a half-written folder; an existing folder is replaced only once the new one is whole.
    """
    with atomic_dir(directory) as tmp, quiet_transformers():
        model.save_pretrained(tmp)


def load_discriminator(directory: str | os.PathLike, vocab_size: int | None = None) -> SequenceDiscriminator:
    """A discriminator saved by `save_discriminator`, in eval mode; with `vocab_size`, it must match.

    Offline and pickle-free: only config.json and model.safetensors are read. Every way the folder can be bad
    (missing, not a discriminator's config, invalid settings, missing/truncated/corrupt weights, tensors that
    do not fit the config, another vocabulary) is one `SeqgenError` line naming the path.
    """
    folder = recover_dir(Path(directory))
    if not folder.is_dir():
        raise SeqgenError(f"discriminator folder not found: {folder}")
    cfg_path, weights = folder / "config.json", folder / "model.safetensors"
    if not cfg_path.is_file():
        raise SeqgenError(f"discriminator folder has no config.json: {folder}")
    try:
        raw = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise SeqgenError(f"invalid discriminator config {cfg_path}: {reason(e)}") from None
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    if model_type != DiscriminatorConfig.model_type:
        raise SeqgenError(
            f"{cfg_path} describes a {model_type!r} model, not a seqgen discriminator "
            f"(model_type {DiscriminatorConfig.model_type!r})"
        )
    try:
        config = DiscriminatorConfig.from_pretrained(str(folder), local_files_only=True)
    except LOAD_ERRORS as e:
        raise SeqgenError(f"invalid discriminator config {cfg_path}: {reason(e)}") from None
    if vocab_size is not None and config.vocab_size != vocab_size:
        raise SeqgenError(
            f"the discriminator in {folder} has a vocabulary of {config.vocab_size} but the tokenizer has "
            f"{vocab_size}"
        )
    if not weights.is_file():
        raise SeqgenError(f"discriminator folder has no model.safetensors: {folder}")
    check_weights(weights, lambda: SequenceDiscriminator(config))
    return load_checked(SequenceDiscriminator, folder, config, "discriminator")
