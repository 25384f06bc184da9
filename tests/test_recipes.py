"""Every shipped recipe parses with the current config keys; every shipped tokenizer fits its corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqgen.run_folder import load_config
from seqgen.tokenization import load_tokenizer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
# Run configs; study.yaml files are study specs (tests/test_study.py loads each at every scale), and
# accelerate_*.yaml files are Accelerate config files.
ACCELERATE_CONFIGS = sorted((ROOT / "recipes").glob("*/accelerate_*.yaml"))
RECIPES = sorted(
    p for p in (ROOT / "recipes").glob("*/*.yaml") if p.name != "study.yaml" and p not in ACCELERATE_CONFIGS
)


def test_there_are_recipes():
    assert len(RECIPES) >= 4


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=lambda p: p.name)
def test_accelerate_config_files_load_with_accelerates_own_loader(path):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(path))
    assert config.num_processes >= 2 and str(config.mixed_precision) == "bf16"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_parses(recipe):
    cfg = load_config(recipe)
    assert cfg.train.max_steps > 0
    if cfg.tokenizer.path and not (ROOT / cfg.tokenizer.path / "tokenizer.json").is_file():
        # A tokenizer too big to ship: the recipe must say how to build it.
        assert f"--out {cfg.tokenizer.path}" in recipe.read_text(), cfg.tokenizer.path


@pytest.mark.parametrize(
    ("folder", "corpus"),
    [("shakespeare-char", "tinyshakespeare/input.txt"), ("coco-spm2000", "coco/test.txt")],
)
def test_shipped_tokenizer_round_trips_its_corpus(folder, corpus):
    if not (DATA / corpus).is_file():
        pytest.skip(f"{DATA / corpus} not present")
    tok = load_tokenizer(ROOT / "tokenizers" / folder)
    lines = (DATA / corpus).read_text(encoding="utf-8").splitlines()[:500]
    covered = [ln for ln in lines if tok.unk_id not in tok.encode(ln)]
    assert len(covered) >= 0.98 * len(lines)
    assert all(tok.decode(tok.encode(ln)) == ln for ln in covered)


def test_no_package_named_tokenizers():
    assert not (ROOT / "tokenizers" / "__init__.py").exists()


def test_oracle_recipe_prints_the_exact_divergence_table(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("oracle_run", ROOT / "recipes" / "oracle" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path), "--steps", "2"]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(module.RUNS)
    assert "KL(P||Q)" in table[0] and "KL(P || product of marginals)" in out


def test_adversarial_oracle_recipe_prints_mean_and_std_over_seeds(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "oracle_adv", ROOT / "recipes" / "oracle" / "adversarial.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = [
        "--out",
        str(tmp_path),
        "--steps",
        "2",
        "--seeds",
        "0,1",
        "--only",
        "pi",
        "--set",
        "adv.d_pretrain_steps=2",
    ]
    assert module.main(argv) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 1 + 5  # header, rule, the MLE start, five values of pi
    assert all(" ± " in line for line in table[2:])


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_recipe_on_a_public_corpus_says_how_to_get_it_and_the_shared_copy_fits(recipe):
    """Recipes read data/NAME/ (what `seqgen data download NAME` writes); CI points them at ../shared/data,
    which holds the same files."""
    from seqgen.data.download import CORPORA

    cfg = load_config(recipe)
    paths = [p for p in (cfg.data.train, cfg.data.valid, cfg.data.test) if p and p.startswith("data/")]
    if not paths:
        return
    first = recipe.read_text(encoding="utf-8").splitlines()[0]
    name = paths[0].split("/")[1]
    assert first.startswith(f"# Data: `seqgen data download {name}`"), first
    assert name in CORPORA
    if DATA.is_dir():
        assert all((DATA / p.removeprefix("data/")).is_file() for p in paths), paths
