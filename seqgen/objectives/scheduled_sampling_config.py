"""`ss.*`: scheduled sampling's mode, mixing and p_gold schedule (DESIGN §5)."""

from __future__ import annotations

from dataclasses import dataclass

from seqgen.errors import SeqgenError, Settings, setting
from seqgen.objectives.schedules import p_gold


@dataclass
class ScheduledSamplingConfig(Settings):
    section = "ss"

    mode: str = setting(
        "two_pass",
        "exact: token by token, each replacement sampled given the already-mixed prefix; two_pass: a "
        "teacher-forced pass without gradient picks the replacements, a second pass on the mixed inputs "
        "carries the loss (the fast option for Transformers)",
        ("exact", "two_pass"),
    )
    mix: str = setting(
        "sample",
        "what replaces a gold input: a sampled token, the argmax token, or (two_pass only) soft = the "
        "probability-weighted embedding",
        ("sample", "argmax", "soft"),
    )
    schedule: str = setting(
        "constant",
        "p_gold over training step i: constant = p_gold; linear = max(p_min, k - c*i); exponential = k**i "
        "(k < 1); inverse_sigmoid = k/(k+exp(i/k)) (k >= 1)",
        ("constant", "linear", "exponential", "inverse_sigmoid"),
    )
    p_gold: float = setting(
        0.75, "constant schedule: probability of feeding the gold token (Huszar's epsilon is 1 - p_gold)"
    )
    k: float = setting(1.0, "schedule parameter k (start of linear, base of exponential, inverse-sigmoid k)")
    c: float = setting(0.0, "linear schedule: decrease of p_gold per step")
    p_min: float = setting(0.0, "floor of the linear and exponential schedules")
    grad_through_both: bool = setting(False, "two_pass: also backpropagate through the first pass")

    def check(self) -> None:
        if self.mode == "exact" and self.mix == "soft":
            raise SeqgenError("ss.mix=soft needs ss.mode=two_pass (exact mode feeds tokens, not embeddings)")
        if self.grad_through_both and self.mode != "two_pass":
            raise SeqgenError("ss.grad_through_both applies to ss.mode=two_pass only")
        try:
            self.p_gold_at(0)
        except SeqgenError as e:
            raise SeqgenError(f"ss.* settings: {e}") from None

    def p_gold_at(self, step: int) -> float:
        """p_gold at training step `step` (0-based) under this schedule."""
        return p_gold(self.schedule, step, k=self.k, c=self.c, p_min=self.p_min, value=self.p_gold)
