"""The held-out likelihood of a run on one split, in every unit DESIGN §6 asks for.

NLL per token (`nll_token`, and `nll` for compatibility) compares only runs with the same tokenizer, so the
result also holds the units that compare across tokenizers: `bits_per_char` = total nats / (ln 2 x the
split's characters) and `nll_word` = total nats / the split's whitespace words, each line break counted as
one character and one word (it stands for EOS), with the counts `chars` and `words`. `bpc`, the older key of
char runs, equals `bits_per_char` there.

The characters and words are counted on the split's text, not on decoded tokens, and only for the text the
scored tokens stand for (seqgen.data.text_coverage): a sentence truncated at data.max_len
(truncation=truncate) counts only the text of its kept tokens, a dropped one (truncation=drop) nothing, and
in stream mode each block's first token (context) and the last partial block are not counted. The nats and
the characters thus always describe the same text; what was left out is in `settings["likelihood_text"]`,
and a warning says so, because runs whose tokenizers truncate differently then cover different text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

from seqgen.data.encoding import UNK_WARNING, unk_fraction
from seqgen.data.run_data import RunData
from seqgen.data.text_coverage import covered_text
from seqgen.errors import SeqgenError
from seqgen.metrics.likelihood import heldout_sums, per_unit

log = logging.getLogger("seqgen")


def heldout_likelihood(
    gen: Any,
    data: RunData,
    data_cfg: Any,
    split: str,
    batch_size: int,
    device: torch.device | str,
    say: Callable[[str], None],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The likelihood keys of the result for the `split` of `data` (encoded with `data_cfg`, the run's data.*
    settings) under `gen`, see the module docstring; what they depend on goes into `settings` under
    "likelihood_text": the encoding settings, the counting rule and what of the text was left out."""
    ds, tokenizer = getattr(data, split), data.tokenizer
    if data.texts is None or getattr(data.texts, split) is None:
        raise SeqgenError(f"the {split} split's text is not available to count its characters")
    cover = covered_text(
        getattr(data.texts, split)["text"],
        tokenizer,
        mode=data_cfg.mode,
        max_len=data_cfg.max_len,
        truncation=data_cfg.truncation,
    )
    say(f"held-out NLL on {split}")
    nats, tokens = heldout_sums(gen, ds, pad_id=tokenizer.pad_id, batch_size=batch_size, device=device)
    if cover.tokens != tokens:  # the text counts would not describe the scored tokens
        raise SeqgenError(
            f"the {split} split has {tokens} target tokens but its text accounts for {cover.tokens}: "
            "cannot count the characters the likelihood covers"
        )
    out: dict[str, Any] = per_unit(nats, tokens, cover.chars, cover.words)
    if getattr(tokenizer, "is_char_level", False):
        out["bpc"] = out["bits_per_char"]  # the older key of char runs
    _warn_left_out(cover, split)
    # Every <unk> is a word the model never has to predict: a high rate flatters the NLL.
    out["unk_fraction"] = unk_fraction(ds, tokenizer)
    if out["unk_fraction"] > UNK_WARNING:
        log.warning(
            "%.1f%% of the %s split's tokens are <unk>: the NLL does not count those words",
            100 * out["unk_fraction"],
            split,
        )
    encoding = {"mode": data_cfg.mode, "max_len": data_cfg.max_len, "truncation": data_cfg.truncation}
    settings["likelihood_text"] = {**encoding, **cover.settings()}
    return out


def _warn_left_out(cover: Any, split: str) -> None:
    if cover.truncated or cover.dropped:
        how = f"{cover.truncated} truncated" if cover.truncated else f"{cover.dropped} dropped"
        log.warning(
            "%s of the %d sentences of the %s split are longer than data.max_len: the likelihood and its "
            "characters/words cover only the %d characters scored (%d left out); runs with other tokenizers "
            "cut elsewhere, so their bits per character cover different text",
            how,
            cover.lines,
            split,
            cover.chars,
            cover.left_out_chars,
        )
