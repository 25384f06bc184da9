"""`Generator`: the one interface that objectives, training and evaluation use for any causal LM.

It wraps a transformers `PreTrainedModel` as `self.lm`, so checkpoints are plain `save_pretrained` folders.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from transformers import GenerationConfig, PreTrainedModel

from seqgen.atomic import atomic_dir
from seqgen.errors import SeqgenError
from seqgen.models.cache_names import input_name, output_state
from seqgen.models.checked_loading import quiet_transformers
from seqgen.models.independent import IndependentForCausalLM
from seqgen.models.rnn import RNNForCausalLM
from seqgen.models.sampling import build_processors, sample_incremental, start_rows
from seqgen.models.transformer import new_kv_cache

if TYPE_CHECKING:
    from seqgen.data.tokenizer_base import Tokenizer


class Generator(torch.nn.Module):
    """A causal LM over token ids: teacher-forced logits, sequence log-likelihoods, incremental sampling."""

    def __init__(self, lm: PreTrainedModel):
        super().__init__()
        self.lm = lm
        self.train(lm.training)  # one mode for wrapper and LM (from_pretrained returns eval mode)
        self._state_name = input_name(type(lm))  # looked up once: nothing to trace under torch.compile

    # ------------------------------------------------------------------ facts from the LM config
    @property
    def kind(self) -> str:
        return kind_of(self.lm)

    @property
    def device(self) -> torch.device:
        """Where the LM's weights live (every kind has parameters; not every kind has input embeddings)."""
        return next(self.lm.parameters()).device

    @property
    def vocab_size(self) -> int:
        return self.lm.config.vocab_size

    @property
    def pad_id(self) -> int:
        return self.lm.config.pad_token_id

    @property
    def bos_id(self) -> int:
        return self.lm.config.bos_token_id

    @property
    def eos_id(self) -> int:
        return self.lm.config.eos_token_id

    @property
    def max_positions(self) -> int | None:
        """Longest sequence the model can read (Transformer, independent-positions context); None for RNNs."""
        return (
            None
            if isinstance(self.lm, RNNForCausalLM)
            else getattr(self.lm.config, "max_position_embeddings", None)
        )

    def num_parameters(self) -> int:
        """Distinct parameters (a tied embedding matrix counts once)."""
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ scoring
    def forward(
        self, input_ids: torch.Tensor, state: Any = None, return_state: bool = False
    ) -> tuple[torch.Tensor, Any]:
        """Logits (B, T, V) for `input_ids` (B, T) continuing from `state`, and the new state.

        The state is the RNN hidden state or the Transformer's KV cache (positions continue from its length),
        passed under the name the installed transformers uses (seqgen.models.cache_names).
        Without a state and without `return_state` no cache is built (the fast path for training) and the
        returned state is None. Rows may be right-padded: attention is causal, so padding never changes the
        logits at earlier positions.
        """
        use_cache = return_state or state is not None
        if self.kind == "transformer":
            # Embeddings looked up here: given input_ids, transformers checks them for pad tokens on each
            # call (a host sync per sampling step) and warns about a missing attention mask, which right
            # padding under causal attention does not need.
            embeds = self.lm.get_input_embeddings()(input_ids)
            out = self.lm(inputs_embeds=embeds, use_cache=use_cache, **{self._state_name: state})
        else:
            out = self.lm(input_ids=input_ids, use_cache=use_cache, **{self._state_name: state})
        return out.logits, (output_state(out) if use_cache else None)

    def log_prob(self, sequences: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-row sum over t >= 1 of mask[:, t] * log Q(x_t | x_<t); rows start with BOS (position 0 is never
        scored). Default mask: the non-pad positions. Differentiable, for policy-gradient objectives."""
        logits, _ = self.forward(sequences[:, :-1])
        targets = sequences[:, 1:]
        token_lp = -F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
        weights = (targets != self.pad_id) if mask is None else mask[:, 1:]
        return (token_lp * weights.to(token_lp.dtype)).sum(dim=1)

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        n: int,
        max_len: int,
        prefix: torch.Tensor | None = None,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        generator: torch.Generator | None = None,
        stop_at_eos: bool = True,
        check_every: int | None = None,
        logits_processors: list[Any] | None = None,
    ) -> torch.Tensor:
        """`n` rows of at most `max_len` ids (BOS, the prefix, then sampled tokens; pad after EOS).

        temperature 0 is greedy decoding. Deterministic given `generator` (on the model's device). Runs with
        dropout off and restores the train/eval mode afterwards. `stop_at_eos=False` samples through EOS to
        max_len (stream mode). `check_every`: steps between "have all rows ended?" checks (default: every step
        on CPU, every 8 on accelerators, where each check is a host sync). `logits_processors`: extra
        transformers `LogitsProcessor`s applied before the warpers (they see the ids so far, e.g. to
        restrict which tokens may come at a position).
        """
        limit = self.max_positions
        # Rows of max_len tokens feed the model max_len - 1 of them (the last one is only sampled).
        if limit is not None and max_len - 1 > limit:
            raise SeqgenError(
                f"sample max_len={max_len} needs {max_len - 1} positions, more than the "
                f"{'Transformer' if self.kind == 'transformer' else 'model'}'s context of {limit}"
            )
        processors = build_processors(temperature, top_k, top_p)
        if logits_processors:
            processors = type(processors)([*logits_processors, *processors])
        device = self.device
        out, start = start_rows(n, max_len, self.bos_id, self.pad_id, prefix, self.vocab_size, device)

        first_state = new_kv_cache(self.lm, max_len) if self.kind == "transformer" else None

        def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
            logits, state = self.forward(tokens, first_state if state is None else state, return_state=True)
            return logits[:, -1], state

        was_training = self.training
        self.eval()
        try:
            return sample_incremental(
                step,
                out,
                start,
                eos_id=self.eos_id,
                pad_id=self.pad_id,
                processors=processors,
                greedy=temperature == 0.0,
                generator=generator,
                stop_at_eos=stop_at_eos,
                check_every=check_every,
            )
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------ saving
    def save(self, directory: str | os.PathLike, tokenizer: Tokenizer | None = None) -> None:
        """Write the LM as a `save_pretrained` folder (config.json + model.safetensors, generation_config.json
        with seqgen's sampling defaults), atomically; with `tokenizer`, its Hugging Face form too
        (tokenizer.json + tokenizer_config.json, seqgen.data.hf_tokenizer), so that the folder is a complete
        Hugging Face model: `AutoTokenizer` and `pipeline("text-generation")` load it.

        The folder is written next to the target under a temporary name and renamed into place, so a crash
        never leaves a half-written folder at `directory`; an existing folder is replaced only once the new
        one is complete.
        """
        if tokenizer is not None and tokenizer.vocab_size != self.vocab_size:
            raise SeqgenError(
                f"cannot save a generator over {self.vocab_size} tokens with a tokenizer of "
                f"{tokenizer.vocab_size}"
            )
        with atomic_dir(directory) as tmp, quiet_transformers():
            self.lm.save_pretrained(tmp)
            if self.lm.can_generate():
                self._generation_defaults().save_pretrained(tmp)
            if tokenizer is not None:
                from seqgen.data.hf_tokenizer import save_hf_tokenizer

                save_hf_tokenizer(tokenizer, tmp)

    def _generation_defaults(self) -> GenerationConfig:
        """The LM's generation config with `Generator.sample`'s defaults: seqgen's special ids, ancestral
        sampling at temperature 1 without top-k/top-p (transformers' own default is top_k=50), and at most as
        many tokens as the model has positions for (plus the first one, which it only reads)."""
        config = copy.deepcopy(self.lm.generation_config)
        config.pad_token_id, config.bos_token_id, config.eos_token_id = self.pad_id, self.bos_id, self.eos_id
        config.do_sample, config.temperature, config.top_k, config.top_p = True, 1.0, 0, 1.0
        if self.max_positions is not None:
            config.max_length = self.max_positions + 1
        return config


def kind_of(lm: PreTrainedModel) -> str:
    """The `model.kind` of a transformers LM: lstm/gru (seqgen's RNN), independent or transformer (others)."""
    if isinstance(lm, RNNForCausalLM):
        return lm.config.cell
    return "independent" if isinstance(lm, IndependentForCausalLM) else "transformer"


def model_settings(lm_config: Any) -> dict[str, Any]:
    """The `model.*` settings (ModelConfig keys) that a saved generator's config fixes, from its
    `config.json` contents (a dict) or a transformers config; keys that the architecture does not define are
    left out. A run started from another run's generator records these, and refuses settings that
    contradict them."""
    c = lm_config if isinstance(lm_config, dict) else lm_config.to_dict()
    if c.get("model_type") == "seqgen_rnn":
        return {
            "kind": c.get("cell", "lstm"),
            "emb_dim": c.get("emb_dim"),
            "hidden_dim": c.get("hidden_dim"),
            "num_layers": c.get("num_layers"),
            "dropout": float(c.get("dropout", 0.0)),
            "tie_embeddings": bool(c.get("tie_word_embeddings", False)),
        }
    if c.get("model_type") == "seqgen_independent":
        return {"kind": "independent", "context": c.get("context")}
    out: dict[str, Any] = {"kind": "transformer"}
    if c.get("model_type") == "gpt2":
        out.update(
            d_model=c.get("n_embd"),
            num_layers=c.get("n_layer"),
            num_heads=c.get("n_head"),
            context=c.get("n_positions"),
            dropout=float(c.get("resid_pdrop", 0.0)),
        )
    return {k: v for k, v in out.items() if v is not None}
