"""LSTM/GRU language model as a transformers `PreTrainedModel`.

Being a `PreTrainedModel` buys the whole checkpoint story for free: `save_pretrained` writes config.json +
model.safetensors (tied weights stored once), and `AutoModelForCausalLM.from_pretrained(folder)` rebuilds it
once seqgen has registered the classes (`import seqgen` does). The recurrent state travels in the cache slot
of the input and output (`cache`, `past_key_values` before transformers 5.x renamed it), so callers use the
same keyword as for a Transformer's KV cache.

`generate()` works through `StateGenerationMixin` (greedy, sampling, beam search; see
seqgen.models.state_generation), and gives the same tokens as `seqgen.models.Generator.sample` with the same
settings. Left-padded batches (transformers' convention for batched prompts) are read as if each row started
at its first real token.
"""

from __future__ import annotations

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import PretrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import CausalLMOutputWithPast

from seqgen.models.cache_names import causal_lm_output
from seqgen.models.state_generation import StateGenerationMixin, is_left_padded

RNNState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@strict
class RNNConfig(PretrainedConfig):
    """Hyper-parameters of `RNNForCausalLM`; a dataclass (transformers v5 configs are), type-checked on set.

    `tie_embeddings` is an alias of transformers' own `tie_word_embeddings` flag, which is the one the library
    reads to tie `lm_head.weight` to `embed.weight` on init and on load.
    """

    model_type = "seqgen_rnn"
    attribute_map = {
        "tie_embeddings": "tie_word_embeddings",
        "hidden_size": "hidden_dim",
        "num_hidden_layers": "num_layers",
    }

    vocab_size: int = 64
    cell: str = "lstm"
    emb_dim: int = 128
    hidden_dim: int = 256
    num_layers: int = 1
    dropout: float | int = 0.0
    tie_word_embeddings: bool = False
    initializer_range: float = 0.5  # std of the embedding init
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2

    def validate_rnn(self) -> None:
        """Run by `@strict` after init: settings that cannot build a model."""
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {self.cell!r}")
        for name in ("vocab_size", "emb_dim", "hidden_dim", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.tie_word_embeddings and self.emb_dim != self.hidden_dim:
            raise ValueError(
                f"tied embeddings need emb_dim == hidden_dim, got {self.emb_dim} and {self.hidden_dim}"
            )


class RNNForCausalLM(PreTrainedModel, StateGenerationMixin):
    """Embedding -> dropout -> LSTM/GRU (batch_first; dropout between layers) -> dropout -> Linear to vocab.

    Dropout on the embedding output as well as on the RNN output is the usual recipe for RNN LMs (Zaremba et
    al. 2014); it is one knob (`dropout`) for all of them.
    """

    config: RNNConfig
    config_class = RNNConfig
    base_model_prefix = "rnn"
    main_input_name = "input_ids"
    # v5 form: {target: source}; applied only when config.tie_word_embeddings is true.
    _tied_weights_keys = {"lm_head.weight": "embed.weight"}
    _is_stateful = True  # generate(): no assisted decoding (seqgen.models.state_generation)

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        rnn_cls = nn.LSTM if config.cell == "lstm" else nn.GRU
        self.embed = nn.Embedding(config.vocab_size, config.emb_dim)
        self.rnn = rnn_cls(
            config.emb_dim,
            config.hidden_dim,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.hidden_dim, config.vocab_size)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # `init.*` skip tensors already loaded from a checkpoint (flagged `_is_hf_initialized`), so this is
        # safe to run during from_pretrained. Embeddings N(0, initializer_range^2): large enough that the
        # input moves the RNN's gates from the first step (tiny embeddings make early training crawl). The
        # output layer is fan-in scaled, so initial logits have the spread of the hidden state whatever its
        # size. RNN weights keep PyTorch's own U(-1/sqrt(H), 1/sqrt(H)).
        if isinstance(module, nn.Embedding):
            init.normal_(module.weight, std=self.config.initializer_range)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, std=module.in_features**-0.5)
            init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM | nn.GRU):
            bound = module.hidden_size**-0.5
            for param in module.parameters():
                init.uniform_(param, -bound, bound)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def forward(
        self,
        input_ids: torch.LongTensor,
        cache: RNNState | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        attention_mask: torch.Tensor | None = None,
        past_key_values: RNNState | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        """Logits for every position; `cache` (or its old name `past_key_values`) is the recurrent state to
        continue from, returned (under the output's cache name) when `use_cache` is true.

        `attention_mask` matters only for a left-padded batch without a state (a first column holding 0):
        each row is then read from its first real token, as if alone. Otherwise it is ignored: the RNN reads
        left to right, so padding after the end of a row never changes the outputs at earlier positions.
        `labels` gives the usual shifted cross-entropy (ignore index -100), as for transformers' causal LMs.
        """
        state = cache if cache is not None else past_key_values
        x = self.drop(self.embed(input_ids))
        if state is None and is_left_padded(attention_mask):
            hidden, state = self._read_left_padded(x, attention_mask)
        else:
            hidden, state = self.rnn(x, state)
        logits = self.lm_head(self.drop(hidden))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)).float(),
                labels[:, 1:].reshape(-1),
                ignore_index=-100,
            )
        return causal_lm_output(loss=loss, logits=logits, state=state if use_cache else None)

    def _read_left_padded(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, RNNState]:
        """The RNN over left-padded rows: each row shifted to start at its first real token, packed (so the
        state is each row's after its last token), and the outputs shifted back (pad positions get 0)."""
        t = x.size(1)
        lengths = mask.sum(dim=1).clamp(min=1)
        pads = (t - lengths).unsqueeze(1)
        steps = torch.arange(t, device=x.device).unsqueeze(0)
        shifted = x.gather(1, ((steps + pads) % t).unsqueeze(-1).expand_as(x))
        packed = pack_padded_sequence(shifted, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        hidden, _ = pad_packed_sequence(out, batch_first=True, total_length=t)
        back = ((steps - pads) % t).unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        return hidden.gather(1, back), state
