"""`DiscriminatorConfig`: the hyper-parameters of a `seqgen.models.discriminator.SequenceDiscriminator`.

A strict (type-checked, validated) transformers `PretrainedConfig`, so it is what `save_pretrained` writes to
config.json and what `from_pretrained` reads back. Its fields and their meaning per kind are described in
`seqgen.models.discriminator`.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PretrainedConfig

KINDS = ("cnn", "rnn", "transformer")


@strict
class DiscriminatorConfig(PretrainedConfig):
    """Hyper-parameters of `SequenceDiscriminator`; a dataclass, type-checked on set and validated after init.

    Which fields matter depends on `kind`: cnn uses emb_dim, filter_widths, num_filters; rnn uses emb_dim,
    hidden_dim, num_layers, cell; transformer uses hidden_dim (its width), num_layers, num_heads, max_len.
    `dropout` applies to every kind.
    """

    model_type = "seqgen_discriminator"

    kind: str = "cnn"
    vocab_size: int = 64
    emb_dim: int = 64
    hidden_dim: int = 64
    num_layers: int = 1
    filter_widths: list[int] | tuple[int, ...] = (2, 3, 4, 5)
    num_filters: int = 64
    num_heads: int = 4
    max_len: int = 64
    dropout: float | int = 0.0
    cell: str = "lstm"
    initializer_range: float = 0.5  # std of the cnn/rnn embedding init (GPT-2 keeps its own 0.02)
    pad_token_id: int | None = 0

    def validate_discriminator(self) -> None:
        """Run by `@strict` after init: settings that cannot build a model."""
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {self.cell!r}")
        for name in (
            "vocab_size",
            "emb_dim",
            "hidden_dim",
            "num_layers",
            "num_filters",
            "num_heads",
            "max_len",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        widths = self.filter_widths
        if (
            not isinstance(widths, list | tuple)
            or not widths
            or any(not isinstance(w, int) or w < 1 for w in widths)
        ):
            raise ValueError(
                f"filter_widths must be a non-empty list of widths >= 1, got {self.filter_widths}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pad_token_id is None or not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad id {self.pad_token_id} is outside the vocabulary [0, {self.vocab_size})")
        if self.kind == "transformer" and self.hidden_dim % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} does not divide hidden_dim={self.hidden_dim}")
