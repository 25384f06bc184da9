"""Known distributions as corpora: `data.train=oracle` (an enumerable oracle, `data.oracle.*`) and
`data.train=seqgan_oracle` (SeqGAN's random LSTM). Their splits are i.i.d. draws, their tokenizer is fixed
(symbol k = token id 4 + k, which exact evaluation relies on), and the oracle is rebuilt from the run's config
whenever it is needed — nothing about it is saved.
"""

from __future__ import annotations

from functools import lru_cache

from seqgen.data.config import SYMBOL_ORACLES, DataConfig
from seqgen.data.oracles.enumerable import EnumerableOracle
from seqgen.data.oracles.seqgan import SeqGANOracle
from seqgen.errors import SeqgenError


def build_oracle(data: DataConfig) -> EnumerableOracle | SeqGANOracle:
    """The oracle that `data` (a DataConfig with train=oracle or seqgan_oracle) describes."""
    o = data.oracle
    if data.train not in SYMBOL_ORACLES:
        raise SeqgenError(f"data.train={data.train} is not an oracle corpus")
    if data.train == "seqgan_oracle":
        return _seqgan(o.seed)
    return _enumerable(*_enumerable_key(data)[1:], o.seed)


def _enumerable_key(data: DataConfig) -> tuple:
    """What defines an enumerable oracle besides its seed: the cache key of the oracle and of its splits."""
    o = data.oracle
    return (data.train, o.vocab, o.length, o.kind, float(o.dependence), o.hidden, o.offsets())


# Building an oracle draws its parameters (and the SeqGAN one holds 5,000 x 32 weights): a run, its
# evaluation and its tests ask for the same few oracles many times.
@lru_cache(maxsize=4)
def _enumerable(
    vocab: int,
    length: int,
    kind: str,
    dependence: float,
    hidden: int,
    offset: tuple[float, ...],
    seed: int,
) -> EnumerableOracle:
    return EnumerableOracle(
        vocab=vocab,
        length=length,
        kind=kind,
        dependence=dependence,
        seed=seed,
        hidden=hidden,
        symbol_offset=offset,
    )


@lru_cache(maxsize=2)
def _seqgan(seed: int) -> SeqGANOracle:
    return SeqGANOracle(seed=seed)


@lru_cache(maxsize=4)
def _cached_splits(data_key: tuple, n_train: int, n_heldout: int, seed: int) -> tuple:
    oracle = _seqgan(seed) if data_key[0] == "seqgan_oracle" else _enumerable(*data_key[1:], seed)
    return oracle.splits(n_train, n_heldout, n_heldout, seed)


def oracle_splits(data: DataConfig) -> tuple[list[str], list[str], list[str], str]:
    """(train, valid, test, rule) for an oracle corpus: `data.oracle.sentences` training sequences and
    `data.holdout` each for valid and test, drawn with seeds derived from `data.oracle.seed`."""
    oracle = build_oracle(data)
    o = data.oracle
    if o.sentences < 1:
        raise SeqgenError(f"data.oracle.sentences must be at least 1, got {o.sentences}")
    train, valid, test = _cached_splits(_enumerable_key(data), o.sentences, data.holdout, o.seed)
    name = "enumerable oracle" if data.train == "oracle" else "SeqGAN oracle"
    rule = f"{name} {oracle.settings()}: {len(train)} training sequences (seed {o.seed})"
    return list(train), list(valid), list(test), rule
