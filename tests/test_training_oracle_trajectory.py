"""train.oracle_eval_every: exact divergence trajectories in metrics.jsonl (split "oracle") on the oracle."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import QUIET_LOG_EVERY_STEP, fails

from seqgen.data.oracles.corpus import build_oracle
from seqgen.data.oracles.symbols import FIRST_SYMBOL_ID
from seqgen.metrics.divergences import js_pi, kl, total_variation
from seqgen.metrics.exact_distribution import model_distribution
from seqgen.models import build_generator, load_generator
from seqgen.models.config import ModelConfig
from seqgen.run_folder import load_config
from seqgen.training.oracle_trajectory import SUPPORT_FRACTION, oracle_record, p_support, trajectory_pi
from seqgen.training.trainer import Trainer, train

KEYS = {"kl_p_q", "kl_q_p", "js_pi", "pi", "js", "tv", "q_mass_on_p_support", "p_support_size"}
ORACLE = ["data.train=oracle", "data.max_len=7", "data.oracle.sentences=2000", "data.holdout=100"]


def cfg_for(tmp_path, name, *extra):
    return load_config(
        None,
        [
            *ORACLE,
            "model.kind=lstm",
            "model.emb_dim=8",
            "model.hidden_dim=16",
            "train.batch_size=64",
            "train.warmup_steps=2",
            "train.lr=1e-2",
            *QUIET_LOG_EVERY_STEP,
            f"out={tmp_path / name}",
            *extra,
        ],
    )


def records(run, split="oracle"):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


def params(folder):
    return {k: v.clone() for k, v in load_generator(folder).state_dict().items()}


def test_records_every_n_steps_are_exact_and_kl_falls(tmp_path):
    trainer = Trainer(cfg_for(tmp_path, "run", "train.max_steps=60", "train.oracle_eval_every=20"))
    trainer.fit()
    got = records(tmp_path / "run")
    assert [r["step"] for r in got] == [0, 20, 40, 60]  # step 0: before the first update
    for r in got:
        assert set(r) == KEYS | {"step", "split"}
        assert all(math.isfinite(r[k]) for k in KEYS), r
        assert r["pi"] == 0.5 and r["js"] == r["js_pi"]
        assert 0.0 <= r["q_mass_on_p_support"] <= 1.0 + 1e-9 and 0.0 <= r["tv"] <= 1.0
    assert got[-1]["kl_p_q"] < got[0]["kl_p_q"] - 0.3, [r["kl_p_q"] for r in got]
    # the last record is the exact value for the generator the run ends with
    oracle = build_oracle(trainer.cfg.data)
    q = model_distribution(trainer.unwrapped, oracle)
    assert got[-1]["kl_p_q"] == pytest.approx(kl(oracle.probs, q), abs=1e-9)
    assert got[-1]["kl_q_p"] == pytest.approx(kl(q, oracle.probs), abs=1e-9)
    assert got[-1]["tv"] == pytest.approx(total_variation(oracle.probs, q), abs=1e-9)
    assert got[-1]["js"] == pytest.approx(js_pi(oracle.probs, q, 0.5), abs=1e-9)


def test_resume_gives_the_records_of_an_uninterrupted_run_and_logging_changes_no_weight(tmp_path):
    # dropout > 0: the exact pass must leave the train mode and the random streams as it found them
    extra = ["model.dropout=0.1", "train.max_steps=12", "train.save_every=4", "train.eval_every=0"]
    every = "train.oracle_eval_every=5"
    full = train(cfg_for(tmp_path, "full", *extra, every))
    train(cfg_for(tmp_path, "cut", *extra, every), stop_after=6)  # checkpoint at 4, record at 5 is lost
    assert [r["step"] for r in records(tmp_path / "cut")] == [0, 5]
    resumed = train(cfg_for(tmp_path, "cut", *extra, every, "resume=true"))
    assert resumed.step == full.step == 12
    assert records(resumed.run) == records(full.run)
    assert [r["step"] for r in records(full.run)] == [0, 5, 10]
    silent = train(cfg_for(tmp_path, "silent", *extra))
    assert records(silent.run) == []
    pf, ps = params(full.run / "checkpoint/generator"), params(silent.run / "checkpoint/generator")
    assert all(torch.equal(pf[k], ps[k]) for k in pf)


def test_pi_is_the_discriminators_class_balance_for_gan_adversarial_runs():
    def pi_of(*items):
        return trajectory_pi(load_config(None, [*ORACLE, *items]))

    assert pi_of() == 0.5
    assert pi_of("objective=adversarial", "adv.pi=0.2") == 0.2
    assert pi_of("objective=adversarial", "adv.divergence=kl") == 0.5


def test_it_needs_the_enumerable_oracle(tmp_path, capsys):
    fails(
        capsys,
        "train",
        "train.oracle_eval_every=5",
        f"out={tmp_path / 'r'}",
        says=("train.oracle_eval_every=5 needs data.train=oracle", "data.train=caption"),
    )
    fails(capsys, "train", *ORACLE, "train.oracle_eval_every=-1", says=("train.oracle_eval_every",))


def test_q_mass_on_p_support_sees_a_generator_outside_the_support():
    cfg = load_config(None, [*ORACLE, "data.oracle.symbol_offset=0,0,-12,-12"])
    oracle = build_oracle(cfg.data)
    support = p_support(oracle)
    assert torch.equal(support, oracle.probs >= SUPPORT_FRACTION / 4**5)
    # 36 of the 1024 sequences hold 0.99998 of P; none has more than one of the rare symbols 2, 3
    assert int(support.sum()) < 64 and float(oracle.probs[support].sum()) > 0.9999
    assert int((oracle.sequences[support] >= 2).sum(dim=1).max()) <= 1

    def independent_on(symbols):  # an independent-positions generator with its mass on `symbols`
        gen = build_generator(ModelConfig(kind="independent", context=6), FIRST_SYMBOL_ID + 4)
        with torch.no_grad():
            gen.lm.position_logits.weight.zero_()
            gen.lm.position_logits.weight[:, [FIRST_SYMBOL_ID + s for s in symbols]] = 10.0
        return gen

    inside = oracle_record(independent_on([0, 1]), oracle, 0.5)  # 29 of its 32 sequences are in the support
    outside = oracle_record(independent_on([2, 3]), oracle, 0.5)
    assert inside["q_mass_on_p_support"] > 0.9 and outside["q_mass_on_p_support"] < 0.01
    assert outside["kl_q_p"] > 40 and outside["js"] > 0.69  # JS near its bound log 2: rejected with certainty
