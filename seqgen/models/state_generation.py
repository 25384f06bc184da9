"""transformers' `generate()` for seqgen's models whose incremental state is not a KV `Cache`.

transformers v5 took `generate()` out of `PreTrainedModel`: a model gets it by inheriting `GenerationMixin`.
The mixin is written for KV caches, and these are what a model whose state is its own object needs from it
(read from transformers 5.24's generation/utils.py; RWKV and the old Mamba took the same route):

- `_supports_default_dynamic_cache() -> False`: `generate` then creates no `DynamicCache`; the first forward
  starts without a state and returns one, which `generate` hands back to every next forward under the
  output's cache name (`_update_model_kwargs_for_generation`), with only the newest token as input
  (`prepare_inputs_for_generation` slices the ids once a state exists);
- `_is_stateful = True` (set on each model class: `PreTrainedModel`, first in the bases, defines it False):
  assisted (speculative) decoding, which needs to roll a state back, is refused;
- `_reorder_cache`: beam search reorders the state along its batch dimension (the RNN state is
  (layers, batch, hidden); the independent model's is a position count, the same for every row).

What does not work: a state passed into `generate` (`cache=...`) and cache implementations
(`cache_implementation=...`): they expect `Cache` objects.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import GenerationMixin


class StateGenerationMixin(GenerationMixin):
    """`generate()` for a model that returns its own state (a tensor, a tuple of tensors or an int)."""

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False

    def _reorder_cache(self, state: Any, beam_idx: torch.LongTensor) -> Any:
        return reorder_state(state, beam_idx)


def reorder_state(state: Any, beam_idx: torch.Tensor) -> Any:
    """The state of the rows `beam_idx` (a tensor's batch dimension is 1, as in torch's RNN states)."""
    if isinstance(state, torch.Tensor):
        return state.index_select(1, beam_idx.to(state.device))
    if isinstance(state, tuple | list):
        return type(state)(reorder_state(s, beam_idx) for s in state)
    return state  # a position count: the same for every row


def is_left_padded(attention_mask: torch.Tensor | None) -> bool:
    """A 2-D mask whose first column has a 0: transformers' left padding of batched prompts."""
    return attention_mask is not None and attention_mask.dim() == 2 and not bool(attention_mask[:, 0].all())
