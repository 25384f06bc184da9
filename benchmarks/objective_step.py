"""Time per optimiser step of scheduled sampling (two_pass and exact) beside MLE, same model and batch.

Models are those of benchmarks/train_throughput.py: a char-level LSTM (emb 128, hidden 512) and a GPT-style
Transformer (4 layers, d 256, 4 heads, ctx 128), batch 64 x 128 tokens of Tiny Shakespeare (random text of
the same alphabet when ../shared is absent). One step = forward + backward + AdamW update through seqgen's
own loss functions. The objectives alternate in rounds and the median step time of each is compared, so
machine noise hits all alike. Targets (issue 4): two_pass <= 1.5x MLE for both models; exact <= 2.5x MLE for
the LSTM.

The adversarial part (issue 5) times one full `objective=adversarial` step with bgan_is, M = 8 (8 groups of 8
= the 64 rows) and a CNN discriminator, through seqgen's objective and discriminator module: sampling 64
sequences of 128 tokens, scoring them, the generator's policy-gradient update and one discriminator update.
Beside it, in the same rounds, its two unavoidable parts alone: incremental sampling of the 64 sequences
(`Generator.sample`) and one teacher-forced MLE step on them. Target: full step <= 1.2x their sum. Special
tokens are masked while sampling so every sample has all 128 tokens (an untrained model would stop early at
EOS and flatter the adversarial step).

    python benchmarks/objective_step.py [--steps 5] [--rounds 3] [--p-gold 0.5] [--only ss|adversarial]
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
    from seqgen.models import build_generator
    from seqgen.models.config import ModelConfig

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


class NoSpecialTokens:
    """The benchmark's sampling/scoring constraint: never the special ids 0..3, so rows run full length."""

    def allowed(self, positions: int, vocab_size: int, device: torch.device) -> torch.Tensor:
        allowed = torch.ones(positions, vocab_size, dtype=torch.bool, device=device)
        allowed[:, :4] = False
        return allowed

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores.masked_fill(~self.allowed(1, scores.size(-1), scores.device)[0], float("-inf"))


def adversarial_parts(model, batch: torch.Tensor, vocab: int) -> dict:
    """Step functions: the full adversarial step, its parts, and the two baseline parts."""
    from accelerate import Accelerator

    from seqgen.objectives.adversarial.objective import Adversarial
    from seqgen.objectives.adversarial.policy import token_log_probs
    from seqgen.objectives.base import TrainingContext
    from seqgen.objectives.mle import token_nll_sum
    from seqgen.run_folder import load_config

    cfg = load_config(
        None,
        [
            "objective=adversarial",
            "adv.estimator=bgan_is",
            "adv.group_size=8",
            f"train.batch_size={BATCH}",
            f"data.max_len={SEQ + 1}",
        ],
    )
    obj = Adversarial(cfg.adv, pad_id=0, max_len=SEQ + 1)
    tok = type("Tok", (), {"eos_id": 2, "bos_id": 1, "pad_id": 0, "vocab_size": vocab})()
    rng = torch.Generator().manual_seed(0)
    ctx = TrainingContext(  # what the trainer would give: a CPU accelerator, a training split of BATCH rows
        accelerator=Accelerator(cpu=True),
        tokenizer=tok,
        train_ids=[[1, 2]] * BATCH,
        micro_batch=BATCH,
        grad_accum=1,
        seed=0,
        rng=lambda step, micro, stream: rng,
        log=lambda *args: None,
        log_every=10,
        progress=False,
        bar={},
    )
    obj.bind(ctx)  # builds the CNN discriminator (adv.* defaults) and its Adam optimiser
    obj.constraint = NoSpecialTokens()
    d_module = obj.critic.module
    g_opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    d_opt = torch.optim.Adam(obj.critic.discriminator.parameters(), lr=1e-4)
    totals = {"rows": float(BATCH), "tokens": float(BATCH * SEQ)}
    fakes = obj.sample(model, BATCH, rng)
    assert fakes.shape == (BATCH, SEQ + 1), fakes.shape

    def full() -> None:
        loss, _ = obj.loss(model, batch, step=0, rng=rng, totals=totals)
        loss.backward()
        g_opt.step()
        g_opt.zero_grad(set_to_none=True)
        d_loss, _ = d_module(batch, obj.fakes.pop(), rng)
        d_loss.backward()
        d_opt.step()
        d_opt.zero_grad(set_to_none=True)

    def sampling() -> None:  # baseline part 1 (and the full step's first part)
        model.sample(BATCH, SEQ + 1, generator=rng, logits_processors=[obj.constraint])

    def mle_on_samples() -> None:  # baseline part 2
        nll, n = token_nll_sum(model, fakes, 0)
        (nll / n).backward()
        g_opt.step()
        g_opt.zero_grad(set_to_none=True)

    def scoring() -> None:
        obj.score(model, fakes)

    def generator_update() -> None:
        logp, mask, _ = token_log_probs(model, fakes, start=1, pad_id=0, constraint=obj.constraint)
        (-(logp * mask).sum() / BATCH).backward()
        g_opt.step()
        g_opt.zero_grad(set_to_none=True)

    def discriminator_update() -> None:
        d_loss, _ = d_module(batch, fakes, rng)
        d_loss.backward()
        d_opt.step()
        d_opt.zero_grad(set_to_none=True)

    return {
        "full": full,
        "sampling": sampling,
        "mle_on_samples": mle_on_samples,
        "d_scoring": scoring,
        "g_update": generator_update,
        "d_update": discriminator_update,
    }


def timed(steps: dict, n: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each step function, alternating in rounds after one warm-up call each."""
    for f in steps.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for k, f in steps.items():
            for _ in range(n):
                t = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def report_adversarial(kind: str, model, batch: torch.Tensor, vocab: int, n: int, rounds: int) -> None:
    med = timed(adversarial_parts(model, batch, vocab), n, rounds)
    base = med["sampling"] + med["mle_on_samples"]
    print(f"  adversarial bgan_is M=8 (8 groups x 8 = {BATCH} samples of {SEQ} tokens, CNN discriminator):")
    print(f"    full step {med['full'] * 1000:8.1f} ms   {med['full'] / base:.2f}x (sampling + MLE step)")
    print(
        f"      parts alone: sampling {med['sampling'] * 1000:.1f} ms, discriminator scoring "
        f"{med['d_scoring'] * 1000:.1f} ms, generator update {med['g_update'] * 1000:.1f} ms, "
        f"discriminator update {med['d_update'] * 1000:.1f} ms"
    )
    print(
        f"    baseline: sampling {med['sampling'] * 1000:.1f} ms + MLE step on the samples "
        f"{med['mle_on_samples'] * 1000:.1f} ms = {base * 1000:.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5, help="timed steps per objective per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--p-gold", type=float, default=0.5)
    p.add_argument("--only", choices=["ss", "adversarial"], default=None)
    args = p.parse_args(argv)
    batch, vocab = batch_of_text()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"batch {BATCH} x {SEQ} tokens, vocab {vocab}"
    )
    objectives = ["mle", "ss:two_pass", "ss:exact"] if args.only != "adversarial" else ["mle"]
    for kind in ("lstm", "transformer"):
        model = build(kind, vocab).train()
        if args.only != "ss":
            print(f"\n{kind} ({sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters)")
            report_adversarial(kind, model, batch, vocab, args.steps, args.rounds)
            if args.only == "adversarial":
                continue
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
