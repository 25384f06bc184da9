"""What each objective really learns, measured exactly on an enumerable oracle (Huszar 2015; DESIGN §5, §7).

- maximum likelihood recovers P: KL(P||Q) < 0.02 nats;
- scheduled sampling fed only its own samples (p_gold = 0) learns the product of P's marginals instead:
  KL(Q || product) < 0.02 while KL(P||Q) stays within 10% of KL(P || product);
- for two positions and a constant p_gold = 0.5, Q(x2|x1) = 0.5 P(x2|x1) + 0.5 P_2(x2) for every x1.
Each trains a 64-unit LSTM (batch 256, Adam) through the real trainer and evaluates Q over all V^L sequences.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqgen.data.oracles.corpus import build_oracle
from seqgen.metrics.divergences import kl, total_variation
from seqgen.metrics.exact_distribution import model_distribution
from seqgen.run_folder import load_config
from seqgen.training.trainer import Trainer

COMMON = [
    "data.train=oracle",
    "data.oracle.sentences=100000",
    "data.holdout=500",
    "model.kind=lstm",
    "model.emb_dim=32",
    "model.hidden_dim=64",
    "train.batch_size=256",
    "train.lr=3e-3",
    "train.warmup_steps=50",
    "train.weight_decay=0",
    "train.eval_every=0",
    "train.save_every=0",
    "train.num_samples=0",
    "train.progress=false",
    "train.tensorboard=false",
]


def fit(tmp_path: Path, name: str, *overrides: str):
    cfg = load_config(None, [*COMMON, *overrides, f"out={tmp_path / name}"])
    trainer = Trainer(cfg)
    trainer.fit()
    oracle = build_oracle(cfg.data)
    return oracle, model_distribution(trainer.unwrapped, oracle)


def test_oracle_has_dependent_positions():
    cfg = load_config(None, COMMON)
    oracle = build_oracle(cfg.data)
    assert oracle.length >= 4
    assert kl(oracle.probs, oracle.product_of_marginals()) >= 0.5


def test_maximum_likelihood_recovers_p(tmp_path):
    oracle, q = fit(tmp_path, "mle", "data.max_len=8", "train.max_steps=1500")
    assert kl(oracle.probs, q) < 0.02


def test_scheduled_sampling_with_p_gold_zero_learns_the_product_of_marginals(tmp_path):
    oracle, q = fit(
        tmp_path,
        "ss0",
        "data.max_len=8",
        "train.max_steps=1500",
        "objective=scheduled_sampling",
        "ss.mode=exact",
        "ss.p_gold=0",
    )
    product = oracle.product_of_marginals()
    kl_p_product = kl(oracle.probs, product)
    assert kl(q, product) < 0.02
    assert abs(kl(oracle.probs, q) - kl_p_product) <= 0.1 * kl_p_product


def test_two_positions_half_gold_mixes_conditional_and_marginal(tmp_path):
    oracle, q = fit(
        tmp_path,
        "ss-half",
        "data.oracle.length=2",
        "data.max_len=4",
        "train.max_steps=1500",
        "train.min_lr_ratio=0.01",  # a decaying learning rate, so the stochastic optimum is reached
        "objective=scheduled_sampling",
        "ss.mode=exact",
        "ss.p_gold=0.5",
    )
    v = oracle.vocab
    first = oracle.conditional(1)[0]
    assert float(first.min()) >= 0.1  # every first token is seen often enough to learn its row
    p_cond = oracle.conditional(2)  # (V, V): P(x2 | x1)
    p2 = oracle.marginals[1]
    q_joint = q.reshape(v, v)
    q_cond = q_joint / q_joint.sum(dim=1, keepdim=True)
    for x1 in range(v):
        want = 0.5 * p_cond[x1] + 0.5 * p2
        assert total_variation(q_cond[x1], want) < 0.03, (x1, q_cond[x1], want)
    # and it is not simply P: the mixture differs from P(x2|x1) by more than the tolerance somewhere
    assert max(total_variation(q_cond[x1], p_cond[x1]) for x1 in range(v)) > 0.03
    torch.testing.assert_close(q_joint.sum(), torch.tensor(1.0, dtype=q.dtype))


@pytest.mark.parametrize("mode", ["exact", "two_pass"])
def test_scheduled_sampling_at_p_gold_one_is_maximum_likelihood(tmp_path, mode):
    # p_gold = 1 feeds only gold tokens: the same run as MLE, bit for bit.
    short = ["data.max_len=8", "train.max_steps=20", "data.oracle.sentences=2000"]
    _, q_mle = fit(tmp_path, f"mle-{mode}", *short)
    _, q_ss = fit(
        tmp_path, f"ss1-{mode}", *short, "objective=scheduled_sampling", f"ss.mode={mode}", "ss.p_gold=1"
    )
    assert torch.equal(q_mle, q_ss)


def test_seqgan_oracle_run_reports_nll_oracle(tmp_path, capsys):
    import json

    from seqgen.cli import main

    run = tmp_path / "seqgan"
    args = ["data.train=seqgan_oracle", "data.oracle.sentences=300", "data.holdout=50", "data.max_len=22"]
    tiny = ["model.emb_dim=16", "model.hidden_dim=32", "train.max_steps=3", "train.batch_size=16"]
    assert main(["train", *args, *tiny, "train.progress=false", f"out={run}"]) == 0
    assert main(["evaluate", str(run), "--metrics", "nll,oracle", "--num-samples", "40"]) == 0
    result = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert result["tokens"] == 50 * 21  # 20 words + EOS per held-out sequence
    (sample,) = result["samples"]
    assert 0 <= sample["valid_fraction"] <= 1 and "oracle_nll" in sample
    assert "SeqGAN oracle" in result["split_rule"]
