"""Classifier two-sample test: chance on one distribution, near-perfect on two, reproducible; an exact AUC."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import torch

from seqgen.data.caption_language import caption_language
from seqgen.errors import SeqgenError
from seqgen.metrics.two_sample import classifier_two_sample_test, roc_auc

PAD, BOS, EOS = 0, 1, 2
SMALL = dict(emb_dim=32, hidden_dim=32, num_filters=32, num_heads=2)


def captions(n: int, seed: int) -> tuple[list[list[int]], int]:
    """n caption-language sentences as BOS ... EOS id lists, and the vocabulary size (words + pad/bos/eos)."""
    lang = caption_language()
    word_id = {w: i + 3 for i, w in enumerate(lang.vocab)}
    return [[BOS] + [word_id[w] for w in s.split()] + [EOS] for s in lang.sample(n, seed)], len(
        lang.vocab
    ) + 3


def shuffled_words(seqs: list[list[int]], seed: int) -> list[list[int]]:
    """The same sentences with their words in random order: same words, same lengths, no grammar."""
    rng = random.Random(seed)
    out = []
    for s in seqs:
        words = s[1:-1]
        rng.shuffle(words)
        out.append([s[0], *words, s[-1]])
    return out


# ------------------------------------------------------------------------------------------------ roc_auc


def brute_force_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Every (positive, negative) pair: 1 if the positive scores higher, 1/2 if they tie."""
    pairs = list(itertools.product(pos.tolist(), neg.tolist()))
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


def test_roc_auc_equals_pairwise_enumeration_with_ties() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        pos = rng.integers(0, 6, size=rng.integers(1, 30)).astype(float)  # few values: many ties
        neg = rng.integers(0, 6, size=rng.integers(1, 30)).astype(float)
        assert roc_auc(pos, neg) == pytest.approx(brute_force_auc(pos, neg), abs=1e-12)
    pos, neg = rng.normal(size=40), rng.normal(size=25)
    assert roc_auc(torch.tensor(pos), list(neg)) == pytest.approx(brute_force_auc(pos, neg), abs=1e-12)


def test_roc_auc_hand_values_and_sklearn() -> None:
    assert roc_auc([2.0], [1.0]) == 1.0 and roc_auc([1.0], [2.0]) == 0.0 and roc_auc([1.0], [1.0]) == 0.5
    assert roc_auc([1, 3], [2, 3]) == (0 + 0 + 1 + 0.5) / 4
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    pos, neg = rng.integers(0, 4, 200).astype(float), rng.integers(0, 4, 150).astype(float)
    labels = np.r_[np.ones(200), np.zeros(150)]
    assert roc_auc(pos, neg) == pytest.approx(metrics.roc_auc_score(labels, np.r_[pos, neg]), abs=1e-12)


def test_roc_auc_refuses_empty_or_nan_scores() -> None:
    for pos, neg in (([], [1.0]), ([1.0], []), ([float("nan")], [1.0])):
        with pytest.raises(SeqgenError):
            roc_auc(pos, neg)


# ------------------------------------------------------------------------------------------------ the test


def test_one_distribution_is_indistinguishable() -> None:
    real, vocab = captions(2000, seed=1)
    fake, _ = captions(2000, seed=2)
    out = classifier_two_sample_test(real, fake, vocab_size=vocab, pad_id=PAD, steps=150, **SMALL)
    assert abs(out["accuracy"] - 0.5) < 0.1 and abs(out["auc"] - 0.5) < 0.1, out
    assert (
        out["n_train_real"] == out["n_train_fake"] == 1000
        and out["n_test_real"] == out["n_test_fake"] == 1000
    )


@pytest.mark.parametrize("kind", ["cnn", "rnn", "transformer"])
def test_word_order_is_detected(kind: str) -> None:
    real, vocab = captions(2000, seed=1)
    fake = shuffled_words(captions(2000, seed=2)[0], seed=0)
    # Two layers for the transformer: one layer reaches only about 0.94 accuracy here in 200 steps.
    layers = 2 if kind == "transformer" else 1
    out = classifier_two_sample_test(
        real, fake, vocab_size=vocab, pad_id=PAD, kind=kind, steps=200, num_layers=layers, **SMALL
    )
    assert out["accuracy"] > 0.9 and out["auc"] > 0.9, out


def test_same_seed_same_result_and_the_global_rng_is_untouched() -> None:
    real, vocab = captions(120, seed=1)
    fake = shuffled_words(captions(100, seed=2)[0], seed=0)
    kw = dict(vocab_size=vocab, pad_id=PAD, steps=30, batch_size=16, dropout=0.2, **SMALL)
    state = torch.get_rng_state()
    a = classifier_two_sample_test(real, fake, seed=7, **kw)
    assert torch.equal(torch.get_rng_state(), state)
    assert classifier_two_sample_test(real, fake, seed=7, **kw) == a
    assert classifier_two_sample_test(real, fake, seed=8, **kw) != a
    # Balanced classes: 20 random real sentences are left out; 50 of each train, 50 of each test.
    assert (a["n_dropped_real"], a["n_dropped_fake"]) == (20, 0)
    assert (a["n_train_real"], a["n_train_fake"], a["n_test_real"], a["n_test_fake"]) == (50, 50, 50, 50)
    assert (a["seed"], a["kind"], a["steps"], a["batch_size"], a["lr"]) == (7, "cnn", 30, 16, 1e-3)
    assert a["discriminator"]["dropout"] == 0.2 and a["discriminator"]["max_len"] == max(
        map(len, real + fake)
    )


def test_bad_inputs_are_one_line_errors() -> None:
    real, vocab = captions(10, seed=1)
    kw = dict(vocab_size=vocab, pad_id=PAD, steps=2)
    for fake, words in (
        (real[:3], "fake set has 3 sequences"),
        (real[:4] + [[]], "fake sequence 4 is empty"),
        (real[:4] + [[BOS, vocab, EOS]], "fake sequence 4 is not a list of token ids"),
    ):
        with pytest.raises(SeqgenError) as e:
            classifier_two_sample_test(real, fake, **kw)
        assert words in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(SeqgenError, match="real set has 0"):
        classifier_two_sample_test([], real, **kw)
    with pytest.raises(SeqgenError, match="invalid discriminator settings"):
        classifier_two_sample_test(real, real, kind="gan", **kw)
