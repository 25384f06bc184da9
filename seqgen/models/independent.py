"""The independent-positions generator: one learned categorical per position, Q(x) = prod_t q_t(x_t).

A capacity-limited model on purpose (DESIGN §7): JS_pi, KL(P||Q) and KL(Q||P) share their minimiser P only
when the model can represent P, so the class balance pi of an adversarial objective can matter only for a
model that cannot. This one cannot represent any dependence between positions: the logits at position t are
row t of a (positions x vocab) table and never depend on the tokens read before. Its maximum-likelihood
optimum is the product of the data's per-position marginals.

EOS is an ordinary token of every row, so where a sequence ends is learned as a per-position probability
(as the other generators learn it from their context). The incremental state is the number of positions
already read, so `Generator.sample` drives it with the same loop as an RNN state or a KV cache, and
transformers' `generate()` works through `StateGenerationMixin` (see seqgen.models.state_generation).

Like the RNN, a transformers `PreTrainedModel`: `save_pretrained` writes config.json + model.safetensors and
`AutoModelForCausalLM.from_pretrained(folder)` rebuilds it once seqgen has registered the classes (`import
seqgen` does).
"""

from __future__ import annotations

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import CausalLMOutputWithPast

from seqgen.errors import SeqgenError
from seqgen.models.cache_names import causal_lm_output
from seqgen.models.state_generation import StateGenerationMixin, is_left_padded


@strict
class IndependentConfig(PretrainedConfig):
    """Hyper-parameters of `IndependentForCausalLM`: the vocabulary and how many positions it has logits for.

    `max_position_embeddings` is an alias of `context`, the name transformers' tools read for a context size.
    """

    model_type = "seqgen_independent"
    attribute_map = {"max_position_embeddings": "context"}

    vocab_size: int = 64
    context: int = 128
    initializer_range: float = 0.1  # std of the initial logits: near uniform, but seeds give different starts
    tie_word_embeddings: bool = False  # there is no input embedding to tie to
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2

    def validate_independent(self) -> None:
        """Run by `@strict` after init: settings that cannot build a model."""
        for name in ("vocab_size", "context"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.initializer_range >= 0:
            raise ValueError(f"initializer_range must be >= 0, got {self.initializer_range}")


class IndependentForCausalLM(PreTrainedModel, StateGenerationMixin):
    """logits[b, t] = table[start + t], where `start` is the number of positions already read (the state).

    The table is an `nn.Embedding` of positions: looking a position up gives its logits over the vocabulary.
    """

    config: IndependentConfig
    config_class = IndependentConfig
    base_model_prefix = "independent"
    main_input_name = "input_ids"
    _is_stateful = True  # generate(): no assisted decoding (seqgen.models.state_generation)

    def __init__(self, config: IndependentConfig):
        super().__init__(config)
        self.position_logits = nn.Embedding(config.context, config.vocab_size)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # `init.*` skip tensors already loaded from a checkpoint, so this is safe during from_pretrained.
        if isinstance(module, nn.Embedding):
            init.normal_(module.weight, std=self.config.initializer_range)

    def get_input_embeddings(self) -> nn.Module:
        # transformers' convention for a model without input embeddings (its tools catch this error).
        raise NotImplementedError("the independent-positions model reads no input embeddings")

    def set_input_embeddings(self, value: nn.Module) -> None:
        raise NotImplementedError("the independent-positions model reads no input embeddings")

    def get_output_embeddings(self) -> None:
        return None

    def forward(
        self,
        input_ids: torch.LongTensor,
        cache: int | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        attention_mask: torch.Tensor | None = None,
        past_key_values: int | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        """Logits (B, T, V) for positions start .. start + T - 1, start = the state `cache` (or its old name
        `past_key_values`; 0 when None); the state returned is start + T when `use_cache` is true.

        The token ids only give the shape: that is the model. `attention_mask` is accepted for API
        compatibility; a left-padded batch (rows of different lengths, whose positions would differ) is
        refused. `labels` gives the usual shifted cross-entropy (ignore index -100).
        """
        state = cache if cache is not None else past_key_values
        start = int(state or 0)
        b, n = input_ids.shape
        if start + n > self.config.context:
            raise SeqgenError(
                f"the independent-positions model has logits for {self.config.context} positions "
                f"(model.context), asked for position {start + n}"
            )
        if start == 0 and is_left_padded(attention_mask):
            raise SeqgenError(
                "the independent-positions model cannot read a left-padded batch (its rows' positions would "
                "differ): give prompts of the same length"
            )
        positions = torch.arange(start, start + n, device=self.position_logits.weight.device)
        logits = self.position_logits(positions).unsqueeze(0).expand(b, n, -1)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)).float(),
                labels[:, 1:].reshape(-1),
                ignore_index=-100,
            )
        return causal_lm_output(loss=loss, logits=logits, state=start + n if use_cache else None)
