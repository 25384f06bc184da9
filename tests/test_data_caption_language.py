"""The caption language against independent references.

References: a brute-force expansion of a tiny grammar straight from its expression tree (not through the
compiler), a depth-first enumeration of an automaton's paths, hand-written English (agreement, a/an), and
sampling statistics of the default language (chi-square against exact probabilities, Monte-Carlo entropy).
"""

import math
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from seqgen.data.caption_language import CaptionLanguage, caption_language, caption_splits
from seqgen.data.grammar import Alt, Seq, Tok, alt, opt, seq, words
from seqgen.errors import SeqgenError


def chi2_critical(df: int, z: float = 3.29) -> float:
    """Upper 0.05% point of chi-square(df), Wilson-Hilferty approximation (no scipy needed)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def chi2_statistic(observed: list[float], expected: list[float]) -> float:
    return float(sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True)))


# --- a tiny ambiguous grammar, enumerated by brute force ----------------------------------------------------

# Ambiguous on purpose: "a dog" comes from two subject branches, "runs home" from two predicate branches, so
# the undeterminised automaton has sentences with several paths. "a/an" must become "an" before "owl"/"old".
# The optional "!" after "." gives a state that may stop or go on (stop probability strictly between 0 and 1).
TOY = seq(
    alt((3, seq("a/an", opt("old", 0.5), words("owl dog"))), (1, "the dog"), (1, "a dog")),
    alt(seq("runs", opt("home", 0.4)), seq(opt("runs", 0.5), "home"), (0.5, "is here")),
    ".",
    opt("!", 0.25),
)
TOY_MIN, TOY_MAX = 3, 7


def expand(expr) -> list[tuple[list[str], float]]:
    """Every derivation of an expression with its probability, read straight off the tree."""
    if isinstance(expr, Tok):
        return [([expr.word], 1.0)]
    if isinstance(expr, Seq):
        out: list[tuple[list[str], float]] = [([], 1.0)]
        for part in expr.parts:
            out = [(a + b, p * q) for a, p in out for b, q in expand(part)]
        return out
    assert isinstance(expr, Alt)
    total = sum(w for w, _ in expr.options)
    return [(toks, w / total * p) for w, option in expr.options for toks, p in expand(option)]


def reference_distribution(expr) -> dict[str, float]:
    dist: dict[str, float] = defaultdict(float)
    for toks, p in expand(expr):
        fixed = [
            ("an" if toks[i + 1][0] in "aeiou" else "a") if t == "a/an" else t for i, t in enumerate(toks)
        ]
        dist[" ".join(fixed)] += p
    return dict(dist)


def enumerate_automaton(lang: CaptionLanguage) -> dict[str, float]:
    """All sentences of an automaton by depth-first search over its paths, summing the paths of a sentence."""
    arcs = defaultdict(list)
    for s, tok, d, p in lang.transitions:
        arcs[s].append((tok, d, p))
    dist: dict[str, float] = defaultdict(float)

    def dfs(state: int, toks: list[str], p: float) -> None:
        if lang.stop_probs[state] > 0:
            dist[" ".join(toks)] += p * lang.stop_probs[state]
        for tok, d, q in arcs[state]:
            dfs(d, toks + [tok], p * q)

    dfs(lang.start, [], 1.0)
    return dict(dist)


@pytest.mark.parametrize("determinize", [False, True])
def test_toy_grammar_matches_brute_force(determinize: bool) -> None:
    lang = CaptionLanguage.from_grammar(TOY, TOY_MIN, TOY_MAX, determinize=determinize)
    ref = reference_distribution(TOY)
    assert len(expand(TOY)) > len(ref)  # the grammar really is ambiguous
    assert sum(ref.values()) == pytest.approx(1.0, abs=1e-12)
    assert lang.is_deterministic == determinize

    enumerated = enumerate_automaton(lang)
    assert enumerated.keys() == ref.keys()
    for sentence, p in ref.items():
        assert enumerated[sentence] == pytest.approx(p, rel=1e-12)
        assert lang.log_prob(sentence) == pytest.approx(math.log(p), rel=1e-12)
        assert lang.log_prob(sentence.split()) == lang.log_prob(sentence)

    entropy = -sum(p * math.log(p) for p in ref.values())
    mean_len = sum(p * len(s.split()) for s, p in ref.items())
    assert lang.entropy() == pytest.approx(entropy, rel=1e-12)
    assert lang.expected_length() == pytest.approx(mean_len, rel=1e-12)
    assert lang.optimal_nll_per_token() == pytest.approx(entropy / (mean_len + 1), rel=1e-12)
    by_len = np.zeros(TOY_MAX + 1)
    for s, p in ref.items():
        by_len[len(s.split())] += p
    np.testing.assert_allclose(lang.length_distribution(), by_len, atol=1e-12)


def test_toy_grammar_articles_and_impossible_sentences() -> None:
    lang = CaptionLanguage.from_grammar(TOY, TOY_MIN, TOY_MAX, determinize=False)
    for ok in ["an owl runs .", "an old dog is here . !", "a dog runs home .", "the dog home ."]:
        assert lang.is_valid(ok), ok
    for bad in [
        "a owl runs .",
        "an dog runs .",
        "a old owl runs .",
        "the owl runs .",
        "a dog runs",
        "a dog runs !",
        "a dog runs . ! !",
        "a cat runs .",
    ]:
        assert lang.log_prob(bad) == -math.inf, bad
        assert not lang.is_valid(bad)


def test_toy_sampler_matches_exact_distribution() -> None:
    lang = CaptionLanguage.from_grammar(TOY, TOY_MIN, TOY_MAX)
    ref = reference_distribution(TOY)
    n = 20_000
    counts = Counter(lang.sample(n, seed=11))
    assert set(counts) <= set(ref)
    sentences = sorted(ref)
    stat = chi2_statistic([counts[s] for s in sentences], [n * ref[s] for s in sentences])
    assert stat < chi2_critical(len(sentences) - 1)


# --- the default language -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lang() -> CaptionLanguage:
    return caption_language()


@pytest.fixture(scope="module")
def samples(lang: CaptionLanguage) -> list[str]:
    return lang.sample(20_000, seed=0)


def test_probabilities_out_of_every_state_sum_to_one(lang: CaptionLanguage) -> None:
    total = np.array(lang.stop_probs, dtype=float)
    for s, _, _, p in lang.transitions:
        total[s] += p
    np.testing.assert_allclose(total, 1.0, atol=1e-9)
    assert caption_language() is lang  # built once, cached


def test_vocabulary(lang: CaptionLanguage) -> None:
    assert 300 <= len(lang.vocab) <= 500
    assert lang.vocab == sorted(set(lang.vocab))
    assert {".", "a", "an", "is", "are", "there"} <= set(lang.vocab)
    assert "a/an" not in lang.vocab
    assert (lang.min_len, lang.max_len) == (5, 20)


def test_the_language_is_pinned(lang: CaptionLanguage) -> None:
    # The default corpus is a benchmark: results are only comparable on the same language. If you change the
    # grammar on purpose, update these numbers (and say so in the changelog).
    assert (len(lang.vocab), lang.n_states) == (479, 1215)
    assert lang.entropy() == pytest.approx(12.629305732514034, rel=1e-9)
    assert lang.expected_length() == pytest.approx(9.115146557411096, rel=1e-9)
    assert lang.sample(3, seed=0) == [
        "the baseball player waiting for a pitch .",
        "a snowboarder snowboarding through the trees .",
        "a view of a skater jumping in the air .",
    ]


def test_same_language_in_every_process() -> None:
    # Nothing may depend on set or hash order: build it under two different hash seeds.
    code = (
        "import hashlib; from seqgen.data.caption_language import caption_language as c; l = c(); "
        "print(l.n_states, repr(l.entropy()), hashlib.sha256(str(l.sample(2000, 5)).encode()).hexdigest())"
    )
    root = Path(__file__).resolve().parents[1]
    outs = [
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(h), "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for h in (1, 2)
    ]
    assert outs[0] == outs[1] and outs[0]


def test_samples_are_well_formed(lang: CaptionLanguage, samples: list[str]) -> None:
    vocab = set(lang.vocab)
    for s in samples:
        toks = s.split()
        assert 5 <= len(toks) <= 20 and toks[-1] == "." and "." not in toks[:-1], s
        assert set(toks) <= vocab
    assert np.all(np.isfinite(lang.log_probs(samples[:2000])))


def test_sampling_is_deterministic(lang: CaptionLanguage) -> None:
    assert lang.sample(300, seed=7) == lang.sample(300, seed=7)
    assert lang.sample(300, seed=7) != lang.sample(300, seed=8)
    assert lang.sample(0, seed=7) == []


def test_frequent_sentences_match_log_prob(lang: CaptionLanguage) -> None:
    # Pick the most frequent sentences from one sample, then count them in an independent one.
    top = [s for s, _ in Counter(lang.sample(30_000, seed=1)).most_common(25)]
    n = 100_000
    counts = Counter(lang.sample(n, seed=2))
    p = np.exp(lang.log_probs(top))
    observed = [counts[s] for s in top] + [n - sum(counts[s] for s in top)]
    expected = list(n * p) + [n * (1 - p.sum())]
    assert min(expected) > 5
    assert chi2_statistic(observed, expected) < chi2_critical(len(top))


def test_length_distribution_is_exact_and_matches_samples(lang: CaptionLanguage, samples: list[str]) -> None:
    dist = lang.length_distribution()
    assert dist.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(dist[:5] == 0) and len(dist) == 21
    lengths = np.array([len(s.split()) for s in samples])
    expected = len(samples) * dist
    cells = [k for k in range(21) if expected[k] >= 5]
    observed = [int((lengths == k).sum()) for k in cells] + [int(np.isin(lengths, cells, invert=True).sum())]
    exp_cells = [expected[k] for k in cells] + [len(samples) - expected[cells].sum()]
    if exp_cells[-1] < 5:  # fold a tiny remainder into the last cell
        observed[-2] += observed.pop()
        exp_cells[-2] += exp_cells.pop()
    assert chi2_statistic(observed, exp_cells) < chi2_critical(len(observed) - 1)
    se = lengths.std() / math.sqrt(len(lengths))
    assert abs(lengths.mean() - lang.expected_length()) < 4 * se


def test_entropy_matches_monte_carlo(lang: CaptionLanguage, samples: list[str]) -> None:
    nll = -lang.log_probs(samples)
    se = nll.std() / math.sqrt(len(nll))
    assert abs(nll.mean() - lang.entropy()) < 4 * se
    # The per-token floor is what a perfect model's pooled NLL (tokens plus EOS) tends to.
    tokens = sum(len(s.split()) + 1 for s in samples)
    assert nll.sum() / tokens == pytest.approx(lang.optimal_nll_per_token(), rel=0.02)
    assert lang.optimal_nll_per_token() == pytest.approx(lang.entropy() / (lang.expected_length() + 1))


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("a man riding a horse on the beach .", "a men riding a horse on the beach ."),
        ("two men riding a horse on the beach .", "two man riding a horse on the beach ."),
        ("a man is riding a horse on the beach .", "a man are riding a horse on the beach ."),
        ("two men are riding a horse on the beach .", "two men is riding a horse on the beach ."),
        ("a man rides a horse .", "a man ride a horse ."),
        ("two men ride a horse .", "two men rides a horse ."),
        ("there are two dogs playing with a frisbee .", "there is two dogs playing with a frisbee ."),
        ("an elephant standing in a field .", "a elephant standing in a field ."),
        ("a man holding an umbrella .", "a man holding a umbrella ."),
        ("a man wearing a uniform .", "a man wearing an uniform ."),
        ("a man eating a sandwich .", "a man eating a horse ."),
        ("a cow grazing in a field .", "a car grazing in a field ."),
        ("a pizza topped with cheese and olives .", "a pizza topped with olives and olives ."),
        ("a kitchen with a stove and a sink .", "a kitchen with a toilet and a sink ."),
        ("a man riding a horse on the beach .", "a man riding a unicorn on the beach ."),
        ("a man riding a horse on the beach .", "a man riding a horse on the beach"),
    ],
)
def test_agreement_and_corruptions(lang: CaptionLanguage, good: str, bad: str) -> None:
    assert lang.is_valid(good) and lang.log_prob(good) > -math.inf
    assert lang.log_prob(bad) == -math.inf and not lang.is_valid(bad)


def test_length_bounds_and_odd_input(lang: CaptionLanguage) -> None:
    long = "a man riding a horse on the beach next to a tree in front of a large building near the water ."
    assert len(long.split()) > 20 and lang.log_prob(long) == -math.inf
    for odd in ["", ".", "a dog .", "  ", "a man riding a horse on the beach . ."]:
        assert lang.log_prob(odd) == -math.inf
    assert lang.log_prob("  a man  riding a horse on the beach . ") == lang.log_prob(
        ["a", "man", "riding", "a", "horse", "on", "the", "beach", "."]
    )


def test_a_and_an_follow_the_next_word(lang: CaptionLanguage) -> None:
    # Hand rule: "an" before a vowel letter, except words said with a "you" sound.
    you_sound = {"uniform"}
    after: dict[str, set[str]] = {"a": set(), "an": set()}
    arcs = defaultdict(set)
    for s, tok, _, _ in lang.transitions:
        arcs[s].add(tok)
    for _, tok, d, _ in lang.transitions:
        if tok in after:
            after[tok] |= arcs[d]
    assert after["an"] and after["a"]
    assert all(w[0] in "aeiou" and w not in you_sound for w in after["an"]), after["an"]
    assert all(w[0] not in "aeiou" or w in you_sound for w in after["a"]), after["a"]


def test_log_probs_is_fast_and_consistent(lang: CaptionLanguage, samples: list[str]) -> None:
    batch = samples[:1000] + ["a men riding a horse ."]
    t = time.perf_counter()
    scores = lang.log_probs(batch)
    assert time.perf_counter() - t < 1.0
    assert scores.dtype == np.float64 and scores.shape == (1001,)
    assert scores[-1] == -math.inf
    np.testing.assert_array_equal(scores[:50], [lang.log_prob(s) for s in batch[:50]])


def test_sampling_is_fast(lang: CaptionLanguage) -> None:
    t = time.perf_counter()
    lang.sample(20_000, seed=3)
    assert time.perf_counter() - t < 2.0


def test_caption_splits(lang: CaptionLanguage) -> None:
    train, valid, test = caption_splits(200, 50, seed=4)
    assert (len(train), len(valid), len(test)) == (200, 50, 50)
    assert (train, valid, test) == caption_splits(200, 50, seed=4)
    assert train[:50] != valid and valid != test
    assert caption_splits(200, 50, seed=5)[0] != train
    assert all(lang.is_valid(s) for s in train + valid + test)


# --- bad input ----------------------------------------------------------------------------------------------


def test_bad_automata_and_grammars_are_refused() -> None:
    with pytest.raises(SeqgenError, match="sum to"):
        CaptionLanguage(2, 0, [(0, "x", 1, 0.5)], [0.0, 1.0], min_len=1, max_len=3)
    with pytest.raises(SeqgenError, match="stop probabilities"):
        CaptionLanguage(2, 0, [(0, "x", 1, 0.75), (0, "y", 1, 0.75)], [-0.5, 1.0], min_len=1, max_len=3)
    with pytest.raises(SeqgenError, match="longer than 5"):
        CaptionLanguage.from_grammar(seq("a b c", opt("d e f", 0.5), "."), min_len=1, max_len=5)
    with pytest.raises(SeqgenError, match="shorter than 5"):
        CaptionLanguage.from_grammar(seq("a b", opt("d e f", 0.5), "."), min_len=5, max_len=20)
    with pytest.raises(SeqgenError, match="a/an"):
        CaptionLanguage.from_grammar(seq("x y z", "a/an"), min_len=1, max_len=5)
    with pytest.raises(SeqgenError, match="weights"):
        alt((0, "x"), "y")


def test_bad_sizes_and_seeds_are_refused(lang: CaptionLanguage) -> None:
    with pytest.raises(SeqgenError):
        lang.sample(-1, seed=0)
    with pytest.raises(SeqgenError):
        lang.sample(10, seed=-1)
    with pytest.raises(SeqgenError):
        caption_splits(-1, 10, seed=0)
