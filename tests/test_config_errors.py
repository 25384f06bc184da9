"""Bad settings given to `seqgen train` (seqgen.config and each part's settings): a missing or unreadable
recipe, unknown keys (named, with a suggestion), values of the wrong type or choice, impossible combinations,
and values that mean nothing (betas outside [0, 1), NaN or infinite rates, negative seeds). Each is the
one-line error of helpers.py naming the key, and nothing is created at `out`."""

from __future__ import annotations

import pytest
from helpers import TINY_GPT, TINY_NO_SAMPLES, fails, write

# -------------------------------------------------------------------------------------- recipes and keys


def test_missing_recipe(tmp_path, capsys):
    fails(capsys, "train", tmp_path / "nope.yaml", says=("not found", str(tmp_path / "nope.yaml")))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("train: {max_steps: 3\n", "YAML"),
        ("- a\n- b\n", "mapping"),
        ("just a string\n", "mapping"),
        (b"train:\n  seed: \xff\n", "UTF-8"),
    ],
    ids=["invalid-yaml", "top-level-list", "top-level-string", "non-utf8"],
)
def test_bad_recipe_file(tmp_path, capsys, content, says):
    recipe = write(tmp_path / "recipe.yaml", content)
    fails(capsys, "train", recipe, says=(says, str(recipe)))


def test_unknown_key_on_the_command_line_is_named_with_a_suggestion(capsys):
    fails(capsys, "train", "train.max_step=3", says=("train.max_step", "did you mean 'train.max_steps'"))


def test_unknown_key_in_a_recipe_is_named_with_a_suggestion(tmp_path, capsys):
    recipe = write(tmp_path / "r.yaml", "model:\n  hiden_dim: 8\n")
    fails(capsys, "train", recipe, says=("model.hiden_dim", "model.hidden_dim"))


def test_unknown_section(capsys):
    fails(capsys, "train", "optim.lr=0.1", says=("optim.lr",))


def test_override_without_equals_sign(tmp_path, capsys):
    recipe = write(tmp_path / "r.yaml", "train:\n  seed: 1\n")
    fails(capsys, "train", recipe, "max_steps", says=("max_steps", "KEY=VALUE"))


# ------------------------------------------------------------------------------------------------ values


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("train.max_steps=abc", ("train.max_steps", "int", "abc")),
        ("train.max_steps=2.5", ("train.max_steps", "int")),
        ("train.lr=fast", ("train.lr", "float", "fast")),
        ("model.kind=cnn", ("model.kind", "cnn", "transformer")),
        ("tokenizer.kind=bytes", ("tokenizer.kind", "bytes")),
        ("train.progress=maybe", ("train.progress", "bool")),
        ("train=3", ("'train'", "section")),
        ("model.hidden_dim=[1, 2]", ("model.hidden_dim", "int")),
    ],
)
def test_wrong_type_or_choice(capsys, item, says):
    fails(capsys, "train", item, says=says)


@pytest.mark.parametrize(
    ("items", "says"),
    [
        (["train.grad_accum=3", "train.batch_size=8"], ("train.grad_accum=3", "train.batch_size=8")),
        ([*TINY_GPT, "data.max_len=64"], ("data.max_len=64", "model.context=32")),
        ([*TINY_GPT, "model.num_heads=3"], ("model.num_heads=3", "model.d_model=16")),
        (
            ["model.tie_embeddings=true", "model.emb_dim=16", "model.hidden_dim=32"],
            ("model.tie_embeddings", "model.emb_dim", "model.hidden_dim"),
        ),
        (["train.max_steps=0"], ("train.max_steps", "0")),
        (["train.max_steps=-3"], ("train.max_steps", "-3")),
        (["train.batch_size=0"], ("train.batch_size",)),
        (["train.lr=0"], ("train.lr",)),
        (["train.lr=-1e-3"], ("train.lr",)),
        (["model.dropout=1.0"], ("model.dropout",)),
        (["data.max_len=1"], ("data.max_len",)),
        (["data.holdout=-1"], ("data.holdout",)),
        (["train.eval_every=-1"], ("train.eval_every",)),
    ],
    ids=[
        "grad-accum",
        "max-len-vs-context",
        "heads",
        "tie",
        "zero-steps",
        "negative-steps",
        "zero-batch",
        "zero-lr",
        "negative-lr",
        "dropout-1",
        "max-len-1",
        "negative-holdout",
        "negative-eval-every",
    ],
)
def test_impossible_settings(tmp_path, capsys, items, says):
    fails(capsys, "train", *items, f"out={tmp_path / 'run'}", says=says)
    assert not (tmp_path / "run").exists()


def test_impossible_setting_in_a_recipe_is_refused_too(tmp_path, capsys):
    recipe = write(tmp_path / "r.yaml", "train:\n  batch_size: 10\n  grad_accum: 4\n")
    fails(capsys, "train", recipe, says=("train.grad_accum=4", "train.batch_size=10"))


# ------------------------------------------------------------------------------ values that mean nothing


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("train.beta1=1.5", "train.beta1"),
        ("train.beta2=1.0", "train.beta2"),
        ("train.beta2=-0.5", "train.beta2"),
        ("train.lr=nan", "train.lr"),
        ("train.lr=inf", "train.lr"),
        ("train.weight_decay=-0.1", "train.weight_decay"),
        ("train.weight_decay=nan", "train.weight_decay"),
        ("train.grad_clip=-1", "train.grad_clip"),
        ("train.grad_clip=nan", "train.grad_clip"),
        ("train.min_lr_ratio=1.5", "train.min_lr_ratio"),
        ("train.min_lr_ratio=-0.1", "train.min_lr_ratio"),
        ("train.seed=-1", "train.seed"),
        ("train.seed=99999999999999999999", "train.seed"),
        ("adv.d_lr=nan", "adv.d_lr"),
        ("adv.d_beta1=1.5", "adv.d_beta1"),
        ("adv.d_beta2=1", "adv.d_beta2"),
    ],
)
def test_values_that_mean_nothing_are_refused_naming_the_key(tmp_path, capsys, setting, key):
    extra = ["objective=adversarial"] if setting.startswith("adv.") else []
    fails(capsys, "train", *TINY_NO_SAMPLES, *extra, setting, f"out={tmp_path / 'run'}", says=(key,))
    assert not (tmp_path / "run").exists()
