"""Shared test fixtures."""

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
