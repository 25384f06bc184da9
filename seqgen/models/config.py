"""`model.*`: which generator to build (DESIGN §4). Checked on construction, in the words of its keys."""

from __future__ import annotations

from dataclasses import dataclass

from seqgen.errors import SeqgenError, Settings, setting

KINDS = ("lstm", "gru", "transformer", "independent")
POSITIONAL = ("transformer", "independent")  # kinds with a fixed number of positions (model.context)


@dataclass
class ModelConfig(Settings):
    section = "model"

    kind: str = setting(
        "lstm",
        "lstm, gru, transformer, or independent (one learned categorical per position, Q(x) = "
        "prod_t q_t(x_t): a capacity-limited model that cannot represent any dependence between positions)",
        KINDS,
    )
    pretrained: str | None = setting(None, "a local save_pretrained folder to start from (transformer)")
    emb_dim: int = setting(128, "RNN embedding size")
    hidden_dim: int = setting(256, "RNN hidden size")
    num_layers: int = setting(1, "RNN or Transformer layers")
    dropout: float = setting(0.0, "dropout probability")
    tie_embeddings: bool = setting(
        False, "RNN: share input embedding and output projection (needs emb_dim == hidden_dim)"
    )
    d_model: int = setting(256, "Transformer width")
    num_heads: int = setting(4, "Transformer attention heads")
    context: int = setting(
        128, "Transformer maximum sequence length (positions); independent: positions it has logits for"
    )

    def check(self) -> None:
        self.at_least(1, "num_layers", "emb_dim", "hidden_dim", "d_model", "num_heads", "context")
        self.within("dropout", 0.0, 1.0, high_open=True)
        if self.kind == "transformer" and self.d_model % self.num_heads:
            raise SeqgenError(
                f"model.num_heads={self.num_heads} does not divide model.d_model={self.d_model}"
            )
        if self.tie_embeddings and self.kind in ("lstm", "gru") and self.emb_dim != self.hidden_dim:
            raise SeqgenError(
                "model.tie_embeddings needs model.emb_dim == model.hidden_dim "
                f"(got {self.emb_dim} and {self.hidden_dim})"
            )


def check_fits_rows(model: ModelConfig, max_len: int) -> None:
    """A row of `max_len` tokens feeds the model max_len - 1 inputs (the last token is only a target): a
    Transformer or an independent-positions model must have that many positions."""
    if model.kind in POSITIONAL and max_len - 1 > model.context:
        raise SeqgenError(
            f"data.max_len={max_len} needs {max_len - 1} positions but model.context={model.context}"
        )
