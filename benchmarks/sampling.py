"""Sampling speed: seqgen's incremental loop vs recomputing the prefix every step vs `lm.generate`.

Usage: python benchmarks/sampling.py [--batch 64] [--length 128] [--repeats 3] [--threads 2]

Models (untrained; speed does not depend on the weights), char-sized vocabulary of 65 symbols:
  - the foundation LSTM: embedding 128, hidden 512, 1 layer;
  - a GPT-style Transformer: 4 layers, d_model 256, 4 heads, context 128.
Every method samples `batch` rows of `length` tokens (BOS + length-1 sampled tokens) in stream mode (no stop
at EOS), so all do the same work; tokens/s counts sampled tokens. Each method is warmed up, then the best of
`repeats` runs is reported (the slow recompute baseline: one run). `lm.generate` runs on the very same GPT-2
model with do_sample=True, top_k=0.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from transformers.utils import logging as hf_logging

from seqgen.models import Generator, build_generator, build_processors
from seqgen.models.config import ModelConfig

VOCAB = 65  # tiny-Shakespeare-sized character vocabulary


def recompute_sample(gen: Generator, n: int, max_len: int, generator: torch.Generator) -> torch.Tensor:
    """The naive baseline: every step runs the model over the whole prefix again (no state, no cache)."""
    procs = build_processors(1.0, 0, 1.0)
    out = torch.full((n, max_len), gen.pad_id, dtype=torch.long)
    out[:, 0] = gen.bos_id
    with torch.no_grad():
        for t in range(1, max_len):
            logits = gen(out[:, :t])[0][:, -1].float()
            for p in procs:
                logits = p(out[:, :t], logits)
            out[:, t] = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)
    return out


def hf_generate(gen: Generator, n: int, max_len: int) -> torch.Tensor:
    """transformers' own sampler on the same model; EOS disabled so every row runs to max_len."""
    start = torch.full((n, 1), gen.bos_id, dtype=torch.long)
    return gen.lm.generate(
        start,
        attention_mask=torch.ones_like(start),
        do_sample=True,
        top_k=0,
        max_new_tokens=max_len - 1,
        eos_token_id=None,
        pad_token_id=gen.pad_id,
    )


def time_runs(
    runs: dict[str, tuple[Callable[[int], torch.Tensor], int, int]], length: int
) -> dict[str, float]:
    """Best wall time per method. Each method is warmed up (fn(warm-up length)), then the timed runs of all
    methods are interleaved, so a burst of load from other processes hits every method alike."""
    for fn, _, warm in runs.values():
        fn(warm)  # allocator, kernels, lazy init
    best = dict.fromkeys(runs, float("inf"))
    for r in range(max(repeats for _, repeats, _ in runs.values())):
        for method, (fn, repeats, _) in runs.items():
            if r < repeats:
                t0 = time.perf_counter()
                out = fn(length)
                best[method] = min(best[method], time.perf_counter() - t0)
                assert out.shape[1] == length, (method, tuple(out.shape))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()  # generate() warns about padding in sampled ids; irrelevant here
    torch.manual_seed(0)
    n, L = args.batch, args.length
    models = {
        "lstm (emb 128, hidden 512)": ModelConfig(kind="lstm", emb_dim=128, hidden_dim=512),
        "transformer (4L, d256, 4h)": ModelConfig(
            kind="transformer", num_layers=4, d_model=256, num_heads=4, context=max(128, L)
        ),
    }
    print(
        f"sampling {n} rows x {L} tokens (incl. BOS), vocab {VOCAB}, {args.threads} threads, best of "
        f"{args.repeats} after warm-up; torch {torch.__version__}"
    )
    header = (
        f"{'model':28} {'method':22} {'seconds':>8} {'tokens/s':>10} {'vs recompute':>13} {'vs generate':>12}"
    )
    print(header)
    print("-" * len(header))
    for name, cfg in models.items():
        gen = build_generator(cfg, VOCAB).eval()
        # method -> (fn(length), repeats, warm-up length); the slow baseline runs once after a short warm-up
        runs = {
            "incremental (seqgen)": (
                lambda m, g=gen: g.sample(
                    n, m, stop_at_eos=False, generator=torch.Generator().manual_seed(0)
                ),
                args.repeats,
                L,
            ),
            "recompute prefix": (
                lambda m, g=gen: recompute_sample(g, n, m, torch.Generator().manual_seed(0)),
                1,
                16,
            ),
        }
        if gen.kind == "transformer":
            runs["lm.generate"] = (lambda m, g=gen: hf_generate(g, n, m), args.repeats, L)
        secs = time_runs(runs, L)
        tokens = n * (L - 1)
        for method, s in secs.items():
            vs_re = secs["recompute prefix"] / s
            vs_gen = f"{secs['lm.generate'] / s:11.2f}x" if "lm.generate" in secs else f"{'-':>12}"
            print(f"{name:28} {method:22} {s:8.3f} {tokens / s:10.0f} {vs_re:12.2f}x {vs_gen}")
    print(
        "vs X = X's time / this method's time (higher is faster); targets: incremental >= 5x recompute at "
        "length 128, >= 1.0x lm.generate."
    )


if __name__ == "__main__":
    main()
