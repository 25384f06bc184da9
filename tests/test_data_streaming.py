"""Streaming a hub corpus (`data.streaming=true`), tested on a local parquet folder in the layout of the hub's
parquet conversion of lm1b (`refs/convert/parquet`: one folder per config, a folder per split, parquet files
with one `text` column). No network: `hf:FOLDER:plain_text` reads the same layout from disk."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from seqgen.data.config import DataConfig
from seqgen.data.corpus import resolve_splits
from seqgen.models import load_generator
from seqgen.run_folder import load_config
from seqgen.tokenization import train_tokenizer
from seqgen.training.trainer import Trainer, train
from tests.helpers import fails

WORDS = "the a cat dog bird sat ran slept on under near mat log tree big small red old".split()


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(3, 9))) + " ." for _ in range(n)]


def _seed(split: str, file: int) -> int:
    return {"train": 0, "test": 100}[split] + file


@pytest.fixture(scope="module")
def lm1b(tmp_path_factory) -> Path:
    """FOLDER/plain_text/{train: 2 files of 300 rows, test: 1 file of 100 rows} and a word tokenizer."""
    root = tmp_path_factory.mktemp("lm1b")
    for split, files in (("train", 2), ("test", 1)):
        (root / "plain_text" / split).mkdir(parents=True)
        for k in range(files):
            rows = _sentences(300 if split == "train" else 100, seed=_seed(split, k))
            pq.write_table(pa.table({"text": rows}), root / "plain_text" / split / f"{k:04d}.parquet")
    train_tokenizer("word", _sentences(500, 7)).save(root / "tokenizer")
    return root


def _run(lm1b: Path, out: Path, *extra: str) -> list[str]:
    return [
        f"data.train=hf:{lm1b}:plain_text",
        "data.hf_revision=refs/convert/parquet",
        "data.streaming=true",
        "data.holdout=50",
        "data.max_len=16",
        "data.shuffle_buffer=64",
        "tokenizer.kind=word",
        f"tokenizer.path={lm1b / 'tokenizer'}",
        "model.kind=lstm",
        "model.emb_dim=16",
        "model.hidden_dim=32",
        "train.batch_size=16",
        "train.lr=1e-2",
        "train.warmup_steps=1",
        "train.max_steps=30",
        "train.eval_every=10",
        "train.save_every=4",
        "train.progress=false",
        "train.tensorboard=false",
        "train.num_samples=0",
        f"out={out}",
        *extra,
    ]


def test_stream_splits_follow_the_rules(lm1b):
    data = DataConfig(
        train=f"hf:{lm1b}:plain_text", hf_revision="refs/convert/parquet", streaming=True, holdout=50
    )
    s = resolve_splits(data)
    assert not hasattr(s.train, "__len__")  # an IterableDataset: nothing read yet
    # The parquet folder has a test split: it is read whole. No validation split: the first 50 rows of the
    # train stream are held out, and training skips them.
    assert len(s.test) == 100 and len(s.valid) == 50
    first = [r["text"] for r in pq.read_table(lm1b / "plain_text/train/0000.parquet").to_pylist()]
    assert list(s.valid["text"]) == first[:50]
    assert next(iter(s.train))["text"] == first[50]
    assert "rows 0..49 of the train stream" in s.rule


def test_streamed_run_learns_and_records_what_it_read(lm1b, tmp_path):
    result = train(load_config(None, _run(lm1b, tmp_path / "s")))
    log = [json.loads(line) for line in (result.run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if r["split"] == "train"]
    assert losses[-1] < losses[0] - 0.1, losses  # uniform words: only lengths and the final '.' are learnt
    valid = [r["nll"] for r in log if r["split"] == "valid"]
    assert valid[-1] < valid[0]
    info = json.loads((result.run / "run.json").read_text())
    assert info["train_rows"] is None and info["train_tokens"] is None  # unknown until the stream is read


def test_stream_batches_come_through_the_shuffle_buffer_and_cover_every_row(lm1b, tmp_path):
    cfg = load_config(None, _run(lm1b, tmp_path / "b", "train.batch_size=10"))
    trainer = Trainer(cfg)
    try:
        tok = trainer.tokenizer
        rows = [trainer.batches.micro_batch(k) for k in range(55)]  # 550 training rows: one epoch
    finally:
        trainer.close()
    texts = [tok.decode(r.tolist()) for batch in rows for r in batch]
    expected = _sentences(300, seed=_seed("train", 0))[50:] + _sentences(300, seed=_seed("train", 1))
    assert sorted(texts) == sorted(t for t in expected)  # the epoch is the stream, every row once
    assert texts != expected  # ... in shuffled order
    with pytest.raises(RuntimeError, match="in order"):
        trainer.batches.micro_batch(3)


def test_resumed_stream_run_equals_uninterrupted_run(lm1b, tmp_path):
    full = train(load_config(None, _run(lm1b, tmp_path / "full", "model.dropout=0.1")))
    train(load_config(None, _run(lm1b, tmp_path / "cut", "model.dropout=0.1")), stop_after=6)
    resumed = train(load_config(None, _run(lm1b, tmp_path / "cut", "model.dropout=0.1", "resume=true")))
    assert resumed.step == full.step == 30  # 30 x 16 rows: a resume in the second pass over the stream
    pf = load_generator(full.run / "checkpoint/generator").state_dict()
    pr = load_generator(resumed.run / "checkpoint/generator").state_dict()
    for k in pf:
        assert torch.equal(pf[k], pr[k]), k


def test_the_same_folder_loads_whole_without_streaming(lm1b):
    data = DataConfig(train=f"hf:{lm1b}:plain_text", hf_revision="refs/convert/parquet", holdout=50)
    s = resolve_splits(data)
    # The plain-corpus rule: k = min(data.holdout, 5% of 600 rows) = 30 rows held out (fixed permutation).
    assert len(s.train) == 600 - 30 and len(s.test) == 100 and len(s.valid) == 30


def test_stream_settings_that_cannot_work_are_refused(lm1b, tmp_path, capsys):
    run = _run(lm1b, tmp_path / "e")
    fails(capsys, "train", *run, "data.mode=stream", says=("data.streaming=true", "data.mode=sentence"))
    fails(capsys, "train", *run[1:], "data.train=caption", says=("data.streaming=true", "hf:NAME"))
    fails(capsys, "train", *run, "objective=adversarial", says=("cannot train on a stream",))
    no_tokenizer = [a for a in run if not a.startswith("tokenizer.path")]
    fails(capsys, "train", *no_tokenizer, says=("needs a saved tokenizer", "tokenizer.path"))
    fails(capsys, "train", *run, "data.train=caption", "data.streaming=false", says=("data.hf_revision",))
    assert not (tmp_path / "e").exists()
