"""The evaluation's speed defaults: the reverse LM and the classifier have recipes of their own (measured on
COCO), their settings and seeds are recorded and stated in the compare header, the reference LM's cache key
does not depend on them, every phase has a progress bar that can be turned off, and the smaller recipes
still tell good samples from collapsed or shuffled ones."""

from __future__ import annotations

import io
import random
from dataclasses import asdict, replace

import pytest
import torch

from seqgen.data.caption_language import caption_splits
from seqgen.evaluation import evaluate_run
from seqgen.evaluation.compare import table_notes
from seqgen.metrics.lm_score import (
    FittedLM,
    LMSettings,
    encode_rows,
    fit_lm,
    reference_lm,
    reverse_lm_score,
    word_tokenizer,
)
from seqgen.metrics.score_settings import (
    PREVIOUS_CLASSIFIER_SETTINGS,
    PREVIOUS_LM_SETTINGS,
    previous_overrides,
)
from seqgen.metrics.two_sample import ClassifierSettings, classifier_two_sample_test

# The reference LM's recipe: unchanged, so reference LMs cached before keep being used.
REFERENCE = dict(
    kind="lstm",
    emb_dim=128,
    hidden_dim=256,
    num_layers=1,
    dropout=0.2,
    batch_size=64,
    lr=3e-3,
    max_steps=3000,
    eval_every=100,
    patience=4,
    max_len=64,
    min_freq=1,
    max_vocab=30000,
    seed=0,
    split="treebank",
)
REVERSE = dict(
    emb_dim=64,
    hidden_dim=128,
    dropout=0.2,
    batch_size=64,
    lr=6e-3,
    max_steps=400,
    eval_every=25,
    patience=1,
    valid_sentences=500,
    length_bucket=8,
    ema=0.95,
)
CLASSIFIER = dict(kind="cnn", steps=150, batch_size=64, lr=1e-3, emb_dim=64, hidden_dim=64, num_filters=64)
# Tiny recipes for the tests that run a whole evaluation.
TINY_LM = LMSettings(
    emb_dim=16,
    hidden_dim=16,
    max_steps=20,
    eval_every=10,
    reverse_emb_dim=16,
    reverse_hidden_dim=24,
    reverse_max_steps=20,
    reverse_eval_every=10,
    reverse_valid_sentences=20,
)
TINY_CLASSIFIER = {"steps": 10, "emb_dim": 16, "num_filters": 8}


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def corpus():
    return caption_splits(3000, 300, 7)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path_factory.getbasetemp() / "seqgen-cache"))
    monkeypatch.delenv("TQDM_DISABLE", raising=False)


def test_the_defaults_are_the_measured_recipes():
    s = LMSettings()
    assert s.reference_fields() == REFERENCE
    assert s.reverse_fields() == REVERSE
    assert asdict(ClassifierSettings()) == CLASSIFIER
    # The previous recipes stay available: the reverse LM was the reference recipe on the whole valid split.
    prev = PREVIOUS_LM_SETTINGS.reverse_fields()
    same = {k: REFERENCE[k] for k in prev if k in REFERENCE}
    assert prev == {**same, "valid_sentences": 0, "length_bucket": 1, "ema": 0.0}
    assert PREVIOUS_CLASSIFIER_SETTINGS == ClassifierSettings(steps=300)
    lm_items, clf_items = previous_overrides()
    assert LMSettings.from_overrides(lm_items) == PREVIOUS_LM_SETTINGS
    assert replace(ClassifierSettings(), **{k: type(v)(x) for k, v, x in _items(clf_items)}) == (
        PREVIOUS_CLASSIFIER_SETTINGS
    )


def _items(items):
    defaults = asdict(ClassifierSettings())
    for item in items:
        key, _, text = item.partition("=")
        yield key, defaults[key], text


def test_the_reverse_settings_do_not_touch_the_reference_cache(corpus, tmp_path):
    train, valid, _ = corpus
    small = LMSettings(emb_dim=16, hidden_dim=16, max_steps=20, eval_every=10)
    first = reference_lm(train[:500], valid[:50], small, cache_dir=tmp_path)
    other_reverse = replace(small, reverse_hidden_dim=32, reverse_max_steps=7)
    again = reference_lm(train[:500], valid[:50], other_reverse, cache_dir=tmp_path)
    assert again.info["cached"] is True and again.info["cache"] == first.info["cache"]
    assert "reverse_hidden_dim" not in again.info["settings"]


def test_settings_and_seeds_are_recorded_and_stated_in_the_header(run):
    result = evaluate_run(
        run,
        metrics="lm,reverse_lm,classifier",
        num_samples=40,
        seed=3,
        temperatures=(0.8,),
        lm_settings=TINY_LM,
        classifier=TINY_CLASSIFIER,
        progress=False,
    )
    settings = result["settings"]
    assert settings["lm_settings"] == asdict(TINY_LM)
    assert settings["seeds"] == {"sampling": 3, "classifier": 3, "reverse_lm": 4}
    reverse = settings["reverse_lm"]
    assert reverse["seed"] == 4 and reverse["hidden_dim"] == 24 and reverse["valid_sentences_used"] == 20
    clf = settings["classifier"]
    assert clf["seed"] == 3 and clf["steps"] == 10 and clf["kind"] == "cnn" and clf["num_filters"] == 8
    row = result["samples"][0]
    assert row["classifier"]["seed"] == 3 and row["classifier"]["steps"] == 10
    assert row["reverse_lm_steps"] <= 20
    notes = "\n".join(table_notes([{**result, "label": "tiny"}]))
    assert "reference word-level LM (kind=lstm, emb_dim=16, hidden_dim=16" in notes and "seed 0" in notes
    assert "reverse LM score" in notes and "hidden_dim=24" in notes and "seed 4" in notes
    assert "early stopping on 20 valid sentences" in notes
    assert "classifier two-sample test: kind=cnn, steps=10" in notes and "seed 3" in notes


def test_every_phase_has_a_bar_that_can_be_turned_off(run, monkeypatch, tmp_path):
    def evaluate(progress: bool, cache: str) -> str:
        fake = FakeTerminal()
        with monkeypatch.context() as m:
            m.setenv("SEQGEN_CACHE", str(tmp_path / cache))  # a fresh cache: the reference LM is trained
            m.setattr("sys.stderr", fake)
            evaluate_run(
                run,
                metrics="bleu,self_bleu,lm,reverse_lm,classifier",
                num_samples=30,
                temperatures=(0.8,),
                lm_settings=TINY_LM,
                classifier=TINY_CLASSIFIER,
                progress=progress,
            )
        return fake.getvalue()

    shown = evaluate(True, "a")
    assert "reference LM (" in shown
    for phase in ("sampling", "BLEU", "Self-BLEU", "LM score", "reverse LM", "classifier"):
        assert f"{phase} (run {run.name}, T=0.8)" in shown, phase
    assert evaluate(False, "b") == ""


def test_bars_show_only_on_a_terminal(corpus, monkeypatch):
    train, valid, _ = corpus
    tok = word_tokenizer(train, TINY_LM)
    rows, vrows = encode_rows(tok, train[:200], 64), encode_rows(tok, valid[:20], 64)
    for stream, drawn in ((FakeTerminal(), True), (io.StringIO(), False)):
        with monkeypatch.context() as m:
            m.setattr("sys.stderr", stream)
            fit_lm(rows, vrows, tok.vocab_size, TINY_LM, progress=True, desc="my LM")
            classifier_two_sample_test(
                rows, rows[::-1], vocab_size=tok.vocab_size, pad_id=tok.pad_id, steps=5, progress=True
            )
        assert ("my LM" in stream.getvalue() and "classifier" in stream.getvalue()) is drawn
        assert bool(stream.getvalue()) is drawn


def test_the_new_reverse_lm_still_punishes_collapse(corpus):
    train, valid, test = corpus
    tok_only = FittedLM(
        word_tokenizer(train, LMSettings()), None, {"settings": LMSettings().reference_fields()}
    )
    diverse = reverse_lm_score(tok_only, train[:500], valid, test, settings=LMSettings(), seed=1)
    collapsed = reverse_lm_score(tok_only, train[:10] * 50, valid, test, settings=LMSettings(), seed=1)
    assert diverse["reverse_lm_score"] < collapsed["reverse_lm_score"] - 1.0
    assert diverse["reverse_lm_steps"] <= REVERSE["max_steps"]


def test_the_new_classifier_still_detects_shuffled_words(corpus):
    train, _, test = corpus
    tok = word_tokenizer(train, LMSettings())
    rng = random.Random(0)
    shuffled = [" ".join(rng.sample(s.split(), len(s.split()))) for s in train[:1000]]
    real = encode_rows(tok, test, 64)
    kw = dict(vocab_size=tok.vocab_size, pad_id=tok.pad_id, seed=0, **ClassifierSettings().as_kwargs())
    fake = classifier_two_sample_test(real, encode_rows(tok, shuffled, 64), **kw)
    same = classifier_two_sample_test(real, encode_rows(tok, train[1000:2000], 64), **kw)
    assert fake["auc"] > 0.9, fake
    assert abs(same["auc"] - 0.5) < 0.1, same


def test_the_reverse_lm_is_reproducible_for_its_seed(corpus):
    train, valid, test = corpus
    tok_only = FittedLM(word_tokenizer(train, TINY_LM), None, {"settings": TINY_LM.reference_fields()})
    torch.manual_seed(5)
    before = torch.rand(2)
    torch.manual_seed(5)
    a = reverse_lm_score(tok_only, train[:200], valid, test[:50], settings=TINY_LM, seed=7)
    assert torch.equal(torch.rand(2), before)  # bucketed batches and the weight average use seeded RNGs only
    assert reverse_lm_score(tok_only, train[:200], valid, test[:50], settings=TINY_LM, seed=7) == a
    assert reverse_lm_score(tok_only, train[:200], valid, test[:50], settings=TINY_LM, seed=8) != a
