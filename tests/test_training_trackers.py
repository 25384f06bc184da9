"""train.report_to: the training metrics also go to Accelerate's trackers, imported only when asked for."""

from __future__ import annotations

import pytest
from helpers import TINY

from seqgen.errors import SeqgenError
from seqgen.run_folder import load_config
from seqgen.training.accelerator import trackers
from seqgen.training.trainer import train


def test_an_unknown_tracker_is_refused_naming_the_key():
    with pytest.raises(SeqgenError, match=r"train.report_to.*unknown tracker 'tensorbord'"):
        load_config(None, ["train.report_to=tensorbord"])


def test_a_tracker_that_is_not_installed_is_one_line_naming_the_package(monkeypatch):
    import accelerate.utils

    monkeypatch.setattr(accelerate.utils, "is_wandb_available", lambda: False)
    cfg = load_config(None, ["train.report_to=tensorboard,wandb"])
    with pytest.raises(SeqgenError, match=r"report_to=wandb needs the wandb package: pip install wandb"):
        trackers(cfg.train)


def test_without_report_to_train_tensorboard_decides():
    assert trackers(load_config(None, ["train.tensorboard=false"]).train) == []
    assert trackers(load_config(None, ["train.report_to=tensorboard"]).train) == ["tensorboard"]


def test_report_to_tensorboard_writes_event_files(tmp_path):
    out = tmp_path / "run"
    train(load_config(None, [*TINY, "train.tensorboard=false", "train.report_to=tensorboard", f"out={out}"]))
    assert list(out.glob("**/events.out.tfevents.*")), sorted(p.name for p in out.rglob("*"))
