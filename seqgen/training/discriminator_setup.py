"""The discriminator of an adversarial run, built from `adv.*` (resumed runs get its weights from the
checkpoint's Accelerate state)."""

from __future__ import annotations

from typing import Any

from seqgen.models.discriminator import SequenceDiscriminator, build_discriminator
from seqgen.objectives.adversarial.config import filter_widths
from seqgen.run_folder import Config


def build_run_discriminator(cfg: Config, tokenizer: Any) -> SequenceDiscriminator:
    a = cfg.adv
    return build_discriminator(
        a.discriminator,
        tokenizer.vocab_size,
        tokenizer.pad_id,
        emb_dim=a.d_emb_dim,
        hidden_dim=a.d_hidden_dim,
        num_layers=a.d_num_layers,
        filter_widths=filter_widths(a.d_filter_widths),
        num_filters=a.d_num_filters,
        num_heads=a.d_num_heads,
        max_len=cfg.data.max_len,
        dropout=a.d_dropout,
        seed=cfg.train.seed + 1,  # its own stream: the generator's initialisation is unchanged by it
    )
