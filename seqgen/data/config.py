"""`data.*` and `data.oracle.*`: which corpus, which splits, how rows are cut (DESIGN §3, §7)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from seqgen.errors import SeqgenError, Settings, setting

ORACLE_KINDS = ("lstm", "hmm")
SEQGAN_ORACLE_LENGTH = 20  # SeqGAN's random-LSTM oracle: sequences of 20 symbols
SYMBOL_ORACLES = ("oracle", "seqgan_oracle")
BUILTIN_CORPORA = ("caption", *SYMBOL_ORACLES)  # corpora seqgen generates itself (P known exactly)


def symbol_offsets(text: str, vocab: int) -> tuple[float, ...]:
    """The per-symbol logit offsets that `data.oracle.symbol_offset` names: V finite numbers, "" = all 0."""
    if not text.strip():
        return (0.0,) * vocab
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != vocab or not all(math.isfinite(v) for v in values):
        raise SeqgenError(
            f"config key 'data.oracle.symbol_offset' must be {vocab} comma-separated finite numbers (one per "
            f"symbol, data.oracle.vocab={vocab}), got {text!r}"
        )
    return values


@dataclass
class OracleConfig(Settings):
    section = "data.oracle"

    vocab: int = setting(4, "enumerable oracle (data.train=oracle): vocabulary size V, 2..8")
    length: int = setting(5, "enumerable oracle: sequence length L, 1..8 (all V^L sequences are enumerated)")
    kind: str = setting("lstm", "enumerable oracle: P from a random lstm or hmm", ORACLE_KINDS)
    dependence: float = setting(6.0, "enumerable oracle: dependence between positions (0 = independent)")
    hidden: int = setting(16, "enumerable oracle: hidden size of the random LSTM / number of HMM states")
    seed: int = setting(0, "seed of the oracle's parameters and of its sampled splits")
    sentences: int = setting(10000, "training sequences drawn from the oracle (oracle and seqgan_oracle)")
    symbol_offset: str = setting(
        "",
        "enumerable oracle: V comma-separated numbers added to P's logits of symbols 0..V-1 at every "
        "position (e.g. 0,0,-12,-12 gives symbols 2 and 3 almost no mass); empty = all 0",
    )

    def check(self) -> None:
        self.within("vocab", 2, 8)
        self.within("length", 1, 8)
        self.within("hidden", 1, 1024)
        self.at_least(0, "dependence", "seed")
        self.at_least(1, "sentences")
        self.offsets()

    def offsets(self) -> tuple[float, ...]:
        """`symbol_offset` as V floats (all 0 when empty), checked in the words of its key."""
        return symbol_offsets(self.symbol_offset, self.vocab)


@dataclass
class DataConfig(Settings):
    section = "data"

    train: str = setting(
        "caption",
        "training corpus: a text file (one sentence a line), a folder of .txt files, a One-Billion-Word "
        "root, 'caption' (the embedded caption language), 'oracle' (an enumerable oracle, data.oracle.*), "
        "'seqgan_oracle' (SeqGAN's random-LSTM oracle) or 'hf:NAME' (a hub dataset, online only)",
    )
    valid: str | None = setting(None, "validation corpus (same forms as train); default: see the split rules")
    test: str | None = setting(None, "test corpus (same forms as train); default: see the split rules")
    mode: str = setting(
        "sentence",
        "sentence: one sentence a row, BOS..EOS, padded; stream: contiguous blocks of the token stream",
        ("sentence", "stream"),
    )
    max_len: int = setting(
        64, "tokens per row including BOS/EOS (sentence mode) or block length (stream mode)"
    )
    truncation: str = setting(
        "truncate",
        "sentences longer than max_len: 'truncate' keeps BOS and the first max_len-1 tokens (no EOS), "
        "'drop' leaves them out",
        ("truncate", "drop"),
    )
    holdout: int = setting(
        1000, "when valid/test are not given for a plain corpus: sentences held out for each (at most 5%)"
    )
    caption_sentences: int = setting(20000, "training sentences drawn from the caption language")
    caption_seed: int = setting(0, "seed of the caption language's sentences (the grammar itself is fixed)")
    text_column: str = setting("text", "column holding the text in a hub dataset")
    hf_revision: str = setting(
        "",
        "hf: corpora: the git revision of the hub dataset (e.g. refs/convert/parquet, the hub's parquet "
        "conversion, where hf:billion-word-benchmark/lm1b:plain_text loads with datasets >= 4); empty = main",
    )
    streaming: bool = setting(
        False,
        "hf: corpora: stream the train split (rows are read as training asks for them, the corpus is never "
        "downloaded whole) through a shuffle buffer; sentence mode, mle and scheduled_sampling only",
    )
    shuffle_buffer: int = setting(
        10000, "data.streaming: rows in the shuffle buffer the batches are drawn from"
    )
    num_proc: int = setting(
        0,
        "processes that read, count and encode a large corpus (200,000 rows or more, or 20 MB of files): "
        "0 = every available CPU, 1 = none besides the run's own; the result is the same for any number",
    )
    oracle: OracleConfig = field(default_factory=OracleConfig)

    def check(self) -> None:
        self.at_least(1, "caption_sentences")
        self.at_least(0, "holdout", "num_proc")
        self.at_least(1, "shuffle_buffer")
        if self.streaming and not (self.train.startswith("hf:") and self.mode == "sentence"):
            raise SeqgenError(
                "data.streaming=true streams a hub corpus in sentence mode: it needs data.train=hf:NAME and "
                f"data.mode=sentence, got data.train={self.train} and data.mode={self.mode}"
            )
        if self.hf_revision and not self.train.startswith("hf:"):
            self.refuse("hf_revision", f"applies to hf: corpora only, not data.train={self.train}")
        if self.max_len < 2:
            self.refuse("max_len", "must be at least 2 (BOS and one token)")
        if self.train in SYMBOL_ORACLES:
            length = self.oracle.length if self.train == "oracle" else SEQGAN_ORACLE_LENGTH
            if self.mode != "sentence" or self.max_len < length + 2:
                raise SeqgenError(
                    f"data.train={self.train} needs data.mode=sentence and data.max_len >= {length + 2} "
                    f"(BOS, {length} symbols, EOS); got mode={self.mode}, max_len={self.max_len}"
                )
