"""The adversarial experiments of the README, on the enumerable oracle, exact divergences, 3 seeds:

    python recipes/oracle/adversarial.py [--out runs/oracle-adv] [--seeds 0,1,2] [--steps 300] [--only pi]

1. pi sweep: the discriminator's class balance pi in {0.1, 0.3, 0.5, 0.7, 0.9} with the minimax reward
   -log(1 - D) = -log(q/m) + log(1-pi), m = pi p + (1-pi) q (the JS_pi generator direction, Huszar 2015):
   KL(P||Q) and KL(Q||P) after fine-tuning an over-dispersed MLE start with a learned CNN discriminator.
2. minimax vs non-saturating reward from a start the discriminator confidently rejects (a nearly untrained
   generator, a discriminator pre-trained for 1,000 steps).
3. no penalty vs GAN-GP vs DRAGAN (lambda 10), BGAN importance weights, pi = 0.5.
Every run starts from its seed's MLE run; the table reports mean +- std over seeds of the exact divergences.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from seqgen.cli import run_command
from seqgen.evaluation import exact_divergences
from seqgen.models import load_generator
from seqgen.run_folder import load_config
from seqgen.training.trainer import Trainer

HERE = Path(__file__).parent
EXPERIMENTS = {
    "pi": (
        "over-dispersed start (MLE 40 steps)",
        [(f"pi={p}", [f"adv.pi={p}"]) for p in (0.1, 0.3, 0.5, 0.7, 0.9)],
    ),
    "reward": (
        "rejected start (MLE 5 steps, D pre-trained 1,000 steps)",
        [
            ("minimax -log(1-D)", ["adv.reward=minimax", "adv.d_pretrain_steps=1000"]),
            ("non-saturating log D", ["adv.reward=non_saturating", "adv.d_pretrain_steps=1000"]),
        ],
    ),
    "penalty": (
        "over-dispersed start (MLE 40 steps), bgan_is",
        [
            (f"bgan_is {name}", ["adv.estimator=bgan_is", "adv.reward=logit", f"adv.penalty={pen}"])
            for name, pen in (("no penalty", "none"), ("GAN-GP", "gp"), ("DRAGAN", "dragan"))
        ],
    ),
}
START_STEPS = {"pi": 40, "reward": 5, "penalty": 40}


def fit(cfg_file: Path | None, overrides: list[str]) -> Trainer:
    trainer = Trainer(load_config(cfg_file, [*overrides, "train.progress=false", "train.tensorboard=false"]))
    trainer.fit()
    return trainer


def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--out", default="runs/oracle-adv", help="parent folder of the run folders (must not hold them)"
    )
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=300, help="adversarial generator steps")
    p.add_argument("--only", default=None, choices=list(EXPERIMENTS), help="run one experiment")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="extra config override (every run)"
    )
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    for exp, (start_name, runs) in EXPERIMENTS.items():
        if args.only and exp != args.only:
            continue
        results: dict[str, list[dict]] = {}
        for seed in seeds:
            start = out / f"start-{START_STEPS[exp]}-seed{seed}"
            if not (start / "generator").is_dir():
                fit(
                    HERE / "mle.yaml",
                    [
                        f"train.max_steps={START_STEPS[exp]}",
                        "train.batch_size=64",
                        "train.warmup_steps=5",
                        f"train.seed={seed}",
                        f"out={start}",
                    ],
                )
            for label, overrides in [("start", None), *runs]:
                t0 = time.perf_counter()
                if overrides is None:
                    cfg = load_config(HERE / "mle.yaml", [f"out={start}"])
                    div = exact_divergences(load_generator(start / "generator"), cfg.data)
                else:
                    name = f"{exp}-{label}".replace(" ", "_").replace("(", "").replace(")", "")
                    trainer = fit(
                        HERE / "adversarial.yaml",
                        [
                            *overrides,
                            f"train.max_steps={args.steps}",
                            f"train.seed={seed}",
                            f"init_from={start}",
                            f"out={out / name / f'seed{seed}'}",
                            *args.set,
                        ],
                    )
                    div = exact_divergences(trainer.unwrapped, trainer.cfg.data)
                div["seconds"] = time.perf_counter() - t0
                results.setdefault(label, []).append(div)
                print(
                    f"{exp} {label} seed {seed}: KL(P||Q) {div['kl_p_q']:.4f} KL(Q||P) {div['kl_q_p']:.4f}",
                    file=sys.stderr,
                    flush=True,
                )
        print(f"\n### {exp}: {start_name}; {args.steps} steps, seeds {args.seeds} (mean ± std)\n")
        print("| run | KL(P\\|\\|Q) | KL(Q\\|\\|P) | JS | seconds |\n| :--- | ---: | ---: | ---: | ---: |")
        for label, divs in results.items():
            cells = []
            for key in ("kl_p_q", "kl_q_p", "js", "seconds"):
                vals = [d[key] for d in divs]
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                cells.append(
                    f"{statistics.mean(vals):.3f} ± {sd:.3f}"
                    if key != "seconds"
                    else f"{statistics.mean(vals):.0f}"
                )
            print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
