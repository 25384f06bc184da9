"""MLE training throughput: seqgen's trainer beside a plain hand-written PyTorch loop, in the same process.

Models (issue 2): a char-level LSTM (emb 128, hidden 512) and a GPT-style Transformer (4 layers, d 256,
4 heads, ctx 128), batch 64 x 128 tokens of Tiny Shakespeare (stream mode). Each model runs in fp32 and, where
the CPU has bf16 kernels, in bf16 (issue 15): seqgen with train.mixed_precision=bf16 (Accelerate's autocast)
beside the plain loop under torch.autocast(bfloat16). All sides alternate in rounds and the median step time
of each is compared, so machine noise hits them alike. Also prints the fraction of the machine's measured
matmul peak (fp32, resp. bf16) that each side reaches (model FLOPs: 6 x matmul params per token + attention),
and seqgen's bf16 speed over its fp32 speed.

    python benchmarks/train_throughput.py [--steps 6] [--rounds 3] [--compile] [--precisions fp32,bf16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
BATCH, SEQ = 64, 128


def matmul_peak(n: int = 2048, reps: int = 10, dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)


def corpus_file(tmp: Path) -> str:
    if SHAKESPEARE.is_file():
        return str(SHAKESPEARE)
    # Fallback when ../shared is absent: a synthetic char corpus of similar size and alphabet.
    g = torch.Generator().manual_seed(0)
    letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ,.;:!?'"
    idx = torch.randint(len(letters), (1_000_000,), generator=g).tolist()
    text = "".join(letters[i] for i in idx)
    f = tmp / "synthetic.txt"
    f.write_text("\n".join(text[i : i + 60] for i in range(0, len(text), 60)))
    return str(f)


# ----------------------------------------------------------------------------- plain hand-written loops
class PlainLSTM(nn.Module):
    def __init__(self, vocab: int, emb: int, hidden: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.emb(x))
        return self.out(h)


def plain_model(kind: str, vocab: int) -> nn.Module:
    torch.manual_seed(0)
    if kind == "lstm":
        return PlainLSTM(vocab, 128, 512)
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(
        GPT2Config(
            vocab_size=vocab,
            n_positions=128,
            n_embd=256,
            n_layer=4,
            n_head=4,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        )
    )


def plain_step_fn(
    model: nn.Module, data: torch.Tensor, lr: float = 1e-3, bf16: bool = False
) -> Callable[[], None]:
    """One step of the hand-written loop; `bf16`: forward and loss under CPU autocast, as in the usual recipe
    (weights, gradients and AdamW stay fp32; the cross-entropy of bf16 logits runs in fp32 by autocast)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)

    def step() -> None:
        rows = torch.randint(len(data), (BATCH,), generator=g)
        batch = data[rows]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(batch[:, :-1])
            logits = logits.logits if hasattr(logits, "logits") else logits
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


# ----------------------------------------------------------------------------------------- measurement
def time_steps(step, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def flops_per_token(model: nn.Module, kind: str, vocab: int) -> float:
    """Training FLOPs per token, nanoGPT/PaLM style: 6 x matmul parameters (+ 12 L d T for attention)."""
    embeddings = ("wte", "wpe", "embed")
    mats = sum(
        p.numel() for n, p in model.named_parameters() if p.dim() >= 2 and not any(e in n for e in embeddings)
    )
    if kind == "transformer":
        mats += vocab * 256  # the output head is tied to the token embedding, but it is still a matmul
        return 6 * mats + 12 * 4 * 256 * SEQ
    return 6 * mats


def seqgen_trainer(kind: str, precision: str, args: argparse.Namespace, corpus: str, out: Path) -> Any:
    from seqgen.run_folder import load_config
    from seqgen.training.trainer import Trainer

    model_keys = (
        ["model.kind=lstm", "model.emb_dim=128", "model.hidden_dim=512"]
        if kind == "lstm"
        else [
            "model.kind=transformer",
            "model.num_layers=4",
            "model.d_model=256",
            "model.num_heads=4",
            "model.context=128",
        ]
    )
    cfg = load_config(
        None,
        [
            f"data.train={corpus}",
            "data.mode=stream",
            f"data.max_len={SEQ + 1}",
            "tokenizer.kind=char",
            f"train.batch_size={BATCH}",
            "train.max_steps=100000",
            "train.progress=false",
            "train.tensorboard=false",
            "train.eval_every=0",
            "train.save_every=0",
            f"train.compile={str(args.compile).lower()}",
            f"train.mixed_precision={'bf16' if precision == 'bf16' else 'no'}",
            f"out={out / f'{kind}-{precision}'}",
            *model_keys,
        ],
    )
    trainer = Trainer(cfg)
    # Each trainer's Accelerator wraps its own model when prepared: bf16 autocast for one, none for the other.
    assert trainer.accelerator.native_amp == (precision == "bf16"), precision
    return trainer


def bench(kind: str, args: argparse.Namespace, corpus: str, peaks: dict[str, float], out: Path) -> list[dict]:
    """One row per precision: seqgen's trainer and the plain loop, every side timed in the same rounds."""
    sides: dict[tuple[str, str], Callable[[], None]] = {}
    trainers: dict[str, Any] = {}
    for precision in peaks:
        trainers[precision] = trainer = seqgen_trainer(kind, precision, args, corpus, out)
        vocab = trainer.tokenizer.vocab_size
        data = torch.tensor(trainer.data.train["input_ids"], dtype=torch.long)
        model = plain_model(kind, vocab)
        if args.compile:
            model = torch.compile(model)
        sides[precision, "seqgen"] = trainer.train_step
        sides[precision, "plain"] = plain_step_fn(model, data, bf16=precision == "bf16")
    for fn in sides.values():  # warm up (and compile)
        time_steps(fn, 2)
    times: dict[tuple[str, str], list[float]] = {side: [] for side in sides}
    for _ in range(args.rounds):
        for side, fn in sides.items():
            times[side].append(time_steps(fn, args.steps))
    median = {side: statistics.median(t) for side, t in times.items()}
    tokens = BATCH * SEQ
    first = trainers["fp32"] if "fp32" in trainers else next(iter(trainers.values()))
    fpt = flops_per_token(first.unwrapped, kind, first.tokenizer.vocab_size)
    rows = []
    for precision, peak in peaks.items():
        ours, plain = median[precision, "seqgen"], median[precision, "plain"]
        fp32 = median.get(("fp32", "seqgen"))
        rows.append(
            {
                "precision": precision,
                "params M": first.unwrapped.num_parameters() / 1e6,
                "seqgen tok/s": tokens / ours,
                "plain tok/s": tokens / plain,
                "ratio": plain / ours,
                "vs fp32": fp32 / ours if fp32 is not None else float("nan"),
                "seqgen %peak": 100 * fpt * tokens / ours / peak,
                "plain %peak": 100 * fpt * tokens / plain / peak,
            }
        )
    return rows


def precisions(asked: str) -> list[str]:
    from seqgen.training.accelerator import cpu_bf16_supported

    out = [p.strip() for p in asked.split(",") if p.strip()]
    if "bf16" in out and not cpu_bf16_supported():
        print("bf16 left out: this CPU has no bf16 support in torch (oneDNN reports none)")
        out.remove("bf16")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--compile", action="store_true", help="torch.compile both sides")
    p.add_argument("--models", default="lstm,transformer")
    p.add_argument(
        "--precisions", default="fp32,bf16", help="fp32 and/or bf16 (bf16: CPUs with bf16 kernels)"
    )
    args = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    peaks = {name: matmul_peak(dtype=dtypes[name]) for name in precisions(args.precisions)}
    print(
        f"threads {torch.get_num_threads()}; measured matmul peak "
        + ", ".join(f"{name} {peak / 1e9:.1f} GFLOP/s" for name, peak in peaks.items())
        + f"; batch {BATCH} x {SEQ} tokens; compile={args.compile}"
    )
    print(
        "| model | precision | params | seqgen tok/s | plain tok/s | seqgen/plain | seqgen vs its fp32 "
        "| seqgen % peak | plain % peak |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = corpus_file(Path(tmp))
        for kind in args.models.split(","):
            for r in bench(kind, args, corpus, peaks, Path(tmp)):
                print(
                    f"| {kind} | {r['precision']} | {r['params M']:.2f}M | {r['seqgen tok/s']:.0f} | "
                    f"{r['plain tok/s']:.0f} | {r['ratio']:.3f} | {r['vs fp32']:.3f} | "
                    f"{r['seqgen %peak']:.1f} | {r['plain %peak']:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
