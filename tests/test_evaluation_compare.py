"""`seqgen compare`: two small runs side by side, one table per split with the best values marked and the
protocol in the header, and the two quality-diversity plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from helpers import QUIET

from seqgen.cli import main

DATA = ["data.caption_sentences=1500", "data.holdout=150", "data.max_len=24"]
MODEL = ["model.kind=lstm", "model.emb_dim=32", "model.hidden_dim=64", "train.batch_size=32", *QUIET]
LM = ["--lm", "emb_dim=16", "--lm", "hidden_dim=32", "--lm", "max_steps=60", "--lm", "eval_every=20"]
FAST = ["--num-samples", "80", "--temperatures", "0.7,1.3", *LM, "--classifier", "steps=30"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("compare")
    short, long = root / "short", root / "long"
    assert main(["train", *DATA, *MODEL, "train.max_steps=10", f"out={short}"]) == 0
    assert main(["train", *DATA, *MODEL, "train.max_steps=150", "train.lr=3e-3", f"out={long}"]) == 0
    return short, long


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path_factory.getbasetemp() / "seqgen-cache"))


def test_compare_prints_a_table_and_writes_both_plots(runs, tmp_path, capsys):
    short, long = runs
    rc = main(["compare", str(short), str(long), *FAST, "--plot-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = out.splitlines()
    assert any("test split" in line for line in lines)
    assert any("tokenize=treebank" in line for line in lines)  # the BLEU protocol is in the header
    table = [line for line in lines if line.startswith("|")]
    # header, rule, and per run: one likelihood row + one row per temperature
    assert len(table) == 2 + 2 * 3
    assert sum("short" in line for line in table) == 3 and sum("long" in line for line in table) == 3
    # The longer-trained run has the better held-out NLL: its NLL cell is the bold one.
    header = [c.strip() for c in table[0].strip("|").split("|")]
    nll_col = next(i for i, c in enumerate(header) if c.split()[0] == "NLL")
    long_likelihood = next(line for line in table if "long" in line and line.split("|")[2].strip() == "–")
    assert long_likelihood.split("|")[nll_col + 1].strip().startswith("**")
    from matplotlib.image import imread

    for name in ("compare-test-bleu.png", "compare-test-lm.png"):
        image = imread(tmp_path / name)
        assert image.shape[0] > 200 and image.shape[1] > 200, name
        assert image.std() > 0.01  # not a blank canvas
    assert str(tmp_path / "compare-test-lm.png") in err


def test_compare_csv_and_latex_from_saved_evaluations(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # without -o the plots go to the current folder
    saved = []
    for run in runs:
        target = tmp_path / f"{run.name}.json"
        args = ["--metrics", "nll,bleu,self_bleu,oracle", "--num-samples", "60", "--temperatures", "0.8,1.0"]
        assert main(["evaluate", str(run), *args, "-o", str(target)]) == 0
        saved.append(str(target))
    capsys.readouterr()
    table = tmp_path / "table.csv"
    assert main(["compare", *saved, "--format", "csv", "-o", str(table), "--labels", "A,B"]) == 0
    body = [line for line in table.read_text().splitlines() if not line.startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(body))))
    header, data = rows[0], rows[1:]
    assert header[:2] == ["run", "temperature"] and "bleu4" in header and "valid_fraction" in header
    assert {r[0] for r in data} == {"A", "B", "best"}
    best = next(r for r in data if r[0] == "best")
    assert best[header.index("nll")] == "B@–" or best[header.index("nll")].startswith("B")
    assert (tmp_path / "compare-test-bleu.png").is_file()  # plots go next to -o by default
    assert not (tmp_path / "compare-test-lm.png").exists()  # no LM scores were measured
    assert main(["compare", *saved, "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert (tmp_path / "compare-test-bleu.png").is_file()
    assert "\\begin{tabular}" in latex and "\\textbf{" in latex and "self\\_bleu" in latex.lower()


def test_compare_refuses_bad_input_in_one_line(runs, tmp_path, capsys):
    short, _ = runs
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    for argv, says in (
        (["compare", str(tmp_path / "missing")], "missing"),
        (["compare", str(bad)], "bad.json"),
        (["compare", str(short), "--labels", "a,b"], "--labels"),
        (["compare", str(short), "--temperatures", "0.5,-1"], "--temperatures"),
        (["compare", str(short), "--metrics", "bleu,rouge"], "rouge"),
        (["compare", str(short), "--splits", "dev"], "dev"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("seqgen: error:") and says in err and "\n" not in err, (argv, err)


def test_evaluate_run_with_every_metric_records_its_settings(runs, tmp_path, capsys):
    _, long = runs
    target = tmp_path / "eval.json"
    rc = main(["evaluate", str(long), "--metrics", "all", *FAST, "-o", str(target)])
    assert rc == 0, capsys.readouterr().err
    result = json.loads(target.read_text())
    settings = result["settings"]
    assert settings["temperatures"] == [0.7, 1.3] and settings["num_samples"] == 80
    assert settings["tokenize"] == "treebank" and settings["lm_settings"]["hidden_dim"] == 32
    assert settings["reference_lm"]["cache"]
    for row in result["samples"]:
        for key in ("bleu4", "self_bleu4", "lm_score", "reverse_lm_score", "classifier_accuracy"):
            assert isinstance(row[key], float), key
        assert row["classifier"]["seed"] == 0 and row["classifier"]["n_test_real"] > 0
        assert 0 <= row["valid_fraction"] <= 1
    cold, hot = result["samples"]  # T=0.7 samples are more alike and more likely than T=1.3 ones
    assert cold["self_bleu4"] > hot["self_bleu4"] and cold["lm_score"] < hot["lm_score"]


def test_a_saved_evaluation_inside_a_run_folder_is_named_after_the_run(tmp_path):
    from seqgen.evaluation.compare import unique_labels

    for run in ("lstm", "gpt"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "config.yaml").write_text("{}\n")
    (tmp_path / "loose.json").write_text("{}\n")
    items = [tmp_path / "lstm", tmp_path / "gpt" / "eval.json", tmp_path / "loose.json"]
    assert unique_labels(items) == ["lstm", "gpt", "loose"]
