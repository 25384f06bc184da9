"""recipes/obw/char-bgan.yaml end to end, on a miniature One-Billion-Word tree built here.

The commands run are the ones the recipe's header shows (tokenizer, MLE warm start, BGAN phase), with the
corpus, tokenizer and run folders moved into tmp_path and sizes shrunk by overrides; so a header that stops
parsing, or a chain that stops working, fails here.
"""

from __future__ import annotations

import json
import random
import shlex
from pathlib import Path

import pytest
import torch
import yaml
from helpers import QUIET, REPO

import seqgen
from seqgen.cli import main

RECIPE = REPO / "recipes" / "obw" / "char-bgan.yaml"
TRAIN_SHARDS = (1, 2, 3)  # the real release starts at shard 00001 too
SUBJECTS = (
    "The president", "A spokesman for the company", "Police", "The new government", "Officials",
    "The home team", "Shares of the bank", "Analysts", "The city council", "Investors", "She", "Doctors",
)  # fmt: skip
VERBS = ("said", "announced", "expected", "reported", "warned", "confirmed", "denied", "told reporters")
DAYS = ("on Monday", "on Tuesday", "last week", "in March", "this year", "late on Friday")
CLAUSES = (
    "the plan would cut taxes", "prices rose by {n} percent", "{n} people were hurt in the crash",
    "the deal was worth $ {n} million", "talks would resume next month", "the vote had been delayed",
    "the company lost {n} jobs", "the match ended in a draw", "the school will close in {n} days",
)  # fmt: skip
SHORT = ("It was not clear .", "No one was hurt .", "He declined to comment .", "Shares fell .")


def news_sentences(n: int, seed: int) -> list[str]:
    """`n` One-Billion-Word-like lines (tokenized news English, a space before punctuation), seeded.

    About one line in ten is shorter than 32 characters, so some rows end in EOS as in the real corpus."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        if rng.random() < 0.1:
            lines.append(rng.choice(SHORT))
            continue
        clause = rng.choice(CLAUSES).format(n=rng.randint(2, 900))
        line = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(DAYS)} that {clause}"
        if rng.random() < 0.3:
            line += f" , {rng.choice(SUBJECTS).lower()} {rng.choice(VERBS)}"
        lines.append(line + " .")
    return lines


def write_obw_tree(root: Path, per_shard: int, seed: int = 0) -> Path:
    """The official layout: training shards news.en-0000K-of-00100, heldout shards 00000 (test), 00001
    (valid) of 00050; each shard its own seeded sentences."""
    train = root / "training-monolingual.tokenized.shuffled"
    heldout = root / "heldout-monolingual.tokenized.shuffled"
    train.mkdir(parents=True)
    heldout.mkdir()
    files = [train / f"news.en-{k:05d}-of-00100" for k in TRAIN_SHARDS]
    files += [heldout / f"news.en.heldout-{k:05d}-of-00050" for k in (0, 1)]
    for i, path in enumerate(files):
        lines = news_sentences(per_shard, seed * 100 + i)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return root


def header_commands(recipe: Path, places: dict[str, str]) -> list[list[str]]:
    """The `seqgen ...` lines of the recipe's header (continuations joined), with `places` substituted."""
    header = []
    for line in recipe.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    text = "\n".join(header).replace("\\\n", " ")
    commands = [line for line in text.splitlines() if line.startswith("seqgen ")]
    for old, new in places.items():
        commands = [c.replace(old, new) for c in commands]
    return [shlex.split(c)[1:] for c in commands]


def records(run: Path, split: str) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


def parameters(run: Path, checkpoint: str = "best") -> dict[str, torch.Tensor]:
    generator, _ = seqgen.load_run(run, checkpoint)
    return {k: v.detach().clone() for k, v in generator.state_dict().items()}


def run_chain(tmp_path: Path, per_shard: int, mle: list[str], bgan: list[str]) -> tuple[Path, Path]:
    """Build the corpus, then run the header's tokenizer, MLE and BGAN commands with the given overrides."""
    root = write_obw_tree(tmp_path / "obw", per_shard)
    places = {
        "$OBW": str(root),
        "tokenizers/obw-char": str(tmp_path / "obw-char"),
        "runs/": f"{tmp_path}/runs/",
        "recipes/obw/": f"{REPO}/recipes/obw/",
    }
    commands = header_commands(RECIPE, places)
    assert [c[0] for c in commands] == ["tokenizer", "train", "train", "compare"], commands
    tokenizer, mle_cmd, bgan_cmd, _ = commands  # compare evaluates both runs: minutes, not for this test
    assert main(tokenizer) == 0
    assert main([*mle_cmd, f"tokenizer.path={tmp_path / 'obw-char'}", *QUIET, *mle]) == 0
    assert main([*bgan_cmd, *QUIET, *bgan]) == 0
    return tmp_path / "runs" / "obw-char-mle", tmp_path / "runs" / "obw-char-bgan"


def check_chain(mle_run: Path, bgan_run: Path, bgan_steps: int, lr: float) -> None:
    """What a user of the recipe relies on, for a chain of any size."""
    losses = [r["loss"] for r in records(mle_run, "train")]
    assert losses[-1] < losses[0] - 0.3, losses  # the warm start learns

    # The BGAN phase is the recipe's: adversarial, bgan_is, a CNN discriminator, on the warm start's rows.
    cfg = yaml.safe_load((bgan_run / "config.yaml").read_text(encoding="utf-8"))
    mle_cfg = yaml.safe_load((mle_run / "config.yaml").read_text(encoding="utf-8"))
    assert cfg["objective"] == "adversarial" and Path(cfg["init_from"]) == mle_run
    assert (cfg["adv"]["estimator"], cfg["adv"]["discriminator"]) == ("bgan_is", "cnn")
    assert cfg["model"] == mle_cfg["model"] and cfg["tokenizer"]["kind"] == "char"
    assert cfg["data"]["mode"] == "sentence" and cfg["data"]["max_len"] == 33

    # It starts from the warm-start generator: after its steps the weights are the MLE generator's plus
    # AdamW updates of about lr each (far from a fresh model), and they did change.
    start, end = parameters(mle_run), parameters(bgan_run)
    assert start.keys() == end.keys()
    moved = max(float((end[k] - start[k]).abs().max()) for k in start)
    assert 0 < moved < 5 * lr * bgan_steps, moved
    assert json.loads((bgan_run / "checkpoint" / "trainer.json").read_text())["step"] == bgan_steps

    train = records(bgan_run, "train")
    assert train[-1]["step"] == bgan_steps
    for r in train:  # the adversarial diagnostics, every log step
        assert {"d_real", "d_fake", "ess", "entropy", "d_loss"} <= r.keys(), r.keys()
        assert 0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 and 1 <= r["ess"] <= 8 + 1e-6
    assert (bgan_run / "discriminator").is_dir()

    # Samples are written, each a window of at most 32 characters (BOS + 32 = data.max_len).
    samples = (bgan_run / "samples" / f"step-{bgan_steps}.txt").read_text(encoding="utf-8").splitlines()
    assert samples and all(len(s) <= 32 for s in samples), samples


def test_the_recipe_chain_runs_small(tmp_path):
    mle = [
        *("model.emb_dim=16", "model.hidden_dim=48", "model.num_layers=1"),
        *("train.max_steps=40", "train.batch_size=32", "train.warmup_steps=5", "train.lr=1e-2"),
        *("train.eval_every=20", "train.save_every=0", "train.log_every=5", "train.num_samples=0"),
    ]
    bgan = [
        *("adv.d_pretrain_steps=5", "adv.d_emb_dim=8", "adv.d_num_filters=8"),
        *("train.max_steps=6", "train.batch_size=16", "train.eval_every=3", "train.save_every=0"),
        *("train.log_every=1", "train.num_samples=4"),
    ]
    mle_run, bgan_run = run_chain(tmp_path, 300, mle, bgan)
    check_chain(mle_run, bgan_run, bgan_steps=6, lr=1e-4)


@pytest.mark.slow
def test_the_recipe_chain_runs_at_the_recipes_model_size(tmp_path):
    """The recipe's generator and discriminator sizes and batch, fewer steps and a smaller corpus; the
    discriminator pre-trained long enough to tell the warm start's samples from real rows."""
    mle = ["train.max_steps=100", "train.eval_every=50", "train.save_every=0", "train.num_samples=0"]
    bgan = ["adv.d_pretrain_steps=50", "train.max_steps=20", "train.eval_every=10", "train.save_every=0"]
    mle_run, bgan_run = run_chain(tmp_path, 3000, mle, bgan)
    check_chain(mle_run, bgan_run, bgan_steps=20, lr=1e-4)
    first = records(bgan_run, "train")[0]
    assert first["d_real"] > first["d_fake"], first
