"""`make demo` end to end at toy size: every model trains, the table and samples print, folders exist."""

from __future__ import annotations

import pytest

import seqgen.demo as demo

TINY = {
    "lstm": ["model.kind=lstm", "model.emb_dim=16", "model.hidden_dim=16", "train.max_steps=4"],
    "transformer": [
        "model.kind=transformer",
        "model.num_layers=1",
        "model.d_model=16",
        "model.num_heads=2",
        "model.context=64",
        "train.max_steps=4",
    ],
    # The demo's own fine-tuning rows (warm-started from the lstm row), shrunk: later overrides win.
    **{
        name: [
            *demo.MODELS[name],
            "model.emb_dim=16",
            "model.hidden_dim=16",
            "train.max_steps=2",
            "adv.d_pretrain_steps=2",
        ]
        for name in ("lstm-ss", "lstm-bgan")
    },
}


@pytest.fixture
def tiny_demo(monkeypatch):
    monkeypatch.setattr(demo, "MODELS", TINY)
    monkeypatch.setattr(
        demo,
        "COMMON",
        [
            *demo.COMMON,
            "data.caption_sentences=300",
            "data.holdout=30",
            "train.progress=false",
            "train.tensorboard=false",
            "train.eval_every=2",
        ],
    )


def test_demo_on_the_caption_language_prints_oracle_columns(tmp_path, capsys, tiny_demo, monkeypatch):
    import seqgen.evaluation as ev

    real = ev.evaluate_run
    monkeypatch.setattr(ev, "evaluate_run", lambda *a, **k: real(*a, **{**k, "num_samples": 50}))
    assert demo.main(["--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "valid samples" in out and "oracle NLL" in out
    for name in ("lstm", "transformer", "lstm-ss", "lstm-bgan"):
        assert out.count(f"| {name} |") == 1, name
    assert (tmp_path / "d" / "lstm-bgan" / "discriminator" / "model.safetensors").is_file()
    assert (tmp_path / "d" / "lstm" / "generator" / "config.json").is_file()
    # a second demo replaces its own run folders
    assert demo.main(["--out", str(tmp_path / "d")]) == 0


def test_demo_on_a_users_corpus(tmp_path, capsys, tiny_demo, monkeypatch):
    monkeypatch.setattr(demo, "DATA_OVERRIDES", ["data.max_len=64"])
    corpus = tmp_path / "lines.txt"
    corpus.write_text("".join(f"the cat {i % 7} sat on mat {i % 5} .\n" for i in range(200)))
    assert demo.main(["--data", str(corpus), "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert f"Corpus {corpus}" in out and "valid samples" not in out


def test_demo_refuses_to_replace_a_folder_that_is_not_a_run(tmp_path, capsys, tiny_demo):
    (tmp_path / "d" / "lstm").mkdir(parents=True)
    (tmp_path / "d" / "lstm" / "precious.txt").write_text("keep me")
    assert demo.main(["--out", str(tmp_path / "d")]) == 2
    assert (tmp_path / "d" / "lstm" / "precious.txt").read_text() == "keep me"
    assert "not a seqgen run folder" in capsys.readouterr().err
