"""Data parallelism on CPU: 2 processes under torchrun (gloo). `accelerate launch --cpu --num_processes 2`
starts only one process, so the documented command is torchrun with ACCELERATE_USE_CPU=1 (README)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from seqgen.models import load_generator
from seqgen.run_folder import load_config
from seqgen.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
COMMON = [
    "data.caption_sentences=400",
    "data.holdout=40",
    "data.max_len=20",
    "model.kind=lstm",
    "model.emb_dim=16",
    "model.hidden_dim=32",
    "train.batch_size=16",
    "train.grad_accum=2",
    "train.max_steps=6",
    "train.warmup_steps=1",
    "train.lr=1e-2",
    "train.progress=false",
    "train.tensorboard=false",
    "train.num_samples=0",
    "train.eval_every=3",
    "train.save_every=3",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        *args,
    ]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[:3000]
    return proc


def test_two_processes_identical_parameters_and_configured_global_batch(tmp_path):
    result_file = tmp_path / "result.json"
    torchrun(str(ROOT / "tests" / "ddp_worker.py"), str(tmp_path / "ddp"), str(result_file), *COMMON)
    r = json.loads(result_file.read_text())
    assert r["world_size"] == 2
    assert r["identical"]
    assert r["rows_per_rank"] == [4, 4]  # 16 sequences / 2 micro-batches / 2 processes
    assert r["global_batch"] == 16
    assert r["step"] == 6


def test_two_processes_adversarial_steps_keep_generator_and_discriminator_identical(tmp_path):
    # Generator and discriminator are both prepared by Accelerate; samples differ by rank (each rank draws
    # its own), gradients are averaged, so both models must stay identical on every rank.
    result_file = tmp_path / "result.json"
    adversarial = [
        "objective=adversarial",
        "adv.group_size=4",
        "adv.d_pretrain_steps=2",
        "adv.d_steps=2",
        "adv.penalty=gp",
        "adv.normalize=batch",  # MaliGAN: weights normalised over the micro-batch of both processes
        "adv.d_emb_dim=16",
        "adv.d_num_filters=8",
    ]
    torchrun(
        str(ROOT / "tests" / "ddp_worker.py"), str(tmp_path / "adv"), str(result_file), *COMMON, *adversarial
    )
    r = json.loads(result_file.read_text())
    assert r["world_size"] == 2 and r["models"] == 2
    assert r["identical"]
    assert r["step"] == 6
    assert (tmp_path / "adv" / "discriminator" / "model.safetensors").is_file()


def test_documented_torchrun_command_matches_one_process(tmp_path):
    # The README's command, through the CLI. Same global batch and token normalisation, so the 2-process
    # run computes the same updates as one process (up to float summation order).
    torchrun("-m", "seqgen", "train", *COMMON, f"out={tmp_path / 'two'}")
    one = train(load_config(None, [*COMMON, f"out={tmp_path / 'one'}"]))
    p2 = load_generator(tmp_path / "two" / "checkpoint" / "generator").state_dict()
    p1 = load_generator(one.run / "checkpoint" / "generator").state_dict()
    for k in p1:
        torch.testing.assert_close(p1[k], p2[k], rtol=1e-4, atol=1e-5)
    info = json.loads((tmp_path / "two" / "run.json").read_text())
    assert info["processes"] == 2


def _obw_root(root: Path, sentences: int = 1200) -> Path:
    """A small One-Billion-Word-shaped corpus (3 training shards, heldout shards 00000 and 00001)."""
    import random

    rng = random.Random(0)
    words = "the a cat dog sat ran on under mat log big small red and".split()
    train = root / "training-monolingual.tokenized.shuffled"
    held = root / "heldout-monolingual.tokenized.shuffled"
    train.mkdir(parents=True)
    held.mkdir()

    def lines(n: int) -> str:
        return "".join(" ".join(rng.choices(words, k=rng.randint(3, 12))) + " .\n" for _ in range(n))

    for k in (1, 2, 3):
        (train / f"news.en-{k:05d}-of-00100").write_text(lines(sentences // 3))
    for k in (0, 1):
        (held / f"news.en.heldout-{k:05d}-of-00050").write_text(lines(100))
    return root


def test_two_processes_encode_once_and_train_on_identical_batches(tmp_path):
    # Under torchrun only the main process reads and encodes the corpus (accelerate's main_process_first);
    # the other one waits and reads the encoded rows from the datasets cache. Same batches as one process.
    root = _obw_root(tmp_path / "obw")
    cache = {"HF_DATASETS_CACHE": str(tmp_path / "hf"), "SEQGEN_CACHE": str(tmp_path / "seqgen")}
    cache["SEQGEN_DEBUG"] = "1"  # the encoding lines of small corpora are debug lines
    run = [f"data.train={root}", "tokenizer.kind=word", *COMMON[3:]]
    proc = torchrun("-m", "seqgen", "train", *run, f"out={tmp_path / 'two'}", env=cache)
    log = proc.stdout + proc.stderr
    encoded = [ln for ln in log.splitlines() if "encoding sentences:" in ln and "rows in" in ln]
    cached = [ln for ln in log.splitlines() if "encoding sentences: read from the datasets cache" in ln]
    assert len(encoded) == 2, log[-3000:]  # train and valid, once each: by the main process
    assert len(cached) == 2, log[-3000:]  # the other process read both from the cache
    one = train(load_config(None, [*run, f"out={tmp_path / 'one'}"]))
    p2 = load_generator(tmp_path / "two" / "checkpoint" / "generator").state_dict()
    p1 = load_generator(one.run / "checkpoint" / "generator").state_dict()
    for k in p1:
        torch.testing.assert_close(p1[k], p2[k], rtol=1e-4, atol=1e-5)
