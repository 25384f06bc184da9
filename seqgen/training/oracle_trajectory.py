"""Exact divergence trajectories on the enumerable oracle (`train.oracle_eval_every=N`, data.train=oracle).

At step 0 (before the first update) and every N optimiser steps the loop writes one metrics.jsonl record with
split "oracle", computed from the generator's exact Q over all V^L sequences (`model_distribution`: Q
restricted to the oracle's symbol tokens and renormalised, as `seqgen evaluate` does):

- `kl_p_q`, `kl_q_p`: KL(P||Q) and KL(Q||P), nats;
- `js_pi` with the `pi` it used: JS_pi(P||Q) = pi KL(P||M) + (1-pi) KL(Q||M), M = pi P + (1-pi) Q, where pi
  is adv.pi for an adversarial run with adv.divergence=gan (the divergence its discriminator estimates) and
  0.5 otherwise; `js` is JS at pi = 0.5 in every run, so runs with different pi compare on one scale too;
- `tv`: total variation;
- `q_mass_on_p_support`: Q's mass on P's high-probability support, the sequences x with
  P(x) >= 1e-3 / V^L (a thousandth of the uniform probability; `SUPPORT_FRACTION`). With a large negative
  data.oracle.symbol_offset P puts almost no mass on sequences holding the offset symbols, so a generator
  started on them has a small value here; `p_support_size` says how many sequences that support holds.

The record is computed on the main process with the unwrapped generator, in eval mode and without drawing
random numbers, so logging it changes nothing a step computes: a resumed run writes the same records as an
uninterrupted one. Its cost is one teacher-forced pass over V^(L-1) rows (256 at V=4, L=5; 2M at V=L=8).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from seqgen.metrics.divergences import js_pi, kl, total_variation
from seqgen.metrics.exact_distribution import model_distribution
from seqgen.training.run_start import oracle_of

if TYPE_CHECKING:
    from seqgen.data.oracles.enumerable import EnumerableOracle
    from seqgen.models import Generator
    from seqgen.run_folder import RunConfig
    from seqgen.training.metrics_log import MetricsLog

SPLIT = "oracle"
SUPPORT_FRACTION = 1e-3  # P's support: P(x) at least this fraction of the uniform probability 1 / V^L


def trajectory_pi(cfg: RunConfig) -> float:
    """The class balance of the JS_pi a run logs: its discriminator's (adversarial, gan), else 0.5."""
    return cfg.adv.pi if cfg.objective == "adversarial" and cfg.adv.divergence == "gan" else 0.5


def p_support(oracle: EnumerableOracle) -> torch.Tensor:
    """(V^L,) bool: the sequences with P(x) >= SUPPORT_FRACTION / V^L."""
    return oracle.probs >= SUPPORT_FRACTION / oracle.num_sequences


def oracle_record(generator: Generator, oracle: EnumerableOracle, pi: float) -> dict[str, float]:
    """The exact divergences between the oracle's P and the generator's Q (see the module docstring)."""
    q = model_distribution(generator, oracle)
    p = oracle.probs
    support = p_support(oracle)
    return {
        "kl_p_q": kl(p, q),
        "kl_q_p": kl(q, p),
        "js_pi": js_pi(p, q, pi),
        "pi": pi,
        "js": js_pi(p, q, 0.5),
        "tv": total_variation(p, q),
        "q_mass_on_p_support": float(q[support].sum()),
        "p_support_size": int(support.sum()),
    }


class OracleTrajectory:
    """Called by the loop after each step (and at step 0): writes a record when the step is a multiple of
    `every`; does nothing when `every` is 0 or on processes other than the main one."""

    def __init__(self, every: int, oracle: EnumerableOracle | None, pi: float, is_main: bool) -> None:
        self.every, self.oracle, self.pi = every, oracle, pi
        self.active = bool(every) and oracle is not None and is_main

    def __call__(self, step: int, generator: Generator, log: MetricsLog) -> None:
        if self.active and step % self.every == 0:
            log.write(step, SPLIT, oracle_record(generator, self.oracle, self.pi))


def oracle_trajectory(cfg: RunConfig, accelerator: Any) -> OracleTrajectory:
    """The trajectory logger of a run (inactive unless train.oracle_eval_every > 0)."""
    every = cfg.train.oracle_eval_every
    oracle = oracle_of(cfg) if every else None  # the run config refused every > 0 without data.train=oracle
    return OracleTrajectory(every, oracle, trajectory_pi(cfg), accelerator.is_main_process)
