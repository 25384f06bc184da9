"""Under which name transformers passes a model's incremental state (KV cache, recurrent state), found once.

transformers 5.x renamed `past_key_values` to `cache`, in model inputs and in the output classes
(`CausalLMOutputWithPast.cache`); the old name still works with a deprecation warning until it is removed
(5.40). seqgen passes and reads the state under the name the installed version uses, so no command warns
and sampling keeps working once the old name is gone:

- the name a model's `forward` takes, from its signature (looked up once per class; transformers' deprecation
  wrapper keeps the signature of the function it wraps);
- the name of the state in the output classes, from `CausalLMOutputWithPast`'s fields.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any

from transformers.modeling_outputs import CausalLMOutputWithPast

NAMES = ("cache", "past_key_values")  # the current name first
OUTPUT_NAME = next(
    (n for n in NAMES if n in {f.name for f in dataclasses.fields(CausalLMOutputWithPast)}), NAMES[-1]
)


@functools.cache
def input_name(model_class: type) -> str:
    """The keyword under which `model_class.forward` takes the state (the output's name if neither)."""
    params = inspect.signature(model_class.forward).parameters
    return next((n for n in NAMES if n in params), OUTPUT_NAME)


def output_state(output: Any) -> Any:
    """The state a model returned (None when it returned none)."""
    return getattr(output, OUTPUT_NAME, None)


def causal_lm_output(**fields: Any) -> CausalLMOutputWithPast:
    """`CausalLMOutputWithPast(...)` with the state given as `state=`, under the installed version's name."""
    state = fields.pop("state", None)
    return CausalLMOutputWithPast(**fields, **{OUTPUT_NAME: state})
