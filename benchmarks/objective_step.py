"""Time per optimiser step of scheduled sampling (two_pass and exact) beside MLE, same model and batch.

Models are those of benchmarks/train_throughput.py: a char-level LSTM (emb 128, hidden 512) and a GPT-style
Transformer (4 layers, d 256, 4 heads, ctx 128), batch 64 x 128 tokens of Tiny Shakespeare (random text of
the same alphabet when ../shared is absent). One step = forward + backward + AdamW update through seqgen's
own loss functions. The objectives alternate in rounds and the median step time of each is compared, so
machine noise hits all alike. Targets (issue 4): two_pass <= 1.5x MLE for both models; exact <= 2.5x MLE for
the LSTM.

    python benchmarks/objective_step.py [--steps 5] [--rounds 3] [--p-gold 0.5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
BATCH, SEQ = 64, 128


def batch_of_text() -> tuple[torch.Tensor, int]:
    """(64, 129) ids: BOS then 128 characters of Tiny Shakespeare (ids 4.. by first appearance)."""
    g = torch.Generator().manual_seed(0)
    if SHAKESPEARE.is_file():
        text = SHAKESPEARE.read_text(encoding="utf-8")
        alphabet = sorted(set(text))
        index = {c: i + 4 for i, c in enumerate(alphabet)}
        starts = torch.randint(0, len(text) - SEQ, (BATCH,), generator=g).tolist()
        rows = [[1] + [index[c] for c in text[s : s + SEQ]] for s in starts]
        return torch.tensor(rows), len(alphabet) + 4
    vocab = 69
    return torch.cat(
        [torch.ones(BATCH, 1, dtype=torch.long), torch.randint(4, vocab, (BATCH, SEQ), generator=g)], 1
    ), vocab


def build(kind: str, vocab: int):
    from seqgen.config import ModelConfig
    from seqgen.models import build_generator

    torch.manual_seed(0)
    if kind == "lstm":
        cfg = ModelConfig(kind="lstm", emb_dim=128, hidden_dim=512, num_layers=1)
    else:
        cfg = ModelConfig(kind="transformer", d_model=256, num_heads=4, num_layers=4, context=SEQ)
    return build_generator(cfg, vocab)


def step_fn(model, batch: torch.Tensor, objective: str, p_gold: float):
    from seqgen.objectives.mle import token_nll_sum
    from seqgen.objectives.scheduled_sampling import scheduled_sampling_loss_sum

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rng = torch.Generator().manual_seed(0)

    def step() -> None:
        if objective == "mle":
            nll, n = token_nll_sum(model, batch, 0)
        else:
            mode = objective.split(":")[1]
            nll, n, _ = scheduled_sampling_loss_sum(model, batch, 0, p_gold=p_gold, mode=mode, generator=rng)
        (nll / n).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5, help="timed steps per objective per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--p-gold", type=float, default=0.5)
    args = p.parse_args(argv)
    batch, vocab = batch_of_text()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"batch {BATCH} x {SEQ} tokens, vocab {vocab}"
    )
    objectives = ["mle", "ss:two_pass", "ss:exact"]
    for kind in ("lstm", "transformer"):
        model = build(kind, vocab).train()
        steps = {o: step_fn(model, batch, o, args.p_gold) for o in objectives}
        for o in objectives:  # warm-up (allocator, first-call paths)
            steps[o]()
        times: dict[str, list[float]] = {o: [] for o in objectives}
        for _ in range(args.rounds):
            for o in objectives:
                for _ in range(args.steps):
                    t = time.perf_counter()
                    steps[o]()
                    times[o].append(time.perf_counter() - t)
        med = {o: statistics.median(v) for o, v in times.items()}
        print(
            f"\n{kind} ({sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters), "
            f"p_gold={args.p_gold}"
        )
        for o in objectives:
            print(f"  {o:12s} {med[o] * 1000:8.1f} ms/step   {med[o] / med['mle']:.2f}x MLE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
