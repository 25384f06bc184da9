"""MLE training throughput: seqgen's trainer beside a plain hand-written PyTorch loop, in the same process.

Models (issue 2): a char-level LSTM (emb 128, hidden 512) and a GPT-style Transformer (4 layers, d 256,
4 heads, ctx 128), batch 64 x 128 tokens of Tiny Shakespeare (stream mode). The two sides alternate in rounds
and the median step time of each is compared, so machine noise hits both alike. Also prints the fraction of
the machine's measured fp32 matmul peak that each side reaches (model FLOPs: 6 x matmul params per token
+ attention).

    python benchmarks/train_throughput.py [--steps 8] [--rounds 3] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
BATCH, SEQ = 64, 128


def matmul_peak(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
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


def plain_step_fn(model: nn.Module, data: torch.Tensor, lr: float = 1e-3):
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)

    def step() -> None:
        rows = torch.randint(len(data), (BATCH,), generator=g)
        batch = data[rows]
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


def bench(kind: str, args: argparse.Namespace, corpus: str, peak: float, out: Path) -> dict[str, float]:
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
            f"out={out / kind}",
            *model_keys,
        ],
    )
    trainer = Trainer(cfg)
    vocab = trainer.tokenizer.vocab_size
    data = torch.tensor(trainer.data.train["input_ids"], dtype=torch.long)
    torch.manual_seed(0)
    if kind == "lstm":
        plain_model = PlainLSTM(vocab, 128, 512)
    else:
        from transformers import GPT2Config, GPT2LMHeadModel

        plain_model = GPT2LMHeadModel(
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
    if args.compile:
        plain_model = torch.compile(plain_model)
    plain = plain_step_fn(plain_model, data)
    ours = trainer.train_step
    for fn in (ours, plain):  # warm up (and compile)
        time_steps(fn, 2)
    t_ours, t_plain = [], []
    for _ in range(args.rounds):
        t_ours.append(time_steps(ours, args.steps))
        t_plain.append(time_steps(plain, args.steps))
    ours_s, plain_s = statistics.median(t_ours), statistics.median(t_plain)
    tokens = BATCH * SEQ
    fpt = flops_per_token(trainer.unwrapped, kind, vocab)
    return {
        "seqgen tok/s": tokens / ours_s,
        "plain tok/s": tokens / plain_s,
        "ratio": plain_s / ours_s,
        "seqgen %peak": 100 * fpt * tokens / ours_s / peak,
        "plain %peak": 100 * fpt * tokens / plain_s / peak,
        "params M": trainer.unwrapped.num_parameters() / 1e6,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--compile", action="store_true", help="torch.compile both sides")
    p.add_argument("--models", default="lstm,transformer")
    args = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    peak = matmul_peak()
    print(
        f"threads {torch.get_num_threads()}; measured fp32 matmul peak {peak / 1e9:.1f} GFLOP/s; "
        f"batch {BATCH} x {SEQ} tokens; compile={args.compile}"
    )
    print("| model | params | seqgen tok/s | plain tok/s | seqgen/plain | seqgen % peak | plain % peak |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = corpus_file(Path(tmp))
        for kind in args.models.split(","):
            r = bench(kind, args, corpus, peak, Path(tmp))
            print(
                f"| {kind} | {r['params M']:.2f}M | {r['seqgen tok/s']:.0f} | {r['plain tok/s']:.0f} | "
                f"{r['ratio']:.3f} | {r['seqgen %peak']:.1f} | {r['plain %peak']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
