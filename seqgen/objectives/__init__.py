"""Training objectives behind one interface (`seqgen.objectives.base.Objective`): maximum likelihood,
scheduled sampling and adversarial policy gradients. `build_objective` makes the one a run names."""

from __future__ import annotations

from typing import Any

from seqgen.objectives.adversarial.config import AdversarialConfig
from seqgen.objectives.scheduled_sampling_config import ScheduledSamplingConfig


def build_objective(
    name: str,
    *,
    ss: ScheduledSamplingConfig,
    adv: AdversarialConfig,
    pad_id: int,
    max_len: int,
    oracle: Any = None,
) -> Any:
    """The objective `name` ("mle", "scheduled_sampling" or "adversarial") with its own settings section.
    `oracle` is the enumerable oracle the run trains on, if any (the adversarial policy follows its
    convention and its exact discriminator needs it)."""
    if name == "mle":
        from seqgen.objectives.mle import MaximumLikelihood

        return MaximumLikelihood(pad_id)
    if name == "scheduled_sampling":
        from seqgen.objectives.scheduled_sampling import ScheduledSampling

        return ScheduledSampling(ss, pad_id, max_len)
    if name == "adversarial":
        from seqgen.objectives.adversarial.objective import Adversarial

        return Adversarial(adv, pad_id=pad_id, max_len=max_len, oracle=oracle)
    raise ValueError(f"unknown objective {name!r}")
