"""The text a split's likelihood covers: its characters and whitespace words, counted on the text itself.

A likelihood sums the NLL of the *target* tokens of the encoded rows (seqgen.data.encoding). To turn it into
bits per character or NLL per word (DESIGN §6), the characters and words are counted on the split's text as
the run reads it, for exactly the tokens that are targets:

- a token stands for its text and the whitespace before it (`Tokenizer.char_ends`); EOS stands for the
  line's trailing whitespace and the line break (one character, and one word);
- a word is counted with the token that holds its last character;
- sentence mode: a whole sentence counts when its row fits; with truncation=truncate a longer row keeps
  BOS and its first max_len-1 tokens, so only their text counts (the rest, and the EOS, were never scored);
  with truncation=drop the row is gone and nothing of it counts;
- stream mode: the lines (each ending in EOS) form one stream cut into blocks of max_len; the first token of
  each block is context, never a target, and the last partial block is dropped: neither counts.

So the nats and the characters always describe the same text, and for a char tokenizer the characters are
the target tokens exactly (bits per character = NLL per token / ln 2); for a word tokenizer the words are.
What was left out is reported (`Coverage.left_out`), because runs with different tokenizers then cover
different text. `Coverage.tokens` must equal the encoded split's target count; evaluation checks it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from seqgen.errors import SeqgenError

_WORD_RE = re.compile(r"\S+")  # a whitespace word (the same words as str.split())

RULE = (
    "characters and whitespace words of the split's text that the target tokens stand for (each line break "
    "= EOS = one character and one word); a truncated sentence counts only its kept tokens' text, a dropped "
    "one nothing; in stream mode each block's first token and the last partial block are not counted"
)


@dataclass(frozen=True)
class Coverage:
    """What the target tokens of an encoded split stand for, and what of the text they leave out."""

    chars: int
    words: int
    tokens: int  # target tokens (as `count_tokens` of the encoded split)
    lines: int  # lines (sentences) of the split's text
    truncated: int  # sentence mode: sentences that lost their end (truncation=truncate)
    dropped: int  # sentence mode: sentences left out entirely (truncation=drop)
    left_out_chars: int  # characters (line breaks included) of the text that no target token stands for
    left_out_words: int

    def settings(self) -> dict[str, Any]:
        return {"rule": RULE, **asdict(self)}


def line_units(text: str, tokenizer: Any) -> tuple[list[int], list[int]]:
    """(characters, words) that each token of the line's row stands for: its text tokens, then EOS."""
    ends = tokenizer.char_ends(text)
    word_ends = [m.end() for m in _WORD_RE.finditer(text)]
    chars, words, start, before = [], [], 0, 0
    for end in ends:
        upto = bisect.bisect_right(word_ends, end)  # words whose last character is before `end`
        chars.append(end - start)
        words.append(upto - before)
        start, before = end, upto
    chars.append(len(text) - start + 1)  # EOS: trailing whitespace and the line break
    words.append(len(word_ends) - before + 1)
    return chars, words


def covered_text(
    texts: Iterable[str], tokenizer: Any, *, mode: str, max_len: int, truncation: str = "truncate"
) -> Coverage:
    """The `Coverage` of `texts` encoded by `tokenizer` with these encoding settings (module docstring)."""
    if mode == "stream":
        return _stream(texts, tokenizer, max_len)
    if mode != "sentence":
        raise SeqgenError(f"data mode must be sentence or stream; got {mode!r}")
    n = {"chars": 0, "words": 0, "tokens": 0, "lines": 0, "truncated": 0, "dropped": 0}
    out_chars = out_words = 0
    for text in texts:
        chars, words = line_units(text, tokenizer)
        n["lines"] += 1
        keep = len(chars)  # text tokens and EOS: every token of the row after BOS
        if keep + 1 > max_len:
            if truncation == "drop":
                keep, n["dropped"] = 0, n["dropped"] + 1
            else:
                keep, n["truncated"] = max_len - 1, n["truncated"] + 1
        kept_chars, kept_words = sum(chars[:keep]), sum(words[:keep])
        n["chars"] += kept_chars
        n["words"] += kept_words
        n["tokens"] += keep
        out_chars += sum(chars) - kept_chars
        out_words += sum(words) - kept_words
    return Coverage(**n, left_out_chars=out_chars, left_out_words=out_words)


def _stream(texts: Iterable[str], tokenizer: Any, block: int) -> Coverage:
    chars: list[int] = []
    words: list[int] = []
    lines = 0
    for text in texts:
        c, w = line_units(text, tokenizer)
        chars += c
        words += w
        lines += 1
    c_arr, w_arr = np.asarray(chars, dtype=np.int64), np.asarray(words, dtype=np.int64)
    n_blocks = len(c_arr) // block
    target = np.zeros(len(c_arr), dtype=bool)
    target[: n_blocks * block] = True
    target[: n_blocks * block : block] = False  # each block's first token is context
    kept_c, kept_w = int(c_arr[target].sum()), int(w_arr[target].sum())
    return Coverage(
        chars=kept_c,
        words=kept_w,
        tokens=int(target.sum()),
        lines=lines,
        truncated=0,
        dropped=0,
        left_out_chars=int(c_arr.sum()) - kept_c,
        left_out_words=int(w_arr.sum()) - kept_w,
    )
