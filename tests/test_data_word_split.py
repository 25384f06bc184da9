"""Word tokenizers that split by the Treebank rules (`tokenizer.split=treebank`), checked against nltk itself.

COCO's training split attaches final periods ("at night.") where its validation split detaches them ("at
night ."); a whitespace word tokenizer makes those different words, the treebank split the same ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nltk.tokenize import NLTKWordTokenizer, word_tokenize

from seqgen.data.hf_tokenizer import hf_tokenizer
from seqgen.errors import SeqgenError
from seqgen.run_folder import load_config
from seqgen.tokenization import TokenizerConfig, WordTokenizer, load_tokenizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not (DATA / "coco" / "train.txt").is_file(), reason=f"{DATA} is missing")
LINES = [
    "a man on a bed at night.",
    "a man on a bed at night .",
    'He said "don\'t go" to st. louis, then left!',
    "two dogs: one black, one white; both happy?",
    "  leading and trailing spaces.  ",
    "",
    "cannot gonna wanna",
]


def test_treebank_words_are_nltks_words_and_attached_periods_meet_detached_ones():
    tok = WordTokenizer.train(LINES, split="treebank")
    for line in LINES:
        assert [tok.id_to_token(i) for i in tok.encode(line)] == word_tokenize(line, preserve_line=True)
    assert tok.encode(LINES[0]) == tok.encode(LINES[1])
    assert WordTokenizer.train(LINES).encode(LINES[0]) != WordTokenizer.train(LINES).encode(LINES[1])


def test_treebank_char_ends_are_nltks_spans():
    tok = WordTokenizer.train(LINES, split="treebank")
    spans = NLTKWordTokenizer()
    for line in LINES:
        assert tok.char_ends(line) == [end for _, end in spans.span_tokenize(line)], line


def test_the_split_is_saved_and_the_default_files_are_unchanged(tmp_path):
    tok = WordTokenizer.train(LINES, split="treebank")
    tok.save(tmp_path / "tb")
    again = load_tokenizer(tmp_path / "tb")
    assert again.split == "treebank" and again.encode(LINES[2]) == tok.encode(LINES[2])
    WordTokenizer.train(LINES).save(tmp_path / "ws")
    # Older folders keep their digest: the default split is not written.
    assert '"split"' not in (tmp_path / "ws" / "tokenizer.json").read_text()
    assert load_tokenizer(tmp_path / "ws").split == "whitespace"


def test_the_config_key_reaches_the_tokenizer_and_a_bad_value_is_refused():
    cfg = load_config(None, ["tokenizer.split=treebank"])
    assert cfg.tokenizer.split == "treebank"
    with pytest.raises(SeqgenError, match="tokenizer.split"):
        load_config(None, ["tokenizer.split=13a"])
    with pytest.raises(SeqgenError, match="unknown word split"):
        WordTokenizer(["<pad>", "<s>", "</s>", "<unk>"], split="bpe")
    assert TokenizerConfig().split == "whitespace"  # the default never changes what a run measures


@needs_data
def test_the_hugging_face_form_encodes_coco_captions_alike():
    lines = (DATA / "coco" / "train.txt").read_text(encoding="utf-8").splitlines()[:2000]
    tok = WordTokenizer.train(lines, split="treebank")
    fast = hf_tokenizer(tok)
    same = sum(fast(line, add_special_tokens=False)["input_ids"] == tok.encode(line) for line in lines)
    assert same >= 0.99 * len(lines)


def test_a_regex_split_finds_the_pattern_and_its_positions(tmp_path):
    cfg = load_config(None, ["tokenizer.split=regex", r"tokenizer.pattern=\w+|[^\w\s]"])
    assert cfg.tokenizer.pattern == r"\w+|[^\w\s]"
    tok = WordTokenizer.train(["a dog, on the beach."], split="regex", pattern=cfg.tokenizer.pattern)
    line = "the cat, on a beach."
    assert [tok.id_to_token(i) for i in tok.encode(line)] == ["the", "<unk>", ",", "on", "a", "beach", "."]
    assert tok.char_ends(line) == [3, 7, 8, 11, 13, 19, 20]
    tok.save(tmp_path / "re")
    assert load_tokenizer(tmp_path / "re").encode(line) == tok.encode(line)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["tokenizer.split=regex"], "needs tokenizer.pattern"),
        (["tokenizer.split=regex", "tokenizer.pattern=("], "is not a regular expression"),
        (["tokenizer.split=regex", "tokenizer.pattern=a*"], "matches the empty string"),
        (["tokenizer.pattern=\\w+"], "only with tokenizer.split=regex"),
    ],
)
def test_a_bad_regex_split_is_refused_naming_the_key(overrides, says):
    with pytest.raises(SeqgenError, match="tokenizer.pattern") as err:
        load_config(None, overrides)
    assert says in str(err.value)


def test_the_hugging_face_form_of_a_regex_split_encodes_alike():
    lines = ["a dog, on the beach.", "two cats: one (black) and one white!", "don't stop"]
    tok = WordTokenizer.train(lines, split="regex", pattern=r"\w+|[^\w\s]")
    fast = hf_tokenizer(tok)
    for line in [*lines, "a cat, on the dog."]:
        assert fast(line, add_special_tokens=False)["input_ids"] == tok.encode(line), line
