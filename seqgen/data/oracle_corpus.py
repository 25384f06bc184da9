"""Known distributions as corpora: `data.train=oracle` (an enumerable oracle, `data.oracle.*`) and
`data.train=seqgan_oracle` (SeqGAN's random LSTM). Their splits are i.i.d. draws, their tokenizer is fixed
(symbol k = token id 4 + k, which exact evaluation relies on), and the oracle is rebuilt from the run's config
whenever it is needed — nothing about it is saved.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from seqgen.errors import SeqgenError

ORACLE_CORPORA = ("caption", "oracle", "seqgan_oracle")  # corpora whose P(x) is known exactly


def is_symbol_oracle(train: str) -> bool:
    return train in ("oracle", "seqgan_oracle")


def build_oracle(data: Any) -> Any:
    """The oracle that `data` (a DataConfig with train=oracle or seqgan_oracle) describes."""
    o = data.oracle
    if data.train == "seqgan_oracle":
        return _seqgan(o.seed)
    if data.train != "oracle":
        raise SeqgenError(f"data.train={data.train} is not an oracle corpus")
    return _enumerable(o.vocab, o.length, o.kind, float(o.dependence), o.hidden, o.seed)


@lru_cache(maxsize=4)
def _enumerable(vocab: int, length: int, kind: str, dependence: float, hidden: int, seed: int) -> Any:
    from seqgen.data.oracle import EnumerableOracle

    return EnumerableOracle(
        vocab=vocab, length=length, kind=kind, dependence=dependence, seed=seed, hidden=hidden
    )


@lru_cache(maxsize=2)
def _seqgan(seed: int) -> Any:
    from seqgen.data.seqgan_oracle import SeqGANOracle

    return SeqGANOracle(seed=seed)


@lru_cache(maxsize=4)
def _cached_splits(data_key: tuple, n_train: int, n_heldout: int, seed: int) -> tuple:
    train, vocab, length, kind, dependence, hidden = data_key
    oracle = (
        _seqgan(seed)
        if train == "seqgan_oracle"
        else _enumerable(vocab, length, kind, dependence, hidden, seed)
    )
    return oracle.splits(n_train, n_heldout, n_heldout, seed)


def oracle_splits(data: Any) -> tuple[list[str], list[str], list[str], str]:
    """(train, valid, test, rule) for an oracle corpus: `data.oracle.sentences` training sequences and
    `data.holdout` each for valid and test, drawn with seeds derived from `data.oracle.seed`."""
    oracle = build_oracle(data)
    o = data.oracle
    if o.sentences < 1:
        raise SeqgenError(f"data.oracle.sentences must be at least 1, got {o.sentences}")
    key = (data.train, o.vocab, o.length, o.kind, float(o.dependence), o.hidden)
    train, valid, test = _cached_splits(key, o.sentences, data.holdout, o.seed)
    name = "enumerable oracle" if data.train == "oracle" else "SeqGAN oracle"
    rule = f"{name} {oracle.settings()}: {len(train)} training sequences (seed {o.seed})"
    return list(train), list(valid), list(test), rule
