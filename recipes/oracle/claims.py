"""The adversarial claims of the README, each an experiment through seqgen's trainer, exact divergences:

    python recipes/oracle/claims.py [--out runs/oracle-claims] [--seeds 0,1,2] [--only a|b|c|d] [--jobs 2]

On the default enumerable oracle (V=4, L=5, random LSTM, dependence 6, seed 0; KL(P || product of marginals)
= 0.875 nats) every probability is known, so KL(P||Q), KL(Q||P) and JS_pi are exact sums over the 1,024
sequences. One table per claim, mean +- std over the seeds:

a. Huszar (2015): the class balance pi of JS_pi matters for a model that cannot match P. An independent-
   positions generator Q(x) = prod_t q_t(x_t) trained by REINFORCE with the minimax reward -log(1 - D)
   against the exact pi-balanced discriminator (exact JS_pi descent in expectation) for pi in {0.1, ..., 0.9},
   beside exact full-batch JS_pi descent; the same with a learned CNN discriminator; and with bgan_is, whose
   self-normalised weights cancel pi (the shift log(pi/(1-pi)) vanishes in the softmax).
b. Fedus et al. (2018): the minimax reward saturates where the discriminator is certain. P has a logit offset
   of -12 on symbols 2 and 3; the generator is an LSTM trained by MLE on the opposite oracle (offset -12 on
   0 and 1), so the exact D(fake) is ~1e-23. Minimax vs non-saturating log D, exact discriminator, then a
   learned CNN discriminator without and with GAN-GP / DRAGAN, and the exact discriminator with an offset of
   only -3 (where Adam rescales the small gradient and minimax learns).
c. The JS trajectory of the non-saturating runs of b (train.oracle_eval_every=1): how often JS rose on the
   way to P; a PNG of the KL and JS curves against the step (--out/claim_c_trajectory.png).
d. Scheduled sampling with p_gold = 0 lands on the product of P's marginals (as recipes/oracle/run.py shows
   at full length; here a short version beside MLE).
Runs are folders under --out (a finished one is reused: its summary is the .json beside its folder).
--jobs runs that many trainings at once (forked processes, one thread each); the results do not depend on it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # claims_common, claims_tables: this recipe's own modules

from claims_common import (  # noqa: E402
    A_BGAN,
    A_CNN,
    B_CNN_PRETRAIN,
    B_START_STEPS,
    CLAIMS,
    D_STEPS,
    PIS,
    Arm,
    Job,
    _arm,
    capped,
    run_all,
    run_job,
)
from claims_tables import report_a, report_b, report_c, report_d  # noqa: E402

from seqgen.cli import run_command  # noqa: E402

__all__ = ["Job", "run_job"]


# ------------------------------------------------------------------------------------------- the claims
def arms_a(seeds: list[int]) -> dict[str, list[Arm]]:
    return {
        "exact": [
            _arm(f"minimax, exact D, pi={p}", f"a/exact-pi{p}", "claims_pi.yaml", [f"adv.pi={p}"], seeds)
            for p in PIS
        ],
        "cnn": [
            _arm(f"minimax, CNN D, pi={p}", f"a/cnn-pi{p}", "claims_pi.yaml", [f"adv.pi={p}", *A_CNN], seeds)
            for p in PIS
        ],
        "bgan": [
            _arm(
                f"bgan_is, exact D, pi={p}",
                f"a/bgan-pi{p}",
                "claims_pi.yaml",
                [f"adv.pi={p}", *A_BGAN],
                seeds,
            )
            for p in PIS
        ],
    }


def _start(offset: float, seeds: list[int]) -> Arm:
    """MLE (LSTM, mle.yaml) on the opposite oracle: offset on symbols 0 and 1, so Q lives on {2, 3}^5."""
    o = f"{offset:g}"
    return _arm(
        f"start: MLE {B_START_STEPS} steps, offset {o} on {{0,1}}",
        f"b/start{o}",
        "mle.yaml",
        [
            f"data.oracle.symbol_offset={o},{o},0,0",
            f"train.max_steps={B_START_STEPS}",
            "data.oracle.sentences=20000",
            "train.eval_every=0",
            "train.save_every=0",
        ],
        seeds,
    )


def arms_b(seeds: list[int]) -> dict[str, list[Arm]]:
    start = "b/start-12/seed{seed}"
    rewards = (("minimax -log(1-D)", "minimax"), ("non-saturating log D", "non_saturating"))
    learned = [
        _arm(
            f"{label}, CNN D{'' if pen == 'none' else ' + ' + name}",
            f"b/cnn-{pen}-{reward}",
            "claims_reject.yaml",
            [
                f"adv.reward={reward}",
                "adv.discriminator=cnn",
                f"adv.d_pretrain_steps={B_CNN_PRETRAIN}",
                f"adv.penalty={pen}",
            ],
            seeds,
            start,
        )
        for pen, name in (("none", ""), ("gp", "GAN-GP"), ("dragan", "DRAGAN"))
        for label, reward in rewards
    ]
    mild = [
        _arm(
            f"{label}, exact D, offset -3",
            f"b/exact3-{reward}",
            "claims_reject.yaml",
            [f"adv.reward={reward}", "data.oracle.symbol_offset=0,0,-3,-3"],
            seeds,
            "b/start-3/seed{seed}",
        )
        for label, reward in rewards
    ]
    return {
        "start": [_start(-12, seeds)],
        "exact": [
            _arm(
                f"{label}, exact D",
                f"b/exact-{reward}",
                "claims_reject.yaml",
                [f"adv.reward={reward}"],
                seeds,
                start,
            )
            for label, reward in rewards
        ],
        "learned": learned,
        "start3": [_start(-3, seeds)],
        "mild": mild,
    }


def arms_c(seeds: list[int]) -> dict[str, list[Arm]]:
    b = arms_b(seeds)
    return {
        "start": b["start"],
        "runs": [arm for arm in b["exact"] + b["learned"] if "non_saturating" in arm.jobs[0].name],
        "minimax": [b["exact"][0]],
    }


def arms_d(seeds: list[int]) -> dict[str, list[Arm]]:
    steps = [f"train.max_steps={D_STEPS}", "train.eval_every=0", "train.save_every=0"]
    return {
        "runs": [
            _arm("MLE, LSTM", "d/mle", "mle.yaml", steps, seeds),
            _arm(
                "scheduled sampling p_gold=0 (exact mode), LSTM",
                "d/ss0",
                "scheduled_sampling.yaml",
                ["ss.p_gold=0", *steps],
                seeds,
            ),
            _arm(
                "MLE, independent positions",
                "d/mle-independent",
                "mle.yaml",
                ["model.kind=independent", "model.context=8", "train.lr=0.05", *steps],
                seeds,
            ),
        ]
    }


ARMS = {"a": arms_a, "b": arms_b, "c": arms_c, "d": arms_d}


# ------------------------------------------------------------------------------------------- main
def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/oracle-claims", help="parent folder of the run folders")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    p.add_argument("--only", default=None, choices=CLAIMS, help="run one claim")
    p.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="trainings at once (1 = in this process)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="cap every run at this many steps (a smoke test, not the claims)",
    )
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    t0 = time.perf_counter()
    claims = [args.only] if args.only else list(CLAIMS)
    arms = {c: ARMS[c](seeds) for c in claims}
    jobs: dict[str, Job] = {}
    for groups in arms.values():
        for group in groups.values():
            for arm in group:
                jobs.update({j.name: j for j in arm.jobs})
    todo = [capped(j, args.steps) if args.steps else j for j in jobs.values()]
    results = run_all(out, todo, args.jobs)
    reports = {"a": report_a, "b": report_b, "d": report_d}
    for c in claims:
        if c == "c":
            print(report_c(results, arms[c], args.seeds, out), end="\n\n", flush=True)
        else:
            print(reports[c](results, arms[c], args.seeds), end="\n\n", flush=True)
    print(f"Total time: {time.perf_counter() - t0:.0f} s ({len(jobs)} runs, --jobs {args.jobs}).")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
