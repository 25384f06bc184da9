"""MLE training: the model learns, accumulation is token-normalised, resume equals an uninterrupted run."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import QUIET_LOG_EVERY_STEP, TINY_GPT, TINY_LSTM

from seqgen.errors import SeqgenError
from seqgen.models import load_generator
from seqgen.run_folder import load_config
from seqgen.training.trainer import Trainer, train


def cfg_for(tmp_path, name, *extra, corpus=None):
    data = [f"data.train={corpus}"] if corpus else ["data.caption_sentences=400", "data.holdout=50"]
    return load_config(
        None,
        [
            *data,
            "data.max_len=24",
            "train.batch_size=16",
            "train.warmup_steps=2",
            *QUIET_LOG_EVERY_STEP,
            f"out={tmp_path / name}",
            *extra,
        ],
    )


def params(run_or_model):
    model = load_generator(run_or_model) if not isinstance(run_or_model, torch.nn.Module) else run_or_model
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("model", [TINY_LSTM, TINY_GPT], ids=["lstm", "transformer"])
def test_mle_learns_on_caption_language(tmp_path, model):
    cfg = cfg_for(tmp_path, "run", *model, "train.max_steps=40", "train.lr=1e-2", "train.eval_every=40")
    trainer = Trainer(cfg)
    before = params(trainer.unwrapped)
    first = trainer.train_step()["loss"]
    trainer.step += 1
    result = trainer.fit()
    after = params(trainer.unwrapped)
    assert result.train_loss < first - 1.0, (first, result.train_loss)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # the run folder is complete and the best generator loads on its own
    run = tmp_path / "run"
    for name in (
        "config.yaml",
        "run.json",
        "tokenizer/tokenizer.json",
        "generator/config.json",
        "checkpoint/trainer.json",
        "metrics.jsonl",
    ):
        assert (run / name).exists(), name
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in records if r["split"] == "valid"]
    assert (
        valid
        and math.isfinite(valid[-1]["nll"])
        and valid[-1]["nll"] < math.log(trainer.tokenizer.vocab_size)
    )
    assert load_generator(run / "generator").vocab_size == trainer.tokenizer.vocab_size


def test_gradient_accumulation_normalises_by_tokens_of_the_whole_step(tmp_path):
    # Sentences of very different lengths: a mean of micro-batch means would weight short ones more.
    corpus = tmp_path / "c.txt"
    g = torch.Generator().manual_seed(0)
    words = [f"w{i}" for i in range(12)]
    lines = []
    for i in range(64):
        n = 1 + (i % 4) * 6
        lines.append(" ".join(words[j] for j in torch.randint(12, (n,), generator=g).tolist()))
    corpus.write_text("\n".join(lines) + "\n")
    common = [
        *TINY_LSTM,
        "train.max_steps=3",
        "train.lr=1e-2",
        "train.grad_clip=0",
        "data.holdout=0",
        "tokenizer.kind=word",
        "data.valid=" + str(corpus),
        "data.test=" + str(corpus),
    ]
    a = train(cfg_for(tmp_path, "a", *common, "train.grad_accum=1", corpus=corpus))
    b = train(cfg_for(tmp_path, "b", *common, "train.grad_accum=4", corpus=corpus))
    pa, pb = params(a.run / "checkpoint" / "generator"), params(b.run / "checkpoint" / "generator")
    for k in pa:
        torch.testing.assert_close(pa[k], pb[k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", [TINY_LSTM, TINY_GPT], ids=["lstm", "transformer"])
def test_resume_mid_epoch_equals_uninterrupted_run(tmp_path, model):
    # dropout > 0 so the RNG state must be restored too; 400 rows / 16 = 25 batches an epoch, so step 4 is
    # mid-epoch and step 30 is in the second epoch.
    extra = [*model, "model.dropout=0.1", "train.max_steps=30", "train.save_every=4", "train.eval_every=10"]
    full = train(cfg_for(tmp_path, "full", *extra))
    # An "interrupted" run: stops after 6 steps; its last checkpoint is step 4, steps 5-6 are lost.
    train(cfg_for(tmp_path, "cut", *extra), stop_after=6)
    assert json.loads((tmp_path / "cut/checkpoint/trainer.json").read_text())["step"] == 4
    resumed = train(cfg_for(tmp_path, "cut", *extra, "resume=true"))
    assert resumed.step == full.step == 30
    pf, pr = params(full.run / "checkpoint/generator"), params(resumed.run / "checkpoint/generator")
    for k in pf:
        assert torch.equal(pf[k], pr[k]), k
    assert resumed.best_valid_nll == full.best_valid_nll
    log_f = (full.run / "metrics.jsonl").read_text().splitlines()
    log_r = (resumed.run / "metrics.jsonl").read_text().splitlines()
    strip = [lambda r: {k: v for k, v in json.loads(r).items() if k != "tokens_per_s"}][0]
    assert [strip(r) for r in log_f] == [strip(r) for r in log_r]


def test_non_finite_loss_stops_with_the_step_named(tmp_path, monkeypatch):
    import seqgen.objectives.mle as obj

    real = obj.token_nll_sum
    calls = {"n": 0}

    def poisoned(model, batch, pad_id):
        calls["n"] += 1
        nll, n = real(model, batch, pad_id)
        return (nll * float("nan") if calls["n"] == 3 else nll), n

    monkeypatch.setattr(obj, "token_nll_sum", poisoned)
    with pytest.raises(SeqgenError, match=r"non-finite loss=nan at step 3"):
        train(cfg_for(tmp_path, "nan", *TINY_LSTM, "train.max_steps=5"))


def test_interrupted_save_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    from seqgen.models import Generator

    extra = [*TINY_LSTM, "train.max_steps=8", "train.save_every=4", "train.eval_every=0"]
    cfg = cfg_for(tmp_path, "crash", *extra)
    real_save = Generator.save
    calls = {"n": 0}

    def dying_save(self, directory, tokenizer=None):
        calls["n"] += 1
        if "checkpoint" in str(directory) and calls["n"] > 1:
            real_save(self, directory, tokenizer)
            raise KeyboardInterrupt("killed while saving")
        return real_save(self, directory, tokenizer)

    trainer = Trainer(cfg)
    trainer.fit(stop_after=4)  # checkpoint at step 4 written normally
    monkeypatch.setattr(Generator, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()  # dies while writing the step-8 checkpoint
    monkeypatch.undo()
    assert json.loads((tmp_path / "crash/checkpoint/trainer.json").read_text())["step"] == 4
    assert not list((tmp_path / "crash").glob(".checkpoint.tmp*"))
    load_generator(tmp_path / "crash/checkpoint/generator")
    resumed = train(cfg_for(tmp_path, "crash", *extra, "resume=true"))
    assert resumed.step == 8


def test_resume_refuses_changed_model_config(tmp_path):
    extra = [*TINY_LSTM, "train.max_steps=2", "train.save_every=2"]
    train(cfg_for(tmp_path, "r", *extra))
    with pytest.raises(SeqgenError, match="model.hidden_dim"):
        Trainer(cfg_for(tmp_path, "r", *extra, "model.hidden_dim=64", "resume=true"))
    with pytest.raises(SeqgenError, match="not empty"):
        Trainer(cfg_for(tmp_path, "r", *extra))


def test_same_seed_same_numbers(tmp_path):
    extra = [*TINY_GPT, "model.dropout=0.1", "train.max_steps=5"]
    a = train(cfg_for(tmp_path, "s1", *extra))
    b = train(cfg_for(tmp_path, "s2", *extra))
    assert a.train_loss == b.train_loss
    pa, pb = params(a.run / "checkpoint/generator"), params(b.run / "checkpoint/generator")
    assert all(torch.equal(pa[k], pb[k]) for k in pa)


def test_tensorboard_events_are_written_when_tensorboard_is_installed(tmp_path):
    pytest.importorskip("tensorboard")
    train(cfg_for(tmp_path, "tb", *TINY_LSTM, "train.max_steps=4", "train.tensorboard=true"))
    assert list((tmp_path / "tb" / "tensorboard").glob("events.out.tfevents.*"))
