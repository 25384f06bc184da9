"""`make demo`: an LSTM and a small Transformer trained by MLE, and the LSTM fine-tuned by scheduled
sampling and by adversarial training (BGAN), compared in one table.

On the embedded caption language (default) the table also shows what only a known language allows: the exact
oracle NLL of 1,000 samples and the fraction of samples the language can generate. With `--data FILE` the same
models train on your corpus (valid/test held out by the rule in the README) and the table shows held-out NLL.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from seqgen.cli import run_command
from seqgen.errors import SeqgenError

# Sized so that both trainings and their evaluation take well under 5 minutes on 2 CPU cores.
MODELS = {
    "lstm": [
        "model.kind=lstm",
        "model.emb_dim=128",
        "model.hidden_dim=256",
        "train.lr=3e-3",
        "train.max_steps=4000",
    ],
    "transformer": [
        "model.kind=transformer",
        "model.num_layers=2",
        "model.d_model=128",
        "model.num_heads=4",
        "model.context=64",
        "train.lr=2e-3",
        "train.max_steps=3000",
    ],
    # Scheduled sampling (Bengio et al. 2015), warm-started from the MLE LSTM above: token by token, p_gold
    # falling linearly from 1 to 0.5. Its held-out NLL and oracle NLL show what feeding the model its own
    # tokens does to the distribution it learns.
    "lstm-ss": [
        "model.kind=lstm",
        "model.emb_dim=128",
        "model.hidden_dim=256",
        "train.lr=1e-3",
        "train.warmup_steps=0",
        "train.max_steps=600",
        "objective=scheduled_sampling",
        "ss.mode=exact",
        "ss.schedule=linear",
        "ss.k=1",
        "ss.c=0.001",
        "ss.p_min=0.5",
        "init_from={out}/lstm",
    ],
    # Adversarial fine-tuning of the same MLE LSTM (BGAN, Hjelm et al. 2018): groups of 8 samples weighted by
    # a CNN discriminator's density-ratio estimate, which is pre-trained for 300 steps first. Valid-sample
    # fraction (precision) against held-out NLL (coverage) shows what the discriminator's reward buys.
    "lstm-bgan": [
        "model.kind=lstm",
        "model.emb_dim=128",
        "model.hidden_dim=256",
        "train.lr=1e-4",
        "train.warmup_steps=0",
        "train.schedule=constant",
        "train.max_steps=300",
        "objective=adversarial",
        "adv.estimator=bgan_is",
        "adv.group_size=8",
        "adv.discriminator=cnn",
        "adv.d_pretrain_steps=300",
        "adv.d_num_filters=64",
        "init_from={out}/lstm",
    ],
}
# For a user's corpus: real sentences run longer, and a small corpus overfits long before 4,000 steps (the
# best validation checkpoint is kept anyway), so fewer steps keep the demo to a few minutes.
DATA_OVERRIDES = ["data.max_len=64", "model.context=64", "train.max_steps=1500", "train.eval_every=250"]
COMMON = [
    "train.batch_size=64",
    "train.warmup_steps=50",
    "train.eval_every=500",
    "train.save_every=0",
    "train.log_every=50",
    "data.max_len=32",
    "tokenizer.kind=word",
    "train.weight_decay=0.01",
]


def run_demo(data: str | None, out: Path, samples: int = 10) -> None:
    from seqgen.evaluation import evaluate_run
    from seqgen.run_folder import load_config
    from seqgen.text_sampling import sample_texts
    from seqgen.training.trainer import Trainer

    for name in MODELS:  # a previous demo's run folders are replaced; anything else is left alone
        folder = out / name
        if folder.exists():
            if not (folder / "config.yaml").is_file():
                raise SeqgenError(f"{folder} exists and is not a seqgen run folder; choose another --out")
            shutil.rmtree(folder)
    rows, shown = [], {}
    for name, overrides in MODELS.items():
        extra = [f"data.train={data}"] if data else []
        if data:
            extra += DATA_OVERRIDES
        overrides = [o.replace("{out}", str(out)) for o in overrides]
        cfg = load_config(None, [*COMMON, *overrides, *extra, f"out={out / name}"])
        print(f"\n== {name}: training {cfg.train.max_steps} steps ==", flush=True)
        start = time.perf_counter()
        trainer = Trainer(cfg)
        trainer.fit()
        seconds = time.perf_counter() - start
        ev = evaluate_run(cfg.out, metrics=("nll",) if data else ("nll", "oracle"), num_samples=1000, seed=1)
        gen = trainer.unwrapped
        shown[name] = sample_texts(gen, trainer.tokenizer, samples, max_len=cfg.data.max_len, seed=2)
        rows.append((name, gen.num_parameters(), cfg.train.max_steps, seconds, ev))
    print_table(rows, data)
    for name, texts in shown.items():
        print(f"\n{name} samples (temperature 1.0):")
        for t in texts:
            print(f"  {t}")
    print(f"\nrun folders: {', '.join(str(out / n) for n in MODELS)}")
    print(f"next: seqgen sample {out / 'lstm'} -n 5 --temperature 0.8   |   seqgen evaluate {out / 'lstm'}")


def print_table(rows: list, data: str | None) -> None:
    oracle = data is None
    head = ["model", "params", "steps", "train s", "test NLL/tok", "test ppl"]
    if oracle:
        head += ["oracle NLL/tok (1k samples)", "valid samples", "distinct samples"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, params, steps, seconds, ev in rows:
        cells = [
            name,
            f"{params / 1e6:.2f}M",
            str(steps),
            f"{seconds:.0f}",
            f"{ev['nll']:.3f}",
            f"{ev['ppl']:.2f}",
        ]
        if oracle:
            s = ev["samples"][0]
            cells += [f"{s['oracle_nll']:.3f}", f"{s['valid_fraction']:.3f}", f"{s['distinct_fraction']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    print()
    if oracle:
        opt = rows[0][4]["samples"][0]["oracle_optimal_nll"]
        print(
            "Caption language (embedded): held-out NLL in nats/token (EOS counted) on the test split; "
            "oracle NLL "
            "is -log P(x) per token of valid samples under the true language"
        )
        print(
            f"(a perfect model scores {opt:.3f} on both); valid = share of samples the language can generate."
        )
    else:
        print(f"Corpus {data}: held-out NLL in nats/token (EOS counted) on the test split.")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m seqgen.demo", description=__doc__)
    p.add_argument(
        "--data", default=None, help="your corpus (one sentence a line); default: the caption language"
    )
    p.add_argument("--out", default="runs/demo", help="where the run folders go (replaced)")
    args = p.parse_args(argv)
    return run_command(lambda: run_demo(args.data, Path(args.out)) or 0)


if __name__ == "__main__":
    sys.exit(main())
