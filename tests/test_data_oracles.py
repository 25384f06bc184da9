"""Oracles with known P: the enumerable oracle, a Generator's exact Q over its sequences, the SeqGAN oracle.

References are independent of the code under test: per-sequence log-probabilities through `torch.nn.LSTMCell`
/ `torch.nn.LSTM` loaded with the oracle's weights, brute-force sums over every HMM hidden path, explicit
loops over sequences for marginals and conditionals, per-sequence full forward passes of the transformers
model for Q, and chi-square tests of samples against exact probabilities.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import seqgen.data.oracles.enumerable as oracle_module
from seqgen.data.oracles.enumerable import DEFAULT_DEPENDENCE, EnumerableOracle
from seqgen.data.oracles.seqgan import SeqGANOracle
from seqgen.data.oracles.symbols import index_to_sequences
from seqgen.errors import SeqgenError
from seqgen.metrics.divergences import kl
from seqgen.metrics.exact_distribution import model_distribution, sample_model, symbol_logits_mask
from seqgen.models import build_generator
from seqgen.models.config import ModelConfig

KINDS = ["lstm", "hmm"]


def chi2_bound(df: int, z: float = 3.719) -> float:
    """Upper 1e-4 quantile of chi-square(df), Wilson-Hilferty approximation (accurate to ~1% here)."""
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + z * math.sqrt(a)) ** 3


def chi2(counts: torch.Tensor, probs: torch.Tensor) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


# ============================================================================================================
# Enumerable oracle: P against independent references
# ============================================================================================================


def lstm_reference(o: EnumerableOracle, x: tuple[int, ...]) -> float:
    """log P(x), one sequence at a time, through torch's own LSTM cell."""
    p = o.params
    cell = torch.nn.LSTMCell(o.hidden, o.hidden, bias=False).double()
    with torch.no_grad():
        cell.weight_ih.copy_(p["w_ih"])
        cell.weight_hh.copy_(p["w_hh"])
        h = c = torch.zeros(1, o.hidden, dtype=torch.float64)
        total = 0.0
        for t, sym in enumerate(x):
            logits = p["bias"][t] + o.dependence * (h[0] @ p["w_out"].T)
            total += float(logits.log_softmax(-1)[sym])
            h, c = cell(p["embed"][sym][None], (h, c))
    return total


def hmm_reference(o: EnumerableOracle, x: tuple[int, ...]) -> float:
    """log P(x) as an explicit sum over every hidden path (uniform initial state)."""
    a, e, k = o.params["transition"], o.params["emission"], o.hidden
    total = 0.0
    for z in itertools.product(range(k), repeat=len(x)):
        prob = 1.0 / k * float(e[z[0], x[0]])
        for t in range(1, len(x)):
            prob *= float(a[z[t - 1], z[t]] * e[z[t], x[t]])
        total += prob
    return math.log(total)


@pytest.mark.parametrize(
    "kind,vocab,length,hidden",
    [("lstm", 3, 3, 5), ("lstm", 2, 1, 4), ("lstm", 4, 4, 16), ("hmm", 3, 3, 4), ("hmm", 2, 4, 3)],
)
def test_probabilities_equal_independent_computation(kind, vocab, length, hidden):
    o = EnumerableOracle(vocab, length, kind, seed=3, hidden=hidden)
    ref = lstm_reference if kind == "lstm" else hmm_reference
    expected = torch.tensor([ref(o, tuple(x.tolist())) for x in o.sequences], dtype=torch.float64)
    assert torch.allclose(o.log_probs, expected, rtol=0, atol=1e-10)
    assert o.probs.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert o.log_prob(o.sequences).equal(o.log_probs)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_largest_oracle_enumerates(kind):
    """V = L = 8: 16.8M sequences, chunked enumeration (about 5 s for the LSTM on one thread)."""
    o = EnumerableOracle(8, 8, kind)
    assert o.probs.shape == (8**8,)
    assert o.probs.sum().item() == pytest.approx(1.0, abs=1e-10)
    first = index_to_sequences(torch.arange(3), 8, 8)
    assert first.tolist() == [[0] * 8, [0] * 7 + [1], [0] * 7 + [2]]
    assert torch.allclose(o.log_prob(first), o.log_probs[:3])


@pytest.mark.parametrize("kind", KINDS)
def test_probabilities_sum_to_one_at_the_largest_fast_sizes(kind):
    o = EnumerableOracle(8, 5, kind)
    assert o.probs.shape == (8**5,)
    assert o.probs.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert (o.probs > 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_chunked_enumeration_keeps_the_order(kind, monkeypatch):
    whole = EnumerableOracle(3, 5, kind).log_probs
    monkeypatch.setattr(oracle_module, "_CHUNK", 7)  # every level of the tree split into chunks
    assert torch.allclose(
        EnumerableOracle(3, 5, kind).log_probs, whole, rtol=0, atol=1e-12
    )  # matmul rounding


def test_sequences_are_lexicographic():
    o = EnumerableOracle(3, 3)
    expected = torch.tensor(list(itertools.product(range(3), repeat=3)))
    assert o.sequences.equal(expected)
    assert o.index_of(expected).equal(torch.arange(27))


@pytest.mark.parametrize("kind", KINDS)
def test_marginals_conditionals_and_product_against_explicit_sums(kind):
    o = EnumerableOracle(3, 4, kind, seed=1)
    marg = torch.zeros(4, 3, dtype=torch.float64)
    joint12: dict[tuple[int, int], float] = {}
    prefix3: dict[tuple[int, ...], list[float]] = {}
    for x, p in zip(o.sequences.tolist(), o.probs.tolist(), strict=True):
        for t in range(4):
            marg[t, x[t]] += p
        joint12[(x[0], x[1])] = joint12.get((x[0], x[1]), 0.0) + p
        prefix3.setdefault(tuple(x[:2]), [0.0, 0.0, 0.0])[x[2]] += p
    assert torch.allclose(o.marginals, marg, atol=1e-14)
    product = torch.tensor(
        [math.prod(float(marg[t, x[t]]) for t in range(4)) for x in o.sequences.tolist()],
        dtype=torch.float64,
    )
    assert torch.allclose(o.product_of_marginals(), product, atol=1e-14)
    # P(x2 | x1): row x1 of conditional(2); P(x3 | x1 x2): row 3 * x1 + x2 of conditional(3).
    for x1, x2 in itertools.product(range(3), repeat=2):
        assert float(o.conditional(2)[x1, x2]) == pytest.approx(joint12[(x1, x2)] / float(marg[0, x1]))
        row = prefix3[(x1, x2)]
        assert o.conditional(3)[3 * x1 + x2].tolist() == pytest.approx([r / sum(row) for r in row])
    assert torch.allclose(o.conditional(1)[0], marg[0])
    with pytest.raises(SeqgenError, match="position must be in 1..4"):
        o.conditional(5)


@pytest.mark.parametrize("kind", KINDS)
def test_sampler_matches_probabilities(kind):
    o = EnumerableOracle(3, 3, kind, seed=2)
    samples = o.sample(30000, torch.Generator().manual_seed(0))
    assert samples.shape == (30000, 3) and samples.dtype == torch.long
    counts = torch.bincount(o.index_of(samples), minlength=27).double()
    assert chi2(counts, o.probs) < chi2_bound(26)
    assert torch.allclose(o.empirical(samples), counts / counts.sum())


def test_sampler_rejects_a_wrong_distribution():
    """The chi-square check has power: samples of one oracle fail against another seed's P."""
    o, other = EnumerableOracle(3, 3, seed=2), EnumerableOracle(3, 3, seed=5)
    counts = torch.bincount(o.index_of(o.sample(30000, torch.Generator().manual_seed(0))), minlength=27)
    assert chi2(counts.double(), other.probs) > 10 * chi2_bound(26)


@pytest.mark.parametrize("kind", KINDS)
def test_dependence_zero_makes_positions_independent(kind):
    o = EnumerableOracle(4, 5, kind, dependence=0.0)
    assert kl(o.probs, o.product_of_marginals()) < 1e-12
    assert torch.allclose(o.probs, o.product_of_marginals(), rtol=1e-10, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_default_dependence_is_strong(kind):
    """The lead's experiments need KL(P || product of marginals) >= 0.5 nats at V=4, L=5 by default."""
    values = {}
    for d in (1.0, DEFAULT_DEPENDENCE):
        o = EnumerableOracle(4, 5, kind, dependence=d)
        values[d] = kl(o.probs, o.product_of_marginals())
    print(f"{kind}: KL(P || product of marginals) at V=4, L=5: {values}")
    assert values[DEFAULT_DEPENDENCE] >= 0.5
    assert 0 < values[1.0] < values[DEFAULT_DEPENDENCE]  # the knob turns dependence up


@pytest.mark.parametrize("kind", KINDS)
def test_two_positions_cover_every_first_symbol_and_depend(kind):
    """Scheduled-sampling demonstrations need every x1 well represented and P(x2|x1) far from P_2."""
    o = EnumerableOracle(4, 2, kind)
    assert float(o.marginals[0].min()) >= 0.1
    assert float((o.conditional(2) - o.marginals[1]).abs().max()) > 0.1


def test_determinism_and_settings_round_trip():
    a = EnumerableOracle(4, 3, "hmm", dependence=2.5, seed=7, hidden=5, symbol_scale=1.0)
    b = EnumerableOracle(**a.settings())
    assert a.probs.equal(b.probs)
    assert a.settings() == b.settings()
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert a.sample(50, g1).equal(b.sample(50, g2))
    assert not EnumerableOracle(4, 3, "hmm", dependence=2.5, seed=8).probs.equal(a.probs)
    assert "seed=7" in repr(a)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(vocab=1), "vocab must be an integer in 2..8"),
        (dict(vocab=9), "vocab must be an integer in 2..8"),
        (dict(vocab=4.0), "vocab must be an integer in 2..8"),
        (dict(length=0), "length must be an integer in 1..8"),
        (dict(length=9), "length must be an integer in 1..8"),
        (dict(kind="gru"), "kind must be one of lstm, hmm"),
        (dict(dependence=-1.0), "dependence must be a finite number >= 0"),
        (dict(dependence=float("nan")), "dependence must be a finite number >= 0"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(hidden=0), "hidden must be in 1..1024"),
        (dict(symbol_scale=float("inf")), "symbol_scale must be a finite number >= 0"),
    ],
)
def test_bad_settings_are_one_line_errors(kwargs, fragment):
    with pytest.raises(SeqgenError, match=fragment) as err:
        EnumerableOracle(**kwargs)
    assert "\n" not in str(err.value)


def test_bad_sequences_are_errors():
    o = EnumerableOracle(3, 2)
    with pytest.raises(SeqgenError, match=r"shape \(n, 2\)"):
        o.index_of(torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(SeqgenError, match=r"in \[0, 3\)"):
        o.log_prob(torch.tensor([[0, 3]]))
    with pytest.raises(SeqgenError, match="no sequences"):
        o.empirical(torch.zeros(0, 2, dtype=torch.long))


def test_text_tokenizer_and_splits():
    o = EnumerableOracle(5, 3)
    tok = o.tokenizer()
    assert tok.vocab_size == 9
    assert [tok.encode(s) for s in o.symbols] == [[4 + k] for k in range(5)]
    seqs = torch.tensor([[1, 0, 4], [3, 3, 2]])
    texts = o.texts(seqs)
    assert texts == ["s1 s0 s4", "s3 s3 s2"]
    assert tok.encode(texts[0]) == [5, 4, 8]
    assert tok.decode(tok.encode(texts[1])) == texts[1]
    parsed, valid = o.parse([*texts, "s1 s0", "s1 s0 s5", "s1 <unk> s0", "s01 s0 s0", ""])
    assert parsed.equal(seqs) and valid.tolist() == [True, True, False, False, False, False, False]
    train, valid_split, test = o.splits(40, 10, 20, seed=3)
    assert (len(train), len(valid_split), len(test)) == (40, 10, 20)
    assert o.splits(40, 10, 20, seed=3) == (train, valid_split, test)
    assert o.parse(train)[1].all()
    assert train != o.splits(40, 10, 20, seed=4)[0]


# ============================================================================================================
# A generator's exact Q over the oracle's sequences
# ============================================================================================================


def small_generator(kind: str, vocab_size: int = 9, seed: int = 0):
    torch.manual_seed(seed)
    cfg = ModelConfig(kind=kind, emb_dim=8, hidden_dim=12, num_layers=1, d_model=16, num_heads=2, context=8)
    gen = build_generator(cfg, vocab_size)
    # Far-from-uniform, context-dependent weights: a test with power (a fresh model is nearly uniform).
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in gen.parameters():
            p.normal_(0.0, 0.8, generator=g)
    return gen.train()  # model_distribution must switch dropout off itself and restore the mode


def brute_force_q(gen, o: EnumerableOracle, temperature: float = 1.0) -> torch.Tensor:
    """Q(x) one sequence at a time: full forward of the underlying transformers model, then the
    symbol-restricted log-softmax (of logits / temperature) at every position."""
    out = []
    with torch.no_grad():
        for x in o.sequences.tolist():
            ids = torch.tensor([[gen.bos_id] + [4 + s for s in x]])
            logits = gen.lm(input_ids=ids[:, :-1]).logits[0].double()
            logq = (logits[:, 4 : 4 + o.vocab] / temperature).log_softmax(-1)
            out.append(sum(float(logq[t, s]) for t, s in enumerate(x)))
    return torch.tensor(out, dtype=torch.float64).exp()


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_model_distribution_equals_per_sequence_computation(kind):
    gen = small_generator(kind)
    o = EnumerableOracle(3, 4)
    q = model_distribution(gen, o)
    assert q.dtype == torch.float64 and q.shape == (81,)
    assert q.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert torch.allclose(q, brute_force_q(gen, o), rtol=1e-5, atol=0)
    assert gen.training  # mode restored
    # Batches that split prefixes across passes give the same table.
    assert torch.allclose(model_distribution(gen, o, batch_size=5), q, rtol=1e-6, atol=0)
    assert kl(o.probs, q) > 0.1  # the test compares non-trivial distributions
    cold = model_distribution(gen, o, temperature=0.5)
    assert torch.allclose(cold, brute_force_q(gen, o, temperature=0.5), rtol=1e-5, atol=0)
    assert kl(cold, q) > 0.05


def test_model_distribution_of_one_position_and_q_is_far_from_uniform():
    gen = small_generator("gru", seed=1)
    o = EnumerableOracle(4, 1)
    q = model_distribution(gen, o)
    assert torch.allclose(q, brute_force_q(gen, o), rtol=1e-5, atol=0)
    assert float((q - 0.25).abs().max()) > 0.05


def test_model_samples_follow_the_model_distribution():
    gen = small_generator("lstm", seed=2)
    o = EnumerableOracle(2, 4)
    for temperature in (1.0, 0.6):
        samples = sample_model(gen, o, 20000, torch.Generator().manual_seed(0), temperature=temperature)
        assert samples.shape == (20000, 4)
        counts = torch.bincount(o.index_of(samples), minlength=16).double()
        assert chi2(counts, model_distribution(gen, o, temperature=temperature)) < chi2_bound(15)
    # ... and not the other temperature's distribution (the check has power)
    assert chi2(counts, model_distribution(gen, o)) > 10 * chi2_bound(15)


def test_model_distribution_refuses_models_that_cannot_spell_the_oracle():
    o = EnumerableOracle(6, 4)
    with pytest.raises(SeqgenError, match="cannot hold the 4 special tokens and 6 oracle symbols"):
        model_distribution(small_generator("lstm", vocab_size=9), o)
    torch.manual_seed(0)
    short = build_generator(ModelConfig(kind="transformer", d_model=8, num_heads=2, context=3), 10)
    with pytest.raises(SeqgenError, match="context of 3 positions"):
        model_distribution(short, o)
    with pytest.raises(SeqgenError, match="temperature must be > 0"):
        model_distribution(small_generator("lstm", vocab_size=10), o, temperature=0.0)
    mask = symbol_logits_mask(12, 6)
    assert mask.tolist() == [False] * 4 + [True] * 6 + [False] * 2


# ============================================================================================================
# SeqGAN oracle
# ============================================================================================================


def test_seqgan_defaults_and_standard_normal_parameters():
    o = SeqGANOracle()
    assert o.settings() == dict(vocab=5000, length=20, emb_dim=32, hidden_dim=32, seed=0)
    shapes = {k: tuple(v.shape) for k, v in o.params.items()}
    assert shapes == {
        "embed": (5000, 32), "start": (32,), "w_ih": (128, 32), "w_hh": (128, 32), "b": (128,),
        "w_out": (5000, 32), "b_out": (5000,),
    }  # fmt: skip
    every = torch.cat([v.reshape(-1) for v in o.params.values()])  # ~ 330k draws
    assert abs(float(every.mean())) < 0.01 and abs(float(every.std()) - 1.0) < 0.01
    tail = math.erfc(1.44 / math.sqrt(2))  # P(|z| > 1.44) for z ~ N(0, 1); the sampling sd is 0.0006
    assert float((every.abs() > 1.44).float().mean()) == pytest.approx(tail, abs=0.003)
    samples = o.sample(64, torch.Generator().manual_seed(0))
    assert samples.shape == (64, 20) and 0 <= int(samples.min()) and int(samples.max()) < 5000


def seqgan_reference_log_prob(o: SeqGANOracle, seqs: torch.Tensor) -> torch.Tensor:
    """log P through torch.nn.LSTM (start vector, then the embedded words) and a plain log-softmax."""
    p = o.params
    lstm = torch.nn.LSTM(o.emb_dim, o.hidden_dim, batch_first=True)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(p["w_ih"])
        lstm.weight_hh_l0.copy_(p["w_hh"])
        lstm.bias_ih_l0.copy_(p["b"])
        lstm.bias_hh_l0.zero_()
        inputs = torch.cat([p["start"].expand(len(seqs), 1, -1), p["embed"][seqs[:, :-1]]], dim=1)
        hidden, _ = lstm(inputs)
        logq = (hidden @ p["w_out"].T + p["b_out"]).log_softmax(-1)
        return logq.gather(2, seqs[..., None]).squeeze(2).sum(1).double()


def test_seqgan_tiny_enumeration_sampling_and_reference():
    o = SeqGANOracle(vocab=3, length=3, emb_dim=4, hidden_dim=4, seed=1)
    every = torch.tensor(list(itertools.product(range(3), repeat=3)))
    logp = o.log_prob(every)
    assert logp.exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(logp, seqgan_reference_log_prob(o, every), atol=1e-5)
    # A prefix's probability is the sum over its completions.
    prefixes = o.log_prob(every[::3, :2]).exp()
    assert torch.allclose(prefixes, logp.exp().reshape(9, 3).sum(1), atol=1e-5)
    samples = o.sample(30000, torch.Generator().manual_seed(0))
    counts = torch.bincount(samples @ torch.tensor([9, 3, 1]), minlength=27).double()
    probs = logp.exp() / logp.exp().sum()
    assert chi2(counts, probs) < chi2_bound(26)
    assert float(probs.max()) > 2 * float(probs.min())  # P is far from uniform, so the check has power


def test_seqgan_full_size_log_prob_against_reference_and_nll():
    o = SeqGANOracle(seed=2)
    samples = o.sample(40, torch.Generator().manual_seed(1))
    logp = o.log_prob(samples)
    assert torch.allclose(logp, seqgan_reference_log_prob(o, samples), rtol=1e-4, atol=1e-3)
    assert o.nll(samples) == pytest.approx(float(-logp.sum() / samples.numel()))
    # At SeqGAN's sizes the max-free exp path (shifted bias) is used; the logsumexp path agrees with it.
    assert o._exp_safe
    o._exp_safe = False
    assert torch.allclose(o.log_prob(samples), logp, rtol=1e-5, atol=1e-4)


def test_seqgan_determinism_text_and_metrics():
    a, b = SeqGANOracle(vocab=50, length=6, seed=3), SeqGANOracle(vocab=50, length=6, seed=3)
    assert all(a.params[k].equal(b.params[k]) for k in a.params)
    assert not SeqGANOracle(vocab=50, length=6, seed=4).params["embed"].equal(a.params["embed"])
    s1 = a.sample(100, torch.Generator().manual_seed(5))
    assert s1.equal(b.sample(100, torch.Generator().manual_seed(5)))
    train, valid, test = a.splits(train=30, valid=5, test=20, seed=1)
    assert (len(train), len(valid), len(test)) == (30, 5, 20)
    assert a.splits(train=30, valid=5, test=20, seed=1) == (train, valid, test)
    tok = a.tokenizer()
    assert tok.vocab_size == 54 and tok.encode("w0 w49") == [4, 53]
    texts = a.texts(s1[:3])
    assert texts[0].split()[0] == f"w{int(s1[0, 0])}"
    metrics = a.sample_metrics([*texts, "w1 w2", "w1 w2 w3 w4 w5 w50", texts[0]])
    assert metrics["num_samples"] == 6 and metrics["valid_fraction"] == pytest.approx(4 / 6)
    assert metrics["oracle_nll"] == pytest.approx(a.nll(torch.cat([s1[:3], s1[:1]])))
    assert metrics["distinct_fraction"] == pytest.approx(5 / 6)
    assert a.sample_metrics(["w1"])["oracle_nll"] == float("inf")


def test_seqgan_bad_input():
    with pytest.raises(SeqgenError, match="vocab must be an integer >= 2"):
        SeqGANOracle(vocab=1)
    o = SeqGANOracle(vocab=10, length=4)
    with pytest.raises(SeqgenError, match="k <= 4"):
        o.log_prob(torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(SeqgenError, match=r"in \[0, 10\)"):
        o.nll(torch.tensor([[10]]))
