"""seqgen.data.text_coverage and `Tokenizer.char_ends`: which characters and words of the text the target
tokens of an encoded split stand for. References are worked by hand on tiny texts; the token counts are
checked against `encode_corpus`, the encoder the likelihood itself reads."""

from __future__ import annotations

import warnings

import pytest
from datasets import Dataset

from seqgen.data.encoding import count_tokens, encode_corpus
from seqgen.data.text_coverage import covered_text, line_units
from seqgen.tokenization import CharTokenizer, WordTokenizer, train_tokenizer

TEXT = ["ab  cd ef ", "gh", "ij kl"]


def _spm():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the corpus supports only N pieces"
        return train_tokenizer("sentencepiece", ["abcd efgh", "ab cd ef gh ij kl"] * 20, vocab_size=30)


@pytest.mark.parametrize("make", [lambda: CharTokenizer.train(TEXT), lambda: WordTokenizer.train(TEXT), _spm])
def test_char_ends_tile_the_text_one_end_per_token(make):
    tok = make()
    for text in [*TEXT, "", "  ", "a\u3000b\tc  ", "zz ab"]:
        ends = tok.char_ends(text)
        assert len(ends) == len(tok.encode(text))
        assert ends == sorted(ends) and all(0 <= e <= len(text) for e in ends)
        assert text[ends[-1] if ends else 0 :].strip() == ""  # only whitespace is left for EOS


def test_line_units_by_hand():
    # word "ab  cd ef ": tokens own the whitespace before them; EOS owns the trailing space and the break
    assert line_units("ab  cd ef ", WordTokenizer.train(TEXT)) == ([2, 4, 3, 2], [1, 1, 1, 1])
    # char "ab c": a word counts with the character that ends it
    assert line_units("ab c", CharTokenizer.train(TEXT)) == ([1, 1, 1, 1, 1], [0, 1, 0, 1, 1])


def test_sentence_mode_counts_whole_sentences_that_fit():
    cov = covered_text(TEXT, WordTokenizer.train(TEXT), mode="sentence", max_len=10)
    assert (cov.chars, cov.words, cov.tokens) == (11 + 3 + 6, 4 + 2 + 3, 9)
    assert (cov.truncated, cov.dropped, cov.left_out_chars, cov.left_out_words) == (0, 0, 0, 0)


def test_truncation_counts_the_kept_tokens_text_and_drop_counts_nothing():
    tok = WordTokenizer.train(TEXT)
    # max_len 3 = BOS + 2 tokens: "ab  cd" (6 chars, 2 words) of the first line; "gh" + EOS fits (3, 2);
    # "ij kl" keeps "ij kl" without its EOS (5, 2)
    cut = covered_text(TEXT, tok, mode="sentence", max_len=3, truncation="truncate")
    assert (cut.chars, cut.words, cut.tokens, cut.truncated) == (6 + 3 + 5, 2 + 2 + 2, 6, 2)
    assert (cut.left_out_chars, cut.left_out_words) == (5 + 1, 2 + 1)
    drop = covered_text(TEXT, tok, mode="sentence", max_len=3, truncation="drop")
    assert (drop.chars, drop.words, drop.tokens, drop.dropped) == (3, 2, 2, 2)
    for truncation, cov in (("truncate", cut), ("drop", drop)):
        ds = encode_corpus(
            Dataset.from_dict({"text": TEXT}), tok, mode="sentence", max_len=3, truncation=truncation
        )
        assert cov.tokens == count_tokens(ds)


def test_stream_mode_leaves_out_block_starts_and_the_partial_tail():
    tok = WordTokenizer.train(TEXT)
    # stream: ab cd ef EOS | gh EOS ij kl | EOS  -> blocks of 4: [ab cd ef EOS] [gh EOS ij kl], tail dropped
    cov = covered_text(TEXT, tok, mode="stream", max_len=4)
    # targets: "  cd" (4) " ef" (3) EOS " \n" (2) | EOS "\n" (1) "ij" (2) " kl" (3)
    assert (cov.chars, cov.words, cov.tokens) == (4 + 3 + 2 + 1 + 2 + 3, 6, 6)
    assert cov.left_out_chars == (11 + 3 + 6) - cov.chars  # "ab", "gh" and the last line break
    ds = encode_corpus(Dataset.from_dict({"text": TEXT}), tok, mode="stream", max_len=4)
    assert cov.tokens == count_tokens(ds)


def test_char_tokenizer_counts_one_character_per_target_even_when_cut():
    tok = CharTokenizer.train(TEXT)
    for mode, max_len in (("sentence", 4), ("sentence", 64), ("stream", 5)):
        cov = covered_text(TEXT, tok, mode=mode, max_len=max_len)
        assert cov.chars == cov.tokens
