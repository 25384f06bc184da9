"""Shared test fixtures. Shared constants and helpers (tiny configs, the error contract) are in helpers.py."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Before anything imports datasets (it reads these at import): tests never go online and never write to the
# user's ~/.cache, so a fresh clone and a developer's machine run the same code paths.
_CACHE = tempfile.mkdtemp(prefix="seqgen-tests-hf-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ.setdefault("HF_DATASETS_CACHE", _CACHE)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny complete run (valid and test splits, best generator, resumable checkpoint), trained once for the
    session (helpers.TINY_NO_SAMPLES). Never modified: tests that damage a run use `run_copy`."""
    from helpers import TINY_NO_SAMPLES  # imported here: the environment above must be set first

    from seqgen.cli import main

    path = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", *TINY_NO_SAMPLES, f"out={path}"]) == 0
    return path


@pytest.fixture
def run_copy(run: Path, tmp_path: Path) -> Path:
    """A private copy of `run` to damage. Its config.yaml says out=<the copy> so that resuming it tests only
    what the test damaged (and not whether a moved run folder may be resumed: see test_cli.py)."""
    import yaml

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    cfg = yaml.safe_load((copy / "config.yaml").read_text(encoding="utf-8"))
    cfg["out"] = str(copy)
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return copy


@pytest.fixture
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, private Hugging Face datasets cache for one test (nothing is written to ~/.cache)."""
    import datasets

    cache = tmp_path / "hf-datasets-cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))  # for subprocesses
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)  # read when a dataset is built
    return cache


@pytest.fixture(scope="session")
def obw_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A miniature One-Billion-Word tree: the real layout and file names, a few hundred short lines a shard.

    training-monolingual.tokenized.shuffled/news.en-0000{1,2,3}-of-00100   200, 300, 250 lines
    heldout-monolingual.tokenized.shuffled/news.en.heldout-0000{0,1}-of-00050   50, 40 lines
    Every line names its shard and line number ("train 00002 line 17 ."), so a test can see where rows came
    from; the real release also starts training at shard 00001.
    """
    root = tmp_path_factory.mktemp("obw")
    shards = {
        "training-monolingual.tokenized.shuffled": {
            f"news.en-{i:05d}-of-00100": n for i, n in ((1, 200), (2, 300), (3, 250))
        },
        "heldout-monolingual.tokenized.shuffled": {
            f"news.en.heldout-{i:05d}-of-00050": n for i, n in ((0, 50), (1, 40))
        },
    }
    for folder, files in shards.items():
        (root / folder).mkdir()
        kind = "train" if folder.startswith("training") else "heldout"
        for name, n in files.items():
            number = name.split("-")[1]
            text = "".join(f"{kind} {number} line {j} .\n" for j in range(n))
            (root / folder / name).write_text(text, encoding="utf-8")
    return root
