"""End-to-end happy paths of the `seqgen` command: train, sample, evaluate, tokenizer train, resume.

Most tests call `seqgen.cli.main` in-process (fast); one runs the real `python -m seqgen` to prove the command
a user types works. One tiny caption-language run is trained per module and shared by the read-only tests.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import QUIET, REPO, TINY, TINY_DATA, TINY_LSTM, TINY_STEPS

from seqgen.cli import main

WORDS = "the a cat dog sat on mat ran fast slow big small red".split()


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # drop anything printed before
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def train_ok(capsys: pytest.CaptureFixture, *items: str) -> str:
    rc, out, err = run_cli(capsys, "train", *items)
    assert rc == 0, err
    assert "seqgen: error" not in err
    return out


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def random_sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(n)]


@pytest.fixture(scope="module")
def caption_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny LSTM run on the caption language (with valid and test splits), shared read-only."""
    run = tmp_path_factory.mktemp("caption") / "run"
    assert main(["train", *TINY, f"out={run}"]) == 0
    return run


@pytest.fixture(scope="module")
def char_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny character-level run (bits per character are reported)."""
    run = tmp_path_factory.mktemp("char") / "run"
    items = [
        "data.caption_sentences=300",
        "data.holdout=10",
        "data.max_len=40",
        "tokenizer.kind=char",
        *TINY_LSTM,
        "train.max_steps=1",
        "train.batch_size=8",
        "train.num_samples=0",
        *QUIET,
        f"out={run}",
    ]
    assert main(["train", *items]) == 0
    return run


def sample(capsys: pytest.CaptureFixture, run: Path, *args: str) -> list[str]:
    rc, out, err = run_cli(capsys, "sample", run, *args)
    assert rc == 0, err
    return out.splitlines()


def evaluate(capsys: pytest.CaptureFixture, run: Path, *args: str) -> dict:
    rc, out, err = run_cli(capsys, "evaluate", run, *args)
    assert rc == 0, err
    return json.loads(out)


# ------------------------------------------------------------------------------------------------ --help
@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        ([], ["train", "sample", "evaluate", "tokenizer"]),
        (["train"], ["train.max_steps", "data.train", "model.kind", "tokenizer.kind", "resume", "init_from"]),
        (
            ["sample"],
            [
                "-n",
                "--temperature",
                "--top-k",
                "--top-p",
                "--seed",
                "--prefix",
                "--output",
                "--checkpoint",
                "--max-len",
            ],
        ),
        (["evaluate"], ["--split", "--output", "--num-samples", "--checkpoint"]),
        (["tokenizer"], ["train"]),
        (["tokenizer", "train"], ["--kind", "--vocab-size", "--input", "--out"]),
    ],
    ids=["seqgen", "train", "sample", "evaluate", "tokenizer", "tokenizer-train"],
)
def test_help_of_every_command_exits_0_and_lists_its_options(capsys, argv, mentions):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in mentions:
        assert word in out, (word, out)


def test_train_help_lists_every_config_key(capsys):
    from seqgen.config import all_keys
    from seqgen.run_folder import RunConfig

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    missing = [k for k in all_keys(RunConfig) if k not in out]
    assert not missing


# ------------------------------------------------------------------------------------------------- train
def test_train_from_the_command_line_alone_on_text_files(tmp_path, capsys):
    train_file = write_lines(tmp_path / "a.txt", random_sentences(200, 0))
    test_lines = random_sentences(30, 1)
    test_file = write_lines(tmp_path / "b.txt", test_lines)
    run = tmp_path / "run"
    out = train_ok(
        capsys,
        f"data.train={train_file}",
        f"data.test={test_file}",
        "tokenizer.kind=word",
        "data.max_len=20",
        *TINY_LSTM,
        *TINY_STEPS,
        "train.num_samples=0",
        f"out={run}",
    )
    assert "trained 5 steps" in out and str(run) in out
    for name in (
        "config.yaml",
        "run.json",
        "tokenizer/tokenizer.json",
        "generator/model.safetensors",
        "checkpoint/trainer.json",
        "metrics.jsonl",
    ):
        assert (run / name).is_file(), name
    assert json.loads((run / "checkpoint/trainer.json").read_text())["step"] == 5
    # The test split is b.txt itself; every word is in the vocabulary: its tokens are words + one EOS a line.
    result = evaluate(capsys, run, "--split", "test")
    assert result["split"] == "test"
    assert result["tokens"] == sum(len(line.split()) + 1 for line in test_lines)
    # Every sentence-mode run gets BLEU/Self-BLEU by default; oracle metrics only on an oracle corpus.
    (samples,) = result["samples"]
    assert {"bleu2", "self_bleu5"} <= samples.keys() and "valid_fraction" not in samples


def test_yaml_recipe_then_overrides_and_the_override_wins(tmp_path, capsys):
    import yaml

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "data": {"caption_sentences": 300, "holdout": 30, "max_len": 20},
                "model": {"kind": "gru", "emb_dim": 16, "hidden_dim": 32},
                "train": {
                    "max_steps": 50,
                    "batch_size": 8,
                    "progress": False,
                    "tensorboard": False,
                    "seed": 3,
                    "num_samples": 0,
                },
            }
        )
    )
    run = tmp_path / "run"
    out = train_ok(capsys, recipe, "train.max_steps=1", "model.hidden_dim=24", f"out={run}")
    assert "trained 1 steps" in out
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["max_steps"] == 1 and saved["model"]["hidden_dim"] == 24  # overrides
    assert saved["model"]["kind"] == "gru" and saved["train"]["seed"] == 3  # recipe
    assert saved["model"]["emb_dim"] == 16
    gen_cfg = json.loads((run / "generator/config.json").read_text())
    assert 24 in gen_cfg.values()  # the model really was built with the overridden width


def test_tiny_transformer_trains_from_the_command_line(tmp_path, capsys):
    run = tmp_path / "gpt"
    out = train_ok(
        capsys,
        *TINY_DATA,
        "model.kind=transformer",
        "model.num_layers=1",
        "model.d_model=16",
        "model.num_heads=2",
        "model.context=32",
        "train.max_steps=1",
        "train.batch_size=8",
        *QUIET,
        "train.num_samples=0",
        f"out={run}",
    )
    assert "trained 1 steps" in out
    assert len(sample(capsys, run, "-n", "3")) == 3


def test_resume_continues_a_run_to_more_steps(tmp_path, capsys):
    run = tmp_path / "run"
    common = [
        *TINY_DATA,
        *TINY_LSTM,
        "train.batch_size=8",
        "train.log_every=1",
        "train.num_samples=0",
        *QUIET,
        f"out={run}",
    ]
    train_ok(capsys, *common, "train.max_steps=2")
    out = train_ok(capsys, *common, "train.max_steps=4", "resume=true")
    assert "trained 4 steps" in out
    assert json.loads((run / "checkpoint/trainer.json").read_text())["step"] == 4
    steps = [
        json.loads(line)["step"]
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if json.loads(line)["split"] == "train"
    ]
    assert steps == [1, 2, 3, 4]


def test_resume_after_moving_the_run_folder(caption_run, tmp_path, capsys):
    # A user moves or copies runs/x to runs/y and continues it with out=runs/y: `out` says where the run is
    # now; it does not change what a step computes, so it must not block the resume.
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(caption_run, moved)
    out = train_ok(capsys, *TINY, "train.max_steps=7", "resume=true", f"out={moved}")
    assert "trained 7 steps" in out
    assert json.loads((moved / "checkpoint/trainer.json").read_text())["step"] == 7
    original = json.loads((caption_run / "checkpoint/trainer.json").read_text())
    assert original["step"] == 5  # the original run is untouched


# ------------------------------------------------------------------------------------------------ sample
def test_sample_n_gives_that_many_lines(caption_run, capsys):
    assert len(sample(capsys, caption_run)) == 10  # the default
    for n in (1, 7):
        lines = sample(capsys, caption_run, "-n", str(n), "--seed", "1")
        assert len(lines) == n


def test_sample_same_seed_same_text_other_seed_other_text(caption_run, capsys):
    a = sample(capsys, caption_run, "-n", "20", "--seed", "1")
    b = sample(capsys, caption_run, "-n", "20", "--seed", "1")
    c = sample(capsys, caption_run, "-n", "20", "--seed", "2")
    assert a == b
    assert a != c  # 20 samples of an untrained-ish model over ~300 words: equal only by a tiny chance


def test_sample_prefix_starts_every_sample(caption_run, capsys):
    lines = sample(capsys, caption_run, "-n", "10", "--prefix", "a man", "--seed", "3")
    assert len(lines) == 10
    assert all(line.startswith("a man") for line in lines), lines
    assert any(line != "a man" for line in lines)  # something follows the prefix


def test_sample_output_file_holds_the_samples_and_stdout_stays_empty(caption_run, tmp_path, capsys):
    target = tmp_path / "samples.txt"
    rc, out, err = run_cli(capsys, "sample", caption_run, "-n", "5", "--seed", "4", "-o", target)
    assert rc == 0, err
    assert out == ""
    assert target.read_text(encoding="utf-8").splitlines() == sample(
        capsys, caption_run, "-n", "5", "--seed", "4"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.txt"]  # no temporary file left behind


def test_sample_accepts_temperature_top_k_top_p(caption_run, capsys):
    args = ["-n", "6", "--temperature", "0.8", "--top-k", "5", "--top-p", "0.95", "--seed", "1"]
    a = sample(capsys, caption_run, *args)
    b = sample(capsys, caption_run, *args)
    assert len(a) == 6 and a == b


def test_sample_top_k_1_is_greedy_so_every_seed_agrees(caption_run, capsys):
    a = sample(capsys, caption_run, "-n", "4", "--top-k", "1", "--seed", "1")
    b = sample(capsys, caption_run, "-n", "4", "--top-k", "1", "--seed", "99")
    assert a == b and len(set(a)) == 1


def test_temperature_0_is_greedy_decoding_in_sample_and_evaluate(caption_run, capsys):
    # The library defines temperature 0 as greedy decoding: every seed gives the top-k=1 sample.
    greedy = sample(capsys, caption_run, "-n", "3", "--temperature", "0", "--seed", "7")
    assert greedy == sample(capsys, caption_run, "-n", "3", "--top-k", "1", "--seed", "1")
    result = evaluate(
        capsys, caption_run, "--num-samples", "5", "--temperatures", "0,1", "--metrics", "self_bleu"
    )
    assert [s["temperature"] for s in result["samples"]] == [0.0, 1.0]
    assert result["samples"][0]["self_bleu4"] == pytest.approx(1.0)  # five copies of one sentence


def test_sample_from_the_last_checkpoint(caption_run, capsys):
    lines = sample(capsys, caption_run, "-n", "3", "--checkpoint", "last", "--seed", "1")
    assert len(lines) == 3


def test_sample_max_len_bounds_the_length(caption_run, capsys):
    # --max-len counts tokens including BOS: at most 4 words follow it.
    lines = sample(capsys, caption_run, "-n", "20", "--max-len", "5", "--seed", "1")
    assert len(lines) == 20
    assert max(len(line.split()) for line in lines) <= 4
    assert max(len(line.split()) for line in lines) == 4  # an almost untrained model rarely stops early


# ---------------------------------------------------------------------------------------------- evaluate
def test_evaluate_writes_json_with_nll_ppl_tokens(caption_run, tmp_path, capsys):
    target = tmp_path / "eval.json"
    rc, out, err = run_cli(
        capsys, "evaluate", caption_run, "--split", "test", "-o", target, "--num-samples", "50"
    )
    assert rc == 0, err
    result = json.loads(target.read_text(encoding="utf-8"))
    assert json.loads(out) == result
    assert result["split"] == "test"
    assert result["tokens"] > 30  # 30 test sentences, each at least one word and EOS
    assert math.isfinite(result["nll"]) and result["nll"] > 0
    assert result["ppl"] == pytest.approx(math.exp(result["nll"]), rel=1e-9)
    vocab = json.loads((caption_run / "run.json").read_text())["vocab_size"]
    assert result["nll"] < math.log(vocab) + 0.5  # near uniform at worst after 5 steps
    (samples,) = result["samples"]
    assert samples["temperature"] == 1.0 and samples["num_samples"] == 50
    assert 0.0 <= samples["valid_fraction"] <= 1.0 and "oracle_nll" in samples
    assert result["settings"]["tokenize"] == "treebank" and result["settings"]["seed"] == 0


def test_evaluate_json_is_strict_json(caption_run, tmp_path, capsys):
    # Other tools (jq, JavaScript) reject NaN/Infinity: an almost untrained model's oracle NLL is infinite.
    target = tmp_path / "eval.json"
    rc, _, err = run_cli(capsys, "evaluate", caption_run, "-o", target, "--num-samples", "20")
    assert rc == 0, err

    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    json.loads(target.read_text(encoding="utf-8"), parse_constant=refuse)


def test_evaluate_valid_split_and_test_split_differ(caption_run, capsys):
    valid = evaluate(capsys, caption_run, "--split", "valid", "--num-samples", "0")
    test = evaluate(capsys, caption_run, "--split", "test", "--num-samples", "0")
    assert valid["split"] == "valid" and test["split"] == "test"
    assert "samples" not in valid  # --num-samples 0: no sample metrics
    assert (valid["nll"], valid["tokens"]) != (test["nll"], test["tokens"])


def test_evaluate_is_deterministic(caption_run, capsys):
    a = evaluate(capsys, caption_run, "--num-samples", "20", "--seed", "5", "--temperatures", "0.7,1.3")
    b = evaluate(capsys, caption_run, "--num-samples", "20", "--seed", "5", "--temperatures", "0.7,1.3")
    assert a.pop("seconds") >= 0 and b.pop("seconds") >= 0  # wall time: the one field allowed to differ
    assert [s["temperature"] for s in a["samples"]] == [0.7, 1.3]
    assert a["samples"][0]["bleu2"] != a["samples"][1]["bleu2"]
    assert a == b or json.dumps(a) == json.dumps(b)  # NaN != NaN, so compare the text as well


def test_char_run_reports_bits_per_character(char_run, capsys):
    result = evaluate(capsys, char_run, "--num-samples", "0")
    assert result["bpc"] == pytest.approx(result["nll"] / math.log(2), rel=1e-9)
    assert result["ppl"] == pytest.approx(math.exp(result["nll"]), rel=1e-9)


def test_word_run_reports_no_bpc(caption_run, capsys):
    assert "bpc" not in evaluate(capsys, caption_run, "--num-samples", "0")


# --------------------------------------------------------------------------------------------- tokenizer
def test_tokenizer_train_writes_a_folder_that_loads_and_round_trips(tmp_path, capsys):
    from seqgen.data.caption_language import caption_splits
    from seqgen.tokenization import load_tokenizer

    lines, _, _ = caption_splits(300, 0, 0)
    corpus = write_lines(tmp_path / "corpus.txt", lines)
    out_dir = tmp_path / "spm"
    rc, out, err = run_cli(
        capsys,
        "tokenizer",
        "train",
        "--kind",
        "sentencepiece",
        "--vocab-size",
        "200",
        "--input",
        corpus,
        "--out",
        out_dir,
    )
    assert rc == 0, err
    assert "200" in out and str(out_dir) in out
    tok = load_tokenizer(out_dir)
    assert tok.kind == "sentencepiece" and tok.vocab_size == 200
    for line in lines[:20]:
        ids = tok.encode(line)
        assert ids and tok.unk_id not in ids
        assert tok.decode(ids) == line


@pytest.mark.parametrize("kind", ["char", "word"])
def test_tokenizer_train_char_and_word_from_two_inputs(tmp_path, capsys, kind):
    from seqgen.tokenization import load_tokenizer

    a = write_lines(tmp_path / "a.txt", ["the cat sat"])
    b = write_lines(tmp_path / "b.txt", ["a dog ran"])
    rc, _, err = run_cli(
        capsys, "tokenizer", "train", "--kind", kind, "--input", a, "--input", b, "--out", tmp_path / "tok"
    )
    assert rc == 0, err
    tok = load_tokenizer(tmp_path / "tok")
    words = {"the", "cat", "sat", "a", "dog", "ran"}
    expected = {"char": set("".join(words)) | {" "}, "word": words}
    assert tok.vocab_size == 4 + len(expected[kind])  # 4 special tokens, then every symbol of both files
    assert tok.decode(tok.encode("a cat ran")) == "a cat ran"


def test_train_with_a_saved_tokenizer_folder(tmp_path, capsys):
    from seqgen.tokenization import load_tokenizer

    corpus = write_lines(tmp_path / "c.txt", random_sentences(100, 2))
    rc, _, err = run_cli(
        capsys, "tokenizer", "train", "--kind", "word", "--input", corpus, "--out", tmp_path / "tok"
    )
    assert rc == 0, err
    run = tmp_path / "run"
    train_ok(
        capsys,
        *TINY_DATA,
        *TINY_LSTM,
        "train.max_steps=1",
        "train.batch_size=8",
        *QUIET,
        "train.num_samples=0",
        f"tokenizer.path={tmp_path / 'tok'}",
        "tokenizer.kind=word",
        f"out={run}",
    )
    # the caption language has many more words than c.txt: the run kept the given tokenizer
    assert load_tokenizer(run / "tokenizer").vocab_size == load_tokenizer(tmp_path / "tok").vocab_size


# ---------------------------------------------------------------------------------------- real processes
def test_python_dash_m_seqgen_sample_in_a_real_process(caption_run, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqgen",
            "sample",
            str(caption_run),
            "-n",
            "4",
            "--seed",
            "1",
            "--device",
            "cpu",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stdout.splitlines()) == 4


# --------------------------------------------------------------------------- evaluate --samples (BLEU)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_evaluate_samples_file_reproduces_texygen_mle_row(tmp_path, capsys):
    samples, refs = SHARED / "texygen_samples" / "mle.txt", SHARED / "coco" / "test.txt"
    if not (samples.is_file() and refs.is_file()):
        pytest.skip("../shared/data not present")
    out = tmp_path / "eval.json"
    rc, _, err = run_cli(
        capsys,
        "evaluate",
        "--samples",
        samples,
        "--references",
        refs,
        "--metrics",
        "bleu,self_bleu",
        "-o",
        out,
    )
    assert rc == 0, err
    r = json.loads(out.read_text())
    # Texygen's published row (README of ../shared/data), to 3 decimals
    assert [int(r[f"bleu{n}"] * 1000) for n in (2, 3, 4, 5)] == [731, 497, 305, 189]
    assert [round(r[f"self_bleu{n}"], 3) for n in (2, 3, 4, 5)] == [0.916, 0.769, 0.583, 0.409]
    assert r["tokenize"] == "treebank" and "method1" in r["protocol"] and r["num_samples"] == 9984


def test_evaluate_samples_needs_references_for_bleu(tmp_path, capsys):
    s = tmp_path / "s.txt"
    s.write_text("a cat sat .\na dog ran .\n")
    rc, _, err = run_cli(capsys, "evaluate", "--samples", s, "--metrics", "bleu")
    assert rc == 2 and "--references" in err
    rc, _, err = run_cli(capsys, "evaluate", "--samples", s, "--metrics", "rouge")
    assert rc == 2 and "rouge" in err
    rc, out, err = run_cli(
        capsys, "evaluate", "--samples", s, "--metrics", "self_bleu", "--tokenize", "whitespace"
    )
    assert rc == 0 and "self_bleu2" in json.loads(out)
