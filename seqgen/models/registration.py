"""seqgen's model classes registered with transformers' Auto classes, so saved folders load by `model_type`.

`import seqgen` runs this (seqgen/__init__.py imports it; so does seqgen.models): afterwards
`AutoModelForCausalLM.from_pretrained(RUN/generator)` loads an LSTM/GRU or independent-positions generator as
it loads a Transformer one, and `AutoModel.from_pretrained(folder)` a saved discriminator. Registering is
cheap: the classes are already imported with seqgen.models (torch and transformers come with them).
"""

from __future__ import annotations

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from seqgen.models.discriminator import DiscriminatorConfig, SequenceDiscriminator
from seqgen.models.independent import IndependentConfig, IndependentForCausalLM
from seqgen.models.rnn import RNNConfig, RNNForCausalLM

CAUSAL_LMS = ((RNNConfig, RNNForCausalLM), (IndependentConfig, IndependentForCausalLM))
MODELS = ((DiscriminatorConfig, SequenceDiscriminator),)


def register_auto_classes() -> None:
    """Register every seqgen config with `AutoConfig` and its model with `AutoModelForCausalLM` (generators)
    or `AutoModel` (discriminators). Idempotent."""
    for auto, pairs in ((AutoModelForCausalLM, CAUSAL_LMS), (AutoModel, MODELS)):
        for config_class, model_class in pairs:
            AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
            auto.register(config_class, model_class, exist_ok=True)


register_auto_classes()
