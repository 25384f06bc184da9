"""LM score and reverse LM score: the reference LM learns the corpus, is cached per corpus, and the two scores
move the way their definitions say (quality vs coverage)."""

from __future__ import annotations

import math

import pytest
import torch

from seqgen.data.caption_language import caption_splits
from seqgen.errors import SeqgenError
from seqgen.metrics.lm_score import (
    LMSettings,
    encode_rows,
    fit_lm,
    lm_score,
    reference_lm,
    reverse_lm_score,
    rows_nll,
    word_tokenizer,
)

SMALL = LMSettings(emb_dim=32, hidden_dim=64, max_steps=300, eval_every=50, patience=3)


@pytest.fixture(scope="module")
def corpus():
    return caption_splits(3000, 300, 7)


@pytest.fixture(scope="module")
def ref(corpus, tmp_path_factory):
    train, valid, _ = corpus
    return reference_lm(train, valid, SMALL, cache_dir=tmp_path_factory.mktemp("cache"))


def test_reference_lm_learns_the_corpus(ref, corpus):
    vocab = ref.tokenizer.vocab_size
    assert ref.info["valid_nll"] < math.log(vocab) - 2.0  # far better than uniform over the words
    assert ref.info["cached"] is False and ref.info["best_step"] > 0


def test_lm_score_equals_the_sum_of_sequence_log_probabilities(ref, corpus):
    # Independent path: Generator.log_prob per sequence (not the batched cross-entropy the score uses).
    texts = corpus[2][:40]
    rows = encode_rows(ref.tokenizer, texts, SMALL.max_len)
    total = 0.0
    with torch.no_grad():
        for row in rows:
            seq = torch.tensor([row])
            total += float(ref.generator.log_prob(seq, torch.ones_like(seq, dtype=torch.bool)))
    tokens = sum(len(r) - 1 for r in rows)
    score = lm_score(ref, texts)
    assert score["lm_score_tokens"] == tokens
    assert score["lm_score"] == pytest.approx(-total / tokens, rel=1e-5)


def test_real_sentences_score_better_than_scrambled_ones(ref, corpus):
    import random

    test = corpus[2][:200]
    rng = random.Random(0)
    scrambled = [" ".join(rng.sample(s.split(), len(s.split()))) for s in test]
    assert lm_score(ref, test)["lm_score"] < lm_score(ref, scrambled)["lm_score"] - 1.0


def test_unknown_words_are_counted(ref):
    out = lm_score(ref, ["a man zzzqqq a horse ."])
    assert out["lm_score_unk_fraction"] == pytest.approx(1 / 7)  # 6 words + EOS, one unknown


def test_reference_lm_is_cached_per_corpus(ref, corpus, tmp_path):
    train, valid, test = corpus
    cache = ref.info["cache"]
    again = reference_lm(train, valid, SMALL, cache_dir=cache.rsplit("/reference-lm/", 1)[0])
    assert again.info["cached"] is True and again.info["cache"] == cache
    assert lm_score(again, test[:50]) == lm_score(ref, test[:50])
    other = reference_lm(train[:-1], valid, SMALL, cache_dir=tmp_path)  # another corpus: another LM
    assert other.info["cached"] is False and other.info["cache"] != cache


def test_a_damaged_cache_entry_is_retrained(corpus, tmp_path):
    train, valid, test = corpus
    settings = LMSettings(emb_dim=16, hidden_dim=16, max_steps=20, eval_every=10)
    first = reference_lm(train[:500], valid[:50], settings, cache_dir=tmp_path)
    weights = next((tmp_path / "reference-lm").rglob("model.safetensors"))
    weights.write_bytes(b"garbage")
    second = reference_lm(train[:500], valid[:50], settings, cache_dir=tmp_path)
    assert second.info["cached"] is False
    assert lm_score(second, test[:20]) == pytest.approx(lm_score(first, test[:20]))


def test_reverse_lm_rewards_coverage_and_punishes_collapse(ref, corpus):
    train, valid, test = corpus
    diverse = reverse_lm_score(ref, train[:500], valid, test)
    collapsed = reverse_lm_score(ref, [train[0]] * 500, valid, test)
    assert diverse["reverse_lm_score"] < collapsed["reverse_lm_score"] - 1.0
    # ...while the collapsed samples look perfectly realistic to the reference LM
    assert lm_score(ref, [train[0]] * 500)["lm_score"] < lm_score(ref, train[:500])["lm_score"] + 1.0


def test_fit_lm_is_deterministic_and_leaves_the_global_rng_alone(corpus):
    train, valid, _ = corpus
    tok = word_tokenizer(train, SMALL)
    rows, vrows = encode_rows(tok, train[:300], 64), encode_rows(tok, valid[:50], 64)
    settings = LMSettings(emb_dim=16, hidden_dim=16, max_steps=30, eval_every=10)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a, info_a = fit_lm(rows, vrows, tok.vocab_size, settings)
    assert torch.equal(torch.rand(3), before)  # the caller's random stream did not move
    b, info_b = fit_lm(rows, vrows, tok.vocab_size, settings)
    assert info_a == info_b
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    assert rows_nll(a, vrows) == rows_nll(b, vrows)


@pytest.mark.parametrize(
    ("items", "says"),
    [
        (["hidden=3"], "unknown LM score setting 'hidden'"),
        (["hidden_dim=big"], "hidden_dim needs an integer"),
        (["lr=0"], "lr > 0"),
        (["kind=cnn"], "kind must be lstm, gru or transformer"),
        (["max_len=1"], "max_len must be at least 2"),
        (["max_steps"], "KEY=VALUE"),
    ],
)
def test_bad_lm_settings_are_one_line_errors(items, says):
    with pytest.raises(SeqgenError) as e:
        LMSettings.from_overrides(items)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_lm_scores_need_sentences():
    tok = word_tokenizer(["a b"], SMALL)
    with pytest.raises(SeqgenError, match="zero sentences"):
        fit_lm([], [[1, 2]], tok.vocab_size, SMALL)
    with pytest.raises(SeqgenError, match="validation split"):
        fit_lm([[1, 2]], [], tok.vocab_size, SMALL)
