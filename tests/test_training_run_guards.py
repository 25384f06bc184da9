"""Nothing silently wrong in a training run (seqgen.training): a run started from another run inherits its
corpus, tokenizer and model (and refuses settings that contradict them), a resume needs only the folder,
non-finite weights are never checkpointed, every way a run can be cut short (interrupt, full disk, a kill
before the first checkpoint) leaves a folder that resumes, and <unk> rates are printed, recorded and warned.

Most cases call `seqgen.cli.main` in-process; refusals are the one-line error of helpers.py. Config values
that mean nothing are in test_config_errors.py; the run folder's lock and temporaries in test_run_folder.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import yaml
from helpers import QUIET_NO_SAMPLES, TINY_DATA, TINY_LSTM, TINY_NO_SAMPLES, fails, ok, strict_json_lines
from safetensors.torch import load_file

from seqgen.cli import main
from seqgen.errors import SeqgenError
from seqgen.run_folder import load_config
from seqgen.training.trainer import Trainer, train


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


# ------------------------------------------------------------------------- init_from inherits the corpus


@pytest.fixture(scope="module")
def word_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A word-level run on a user's corpus, trained with a RELATIVE corpus path from its own folder."""
    home = tmp_path_factory.mktemp("user")
    lines = [
        f"the {c} sat on the {m} number {i % 7} ."
        for i, (c, m) in enumerate(zip("abcdefgh" * 8, "xyzw" * 16, strict=True))
    ]
    (home / "corpus.txt").write_text("\n".join(lines * 2) + "\n", encoding="utf-8")
    here = os.getcwd()
    os.chdir(home)
    try:
        cfg = load_config(
            None,
            [
                "data.train=corpus.txt",
                "data.holdout=8",
                "data.max_len=16",
                "tokenizer.kind=word",
                "model.emb_dim=24",
                "model.hidden_dim=32",
                "train.max_steps=4",
                "train.batch_size=8",
                *QUIET_NO_SAMPLES,
                "out=runs/word",
            ],
        )
        train(cfg)
    finally:
        os.chdir(here)
    return home, home / "runs" / "word"


def test_init_from_inherits_data_tokenizer_and_model_and_records_them(
    word_run, tmp_path, capsys, monkeypatch
):
    home, source = word_run
    monkeypatch.chdir(tmp_path)  # another working directory: the relative corpus path must not matter
    err = ok(
        capsys,
        "train",
        "objective=scheduled_sampling",
        f"init_from={source}",
        "train.max_steps=2",
        "train.batch_size=8",
        *QUIET_NO_SAMPLES,
        "out=runs/x",
    )
    assert "starting from the generator of" in err
    saved = yaml.safe_load((tmp_path / "runs/x/config.yaml").read_text())
    assert saved["data"]["train"] == str(home / "corpus.txt")  # not the embedded caption language
    assert saved["tokenizer"]["kind"] == "word"
    assert saved["model"]["emb_dim"] == 24 and saved["model"]["hidden_dim"] == 32  # what was loaded
    info = json.loads((tmp_path / "runs/x/run.json").read_text())
    assert "corpus.txt" in info["split_rule"]
    assert info["corpus"]["train"] == str(home / "corpus.txt")


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("model.emb_dim=128", ("model.emb_dim=24", "model.emb_dim=128")),
        ("model.kind=gru", ("model.kind",)),
        ("tokenizer.kind=char", ("tokenizer.kind",)),
        ("model.pretrained=/nowhere", ("model.pretrained", "init_from")),
    ],
)
def test_init_from_refuses_settings_that_contradict_the_loaded_run(word_run, tmp_path, capsys, setting, says):
    _, source = word_run
    fails(
        capsys,
        "train",
        f"init_from={source}",
        setting,
        "train.max_steps=1",
        *QUIET_NO_SAMPLES,
        f"out={tmp_path / 'x'}",
        says=says,
    )
    assert not (tmp_path / "x").exists()


def test_init_from_with_another_corpus_given_uses_that_corpus(word_run, tmp_path, capsys):
    home, source = word_run
    other = tmp_path / "other.txt"
    other.write_text("".join(f"the a sat on the x number {i % 3} .\n" for i in range(60)), encoding="utf-8")
    ok(
        capsys,
        "train",
        f"init_from={source}",
        f"data.train={other}",
        "train.max_steps=1",
        "train.batch_size=8",
        *QUIET_NO_SAMPLES,
        f"out={tmp_path / 'x'}",
    )
    saved = yaml.safe_load((tmp_path / "x/config.yaml").read_text())
    assert saved["data"]["train"] == str(other) and saved["data"]["max_len"] == 16  # the rest inherited


# ----------------------------------------------------------------------------------- resume inherits all


def test_resume_needs_only_the_folder(tmp_path, capsys):
    run = tmp_path / "run"
    ok(capsys, "train", *TINY_NO_SAMPLES, "train.save_every=5", f"out={run}")
    err = ok(capsys, "train", f"out={run}", "resume=true", "train.max_steps=7")
    assert f"resuming {run} from step 5" in err
    assert json.loads((run / "checkpoint/trainer.json").read_text())["step"] == 7


# ------------------------------------------------------------------------------------ non-finite weights


HUGE_LR = ["train.lr=1e39", "train.warmup_steps=0"]


def test_an_update_that_overflows_the_weights_stops_before_anything_is_saved(tmp_path, capsys):
    # lr = 1e39 is finite as a Python float but not in float32: the first update makes the weights infinite
    # although the loss of step 1 was finite.
    run = tmp_path / "run"
    line = fails(
        capsys, "train", *TINY_NO_SAMPLES, *HUGE_LR, "train.save_every=1", f"out={run}", says=("step 1",)
    )
    assert "non-finite" in line and "no checkpoint" in line
    assert not (run / "checkpoint").exists() and not (run / "generator").exists()


def test_the_stop_message_names_the_checkpoint_that_exists_and_it_is_finite(tmp_path, monkeypatch):
    cfg = load_config(
        None, [*TINY_NO_SAMPLES, "train.max_steps=6", "train.save_every=2", f"out={tmp_path / 'run'}"]
    )
    trainer = Trainer(cfg)
    step = trainer.optimizer.step

    def overflowing_step(*args, **kwargs):
        out = step(*args, **kwargs)
        if trainer.step == 3:  # the update of step 4 overflows
            with torch.no_grad():
                next(trainer.unwrapped.parameters()).fill_(float("inf"))
        return out

    trainer.optimizer.step = overflowing_step
    with pytest.raises(SeqgenError, match="step 4") as err:
        trainer.fit()
    assert "the checkpoint of step 2 is intact" in str(err.value)
    saved = json.loads((tmp_path / "run/checkpoint/trainer.json").read_text())
    assert saved["step"] == 2
    assert all(torch.isfinite(t).all() for t in weights(tmp_path / "run/checkpoint/generator").values())


def test_skip_mode_skips_the_update_that_would_make_weights_non_finite(tmp_path, capsys):
    run = tmp_path / "run"
    ok(
        capsys,
        "train",
        *TINY_NO_SAMPLES,
        *HUGE_LR,
        "train.on_nonfinite=skip",
        "train.log_every=1",
        f"out={run}",
    )
    records = strict_json_lines(run / "metrics.jsonl")  # valid JSON: no bare NaN
    train_records = [r for r in records if r["split"] == "train"]
    assert len(train_records) == 5 and all(r.get("skipped") == 1.0 for r in train_records)
    final = weights(run / "checkpoint/generator")
    assert all(torch.isfinite(t).all() for t in final.values())
    # every update was undone: the weights are those of initialisation (same seed, fresh model)
    fresh = Trainer(load_config(None, [*TINY_NO_SAMPLES, *HUGE_LR, f"out={tmp_path / 'fresh'}"]))
    for k, v in fresh.unwrapped.lm.state_dict().items():
        assert torch.equal(final[k], v), k
    fresh.close()


# --------------------------------------------------------------------------------------------- cut short


def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_from_step_0(tmp_path, capsys):
    cfg = load_config(
        None,
        [
            *TINY_NO_SAMPLES,
            "train.max_steps=6",
            "train.save_every=100",
            "train.log_every=1",
            f"out={tmp_path / 'run'}",
        ],
    )
    train(cfg, stop_after=3)  # as if killed: 3 steps logged, no checkpoint
    assert not (tmp_path / "run/checkpoint").exists()
    fails(capsys, "train", *TINY_NO_SAMPLES, f"out={tmp_path / 'run'}", says=("not empty", "resume=true"))
    err = ok(capsys, "train", f"out={tmp_path / 'run'}", "resume=true")
    assert "starting it from step 0" in err
    steps = [r["step"] for r in strict_json_lines(tmp_path / "run/metrics.jsonl") if r["split"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_an_interrupt_names_the_checkpoint_on_disk_and_the_resume_command(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    calls = {"n": 0}
    step = Trainer.train_step

    def interrupted(self):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    capsys.readouterr()
    assert main([*"train".split(), *TINY_NO_SAMPLES, "train.save_every=2", f"out={run}"]) == 130
    err = capsys.readouterr().err
    assert "interrupted at step 3" in err and "the checkpoint of step 2 is intact" in err, err
    assert f"seqgen train out={run} resume=true" in err
    assert "Traceback" not in err
    monkeypatch.undo()
    assert "resuming" in ok(capsys, "train", f"out={run}", "resume=true")
    assert json.loads((run / "checkpoint/trainer.json").read_text())["step"] == 5


def test_disk_full_during_a_save_names_the_folder_and_keeps_the_previous_checkpoint(
    tmp_path, capsys, monkeypatch
):
    import errno

    from accelerate import Accelerator

    run = tmp_path / "run"
    save_state = Accelerator.save_state
    calls = {"n": 0}

    def full_disk(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save_state(self, *args, **kwargs)

    monkeypatch.setattr(Accelerator, "save_state", full_disk)
    line = fails(
        capsys,
        "train",
        *TINY_NO_SAMPLES,
        "train.save_every=2",
        f"out={run}",
        says=("no space left", str(run)),
    )
    assert "the checkpoint of step 2 is intact" in line
    assert json.loads((run / "checkpoint/trainer.json").read_text())["step"] == 2
    assert not [p for p in run.iterdir() if ".tmp-" in p.name]
    monkeypatch.undo()
    ok(capsys, "train", f"out={run}", "resume=true")


# ---------------------------------------------------------------------------------------------- messages


def test_discriminator_pretraining_shows_a_progress_bar(tmp_path, capsys):
    err = ok(
        capsys,
        "train",
        *TINY_DATA,
        *TINY_LSTM,
        "objective=adversarial",
        "adv.d_pretrain_steps=3",
        "train.max_steps=1",
        "train.batch_size=8",
        "train.tensorboard=false",
        "train.num_samples=0",
        f"out={tmp_path / 'run'}",
    )
    assert "discriminator pre-training" in err


# -------------------------------------------------------------------------------- where the corpus lives


def test_a_run_trained_on_a_relative_path_evaluates_from_another_directory(
    word_run, tmp_path, capsys, monkeypatch
):
    _, source = word_run
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", str(source), "--metrics", "nll"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tokens"] > 0 and "unk_fraction" in result


# ------------------------------------------------------------------------------------- out of vocabulary


def test_out_of_vocabulary_rate_is_printed_recorded_warned_and_evaluated(tmp_path, capsys):
    # Punctuation attached to words: "dog," and "dog." are other words than "dog", so a capped vocabulary
    # turns many test tokens into <unk>.
    words = [f"w{i}" for i in range(60)]
    lines = [" ".join(f"{words[(i * 7 + j) % 60]}{',.;!'[j % 4]}" for j in range(6)) for i in range(400)]
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    err = ok(
        capsys,
        "train",
        f"data.train={corpus}",
        "tokenizer.kind=word",
        "tokenizer.max_vocab=40",
        *TINY_LSTM,
        "train.max_steps=2",
        "train.batch_size=8",
        *QUIET_NO_SAMPLES,
        f"out={run}",
    )
    info = json.loads((run / "run.json").read_text())
    rates = info["unk_fraction"]
    assert set(rates) == {"train", "valid"} and rates["train"] > 0.5
    assert "<unk> tokens: train" in err and "seqgen: warning:" in err and "<unk>" in err
    capsys.readouterr()
    assert main(["evaluate", str(run), "--metrics", "nll"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["unk_fraction"] > 0.5
    assert "warning" in err
