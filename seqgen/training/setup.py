"""From a config to the pieces a run needs: splits, tokenizer, encoded datasets, generator.

Shared by `seqgen train`, `seqgen evaluate` and the demo, so a run is always rebuilt the same way: the split
rule is deterministic, and the tokenizer is trained once on the training split and then read from the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqgen.errors import SeqgenError
from seqgen.run_folder import Config, RunFolder
from seqgen.tokenization import Tokenizer, TokenizerConfig, load_tokenizer, train_tokenizer


@dataclass
class RunData:
    tokenizer: Tokenizer
    train: Any  # datasets.Dataset with "input_ids"
    valid: Any | None
    test: Any | None
    rule: str


def resolve_tokenizer(cfg: Config, train_texts: Any, run: RunFolder | None) -> Tokenizer:
    """The run's own tokenizer if it has one, else `tokenizer.path`, else one trained on the train split."""
    if run is not None:  # an existing run always uses its own tokenizer; a missing one is an error
        return load_tokenizer(run.tokenizer_dir)
    if cfg.init_from:
        return load_tokenizer(RunFolder(cfg.init_from).require().tokenizer_dir)
    if cfg.data.train in ("oracle", "seqgan_oracle"):  # fixed: symbol k is token 4 + k (exact evaluation)
        from seqgen.data.oracle_corpus import build_oracle

        return build_oracle(cfg.data).tokenizer()
    if cfg.tokenizer.path:
        tok = load_tokenizer(cfg.tokenizer.path)
        if tok.kind != cfg.tokenizer.kind:
            raise SeqgenError(
                f"tokenizer.path {cfg.tokenizer.path} holds a {tok.kind} tokenizer but tokenizer.kind="
                f"{cfg.tokenizer.kind}"
            )
        return tok
    return tokenizer_from_config(cfg.tokenizer, train_texts)


def tokenizer_from_config(t: TokenizerConfig, texts: Any) -> Tokenizer:
    """Train the tokenizer that the `tokenizer.*` settings describe on `texts` (for train and the CLI)."""
    return train_tokenizer(
        t.kind,
        texts,
        vocab_size=t.vocab_size,
        model_type=t.model_type,
        min_freq=t.min_freq,
        max_vocab=t.max_vocab,
    )


def load_run_data(
    cfg: Config, run: RunFolder | None = None, splits: tuple[str, ...] = ("train", "valid", "test")
) -> RunData:
    from seqgen.data.corpus import resolve_splits
    from seqgen.data.encoding import encode_corpus

    s = resolve_splits(cfg.data)
    tok = resolve_tokenizer(cfg, s.train["text"] if s.train is not None else [], run)

    def enc(ds: Any, name: str) -> Any:
        if ds is None or name not in splits:
            return None
        return encode_corpus(
            ds, tok, mode=cfg.data.mode, max_len=cfg.data.max_len, truncation=cfg.data.truncation
        )

    return RunData(tok, enc(s.train, "train"), enc(s.valid, "valid"), enc(s.test, "test"), s.rule)
