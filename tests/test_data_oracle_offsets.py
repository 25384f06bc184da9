"""data.oracle.symbol_offset: per-symbol logit offsets that give the enumerable oracle a support gap.

The offset is added to the logits of the next symbol at every position, for both kinds of P, so each
conditional is the offset-free one tilted by exp(offset) and renormalised; the references below are the
offset-free oracle's own conditionals.
"""

from __future__ import annotations

import pytest
import torch
from helpers import fails

from seqgen.data.config import DataConfig, OracleConfig
from seqgen.data.oracles.corpus import build_oracle, oracle_splits
from seqgen.data.oracles.enumerable import EnumerableOracle
from seqgen.errors import SeqgenError

GAP = "0,0,-12,-12"


def oracle_data(offset: str = GAP, kind: str = "lstm", **data) -> DataConfig:
    return DataConfig(train="oracle", max_len=7, oracle=OracleConfig(kind=kind, symbol_offset=offset), **data)


def mass_on_symbols_0_and_1(oracle: EnumerableOracle) -> float:
    return float(oracle.probs[(oracle.sequences < 2).all(dim=1)].sum())


# The HMM needs a larger offset for the same gap: a hidden state that favours symbol 2 gives it ~0.95 of its
# emission mass, and the tilt only divides that by e^12 (at -12 the HMM keeps 0.99986 on {0, 1}).
@pytest.mark.parametrize("kind, offset", [("lstm", GAP), ("hmm", "0,0,-16,-16")])
def test_a_large_negative_offset_leaves_those_symbols_almost_no_mass(kind, offset):
    oracle = build_oracle(oracle_data(offset, kind=kind))  # the default V=4, L=5 oracle with the offset
    assert oracle.symbol_offset == tuple(float(v) for v in offset.split(","))
    assert mass_on_symbols_0_and_1(oracle) > 0.9999
    assert abs(float(oracle.probs.sum()) - 1.0) < 1e-12
    assert mass_on_symbols_0_and_1(EnumerableOracle(kind=kind)) < 0.5  # without it, every symbol is likely


@pytest.mark.parametrize("kind", ["lstm", "hmm"])
def test_every_conditional_is_the_offset_free_one_tilted(kind):
    offset = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    base = EnumerableOracle(3, 4, kind, seed=2)
    tilted = EnumerableOracle(3, 4, kind, seed=2, symbol_offset=offset.tolist())
    for t in range(1, 5):
        expected = base.conditional(t) * offset.exp()
        expected = expected / expected.sum(dim=1, keepdim=True)
        torch.testing.assert_close(tilted.conditional(t), expected, rtol=1e-10, atol=1e-13)
    # the sampler follows the same P
    draws = tilted.sample(20000, torch.Generator().manual_seed(0))
    freq = tilted.empirical(draws)
    assert float((freq - tilted.probs).abs().sum()) / 2 < 0.05


def test_zero_offsets_are_the_default_oracle_exactly():
    a = build_oracle(oracle_data(""))
    b = build_oracle(oracle_data("0,0,0,0"))
    assert torch.equal(a.log_probs, EnumerableOracle().log_probs)
    assert torch.equal(b.log_probs, a.log_probs)
    assert a.settings()["symbol_offset"] == (0.0,) * 4
    again = EnumerableOracle(**build_oracle(oracle_data()).settings())
    assert torch.equal(again.log_probs, build_oracle(oracle_data()).log_probs)


def test_the_training_split_holds_only_sequences_of_the_likely_symbols():
    data = oracle_data(holdout=100)
    train, valid, test, rule = oracle_splits(data)
    assert len(train) == 10000 and "symbol_offset" in rule
    allowed = {"s0", "s1"}
    inside = sum(set(line.split()) <= allowed for line in train)
    assert inside >= 0.999 * len(train)  # expected outside: 10000 x 3.4e-5 < 1 sequence
    # the cache of oracles and splits tells the offsets apart
    plain, *_ = oracle_splits(oracle_data("", holdout=100))
    assert sum(set(line.split()) <= allowed for line in plain) < 0.5 * len(plain)
    assert not torch.equal(build_oracle(oracle_data("")).probs, build_oracle(data).probs)


@pytest.mark.parametrize(
    "offset, says",
    [("0,0,-12", "4 comma-separated finite numbers"), ("0,nan,0,0", "finite"), ("a,b,c,d", "got 'a,b,c,d'")],
)
def test_bad_offsets_are_refused_naming_the_key(tmp_path, capsys, offset, says):
    fails(
        capsys,
        "train",
        "data.train=oracle",
        "data.max_len=7",
        f"data.oracle.symbol_offset={offset}",
        f"out={tmp_path / 'r'}",
        says=("data.oracle.symbol_offset", says),
    )
    assert not (tmp_path / "r").exists()


def test_bad_offsets_in_python_are_one_line_errors():
    with pytest.raises(SeqgenError, match="symbol_offset must be 4 finite numbers"):
        EnumerableOracle(symbol_offset=[0.0, 1.0])
    with pytest.raises(SeqgenError, match="symbol_offset must be 4 finite numbers"):
        EnumerableOracle(symbol_offset=[0.0, 0.0, float("inf"), 0.0])
    with pytest.raises(SeqgenError, match="data.oracle.symbol_offset"):
        OracleConfig(vocab=3, symbol_offset="0,0,0,0")
