"""Held-out likelihood in units that compare across tokenizers (DESIGN §6): bits per character and NLL per
word beside NLL per token, counted on the split's text; and `seqgen compare` ranking NLL/token only among runs
sharing a tokenizer, bits per character across them.

References: the test split is a file written here, so its characters and words are hand sums over its lines
(line break = EOS = one character and one word); the total nats are recomputed from the saved generator with
a plain log-softmax, not through seqgen's likelihood code; ln 2 is math.log(2).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import random
from pathlib import Path

import pytest
import torch

from seqgen.cli import main
from seqgen.evaluation import compare, evaluate_run, load_evaluation, render
from seqgen.evaluation.tokenizer_groups import RULE, identity_of, likelihood_ranking, tokenizer_identity
from seqgen.report import best_indices, format_table
from seqgen.run_folder import RunFolder
from seqgen.tokenization import load_tokenizer

TINY = [
    "model.kind=lstm",
    "model.emb_dim=16",
    "model.hidden_dim=32",
    "train.max_steps=3",
    "train.batch_size=8",
    "train.progress=false",
    "train.tensorboard=false",
    "train.num_samples=0",
]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "ve", "du"]


def _lines(n: int, seed: int) -> list[str]:
    """Short lines of made-up words (so sentencepiece splits words into pieces); some have double spaces
    and a trailing space, whose characters count too."""
    rng = random.Random(seed)
    words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(60)]
    out = []
    for i in range(n):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(2, 7)))
        out.append(line.replace(" ", "  ", 1) + " " if i % 7 == 0 else line)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """(folder holding train.txt and test.txt, the test lines): 200 training lines, 30 test lines."""
    root = tmp_path_factory.mktemp("units")
    (root / "train.txt").write_text("\n".join(_lines(200, 0)) + "\n", encoding="utf-8")
    test = _lines(30, 1)
    (root / "test.txt").write_text("\n".join(test) + "\n", encoding="utf-8")
    return root, test


def _train(corpus: tuple[Path, list[str]], name: str, *items: str) -> Path:
    root, _ = corpus
    out = root / name
    data = [f"data.train={root / 'train.txt'}", f"data.test={root / 'test.txt'}", "data.holdout=10"]
    assert main(["train", *data, *TINY, *items, f"out={out}"]) == 0
    return out


@pytest.fixture(scope="module")
def word_run(corpus):
    return _train(corpus, "word", "tokenizer.kind=word")


@pytest.fixture(scope="module")
def spm_run(corpus):
    return _train(corpus, "spm", "tokenizer.kind=sentencepiece", "tokenizer.vocab_size=40")


@pytest.fixture(scope="module")
def char_run(corpus):
    return _train(corpus, "char", "tokenizer.kind=char", "data.max_len=128")


def _evaluate(run: Path) -> dict:
    return evaluate_run(run, metrics=("nll",), num_samples=0)


def _hand_counts(lines: list[str]) -> tuple[int, int]:
    return sum(len(t) + 1 for t in lines), sum(len(t.split()) + 1 for t in lines)


@torch.no_grad()
def _reference_nats(run: Path, lines: list[str], max_len: int) -> tuple[float, int]:
    """(total nats, target tokens) of `lines` under the run's best generator, by plain log-softmax."""
    tok = load_tokenizer(run / "tokenizer")
    gen = RunFolder(run).load_generator("best", tok).eval()
    nats, tokens = 0.0, 0
    for line in lines:
        row = torch.tensor([[tok.bos_id, *tok.encode(line), tok.eos_id][:max_len]])
        logits, _ = gen(row[:, :-1])
        logp = torch.log_softmax(logits.double(), dim=-1)
        nats -= logp.gather(-1, row[:, 1:, None]).sum().item()
        tokens += row.shape[1] - 1
    return nats, tokens


def _end_of_word(line: str, k: int) -> int:
    """The index just past the k-th whitespace word of `line`."""
    seen = 0
    for i, c in enumerate(line):
        if not c.isspace() and (i + 1 == len(line) or line[i + 1].isspace()):
            seen += 1
            if seen == k:
                return i + 1
    raise AssertionError(f"fewer than {k} words: {line!r}")


# ------------------------------------------------------------------------------------------ evaluate


def test_char_run_bits_per_char_is_nll_per_token_over_ln2_exactly(char_run, corpus):
    ev = _evaluate(char_run)
    chars, words = _hand_counts(corpus[1])
    assert ev["chars"] == chars == ev["tokens"]  # one token per character, EOS = the line break
    assert ev["words"] == words
    assert ev["bits_per_char"] == ev["nll_token"] / math.log(2)  # exactly, not approximately
    assert ev["bpc"] == ev["bits_per_char"] and ev["nll"] == ev["nll_token"]
    nats, _ = _reference_nats(char_run, corpus[1], 128)
    assert ev["nll_word"] == pytest.approx(nats / words, rel=1e-6)
    assert ev["settings"]["likelihood_text"]["truncated"] == 0


def test_word_run_units_follow_their_definitions(word_run, corpus):
    ev = _evaluate(word_run)
    chars, words = _hand_counts(corpus[1])
    nats, tokens = _reference_nats(word_run, corpus[1], 64)
    assert ev["tokens"] == tokens == words == ev["words"]  # one token per word, EOS one word per line
    assert ev["chars"] == chars
    assert ev["nll_token"] == ev["nll"] == pytest.approx(nats / tokens, rel=1e-6)
    assert ev["bits_per_char"] == pytest.approx(nats / (math.log(2) * chars), rel=1e-6)
    assert ev["nll_word"] == ev["nll_token"]  # same nats over the same count
    assert "bpc" not in ev
    ident = ev["settings"]["tokenizer"]
    assert ident == tokenizer_identity(load_tokenizer(word_run / "tokenizer")) and ident["kind"] == "word"


def test_sentencepiece_run_units_count_the_text_not_the_pieces(spm_run, corpus):
    ev = _evaluate(spm_run)
    chars, words = _hand_counts(corpus[1])
    nats, tokens = _reference_nats(spm_run, corpus[1], 64)
    assert ev["tokens"] == tokens > words  # pieces are finer than words on this corpus
    assert (ev["chars"], ev["words"]) == (chars, words)
    assert ev["nll_token"] == pytest.approx(nats / tokens, rel=1e-6)
    assert ev["bits_per_char"] == pytest.approx(nats / (math.log(2) * chars), rel=1e-6)
    assert ev["nll_word"] == pytest.approx(nats / words, rel=1e-6)
    assert ev["settings"]["tokenizer"]["kind"] == "sentencepiece"


def test_truncated_sentences_count_only_the_text_of_their_kept_tokens(corpus, caplog):
    run = _train(corpus, "word-short", "tokenizer.kind=word", "data.max_len=5")  # BOS + 4 tokens kept
    with caplog.at_level(logging.WARNING, logger="seqgen"):
        ev = _evaluate(run)
    chars = words = cut = 0
    for line in corpus[1]:
        w = line.split()
        if len(w) + 2 <= 5:
            chars, words = chars + len(line) + 1, words + len(w) + 1
        else:  # 4 words kept, no EOS: the text up to the end of the 4th word
            cut += 1
            end = _end_of_word(line, 4)
            assert line[:end].split() == w[:4] and line[end:].split() == w[4:]
            chars, words = chars + end, words + 4
    assert cut > 0
    assert (ev["chars"], ev["words"], ev["tokens"]) == (chars, words, words)
    text = ev["settings"]["likelihood_text"]
    assert (text["truncation"], text["truncated"], text["dropped"]) == ("truncate", cut, 0)
    assert text["chars"] + text["left_out_chars"] == _hand_counts(corpus[1])[0]
    assert "truncated" in caplog.text and "different text" in caplog.text


def test_dropped_sentences_count_nothing(corpus):
    run = _train(corpus, "word-drop", "tokenizer.kind=word", "data.max_len=6", "data.truncation=drop")
    ev = _evaluate(run)
    kept = [t for t in corpus[1] if len(t.split()) + 2 <= 6]
    assert 0 < len(kept) < len(corpus[1])
    assert (ev["chars"], ev["words"]) == _hand_counts(kept)
    assert ev["settings"]["likelihood_text"]["dropped"] == len(corpus[1]) - len(kept)
    nats, _ = _reference_nats(run, kept, 6)
    assert ev["bits_per_char"] == pytest.approx(nats / (math.log(2) * ev["chars"]), rel=1e-6)


def test_char_stream_counts_line_breaks_and_leaves_out_block_starts(corpus):
    run = _train(corpus, "char-stream", "tokenizer.kind=char", "data.mode=stream", "data.max_len=32")
    ev = _evaluate(run)
    stream = _hand_counts(corpus[1])[0]  # every character and line break of the test split
    blocks = stream // 32
    assert ev["chars"] == ev["tokens"] == blocks * 31  # each block's first character is context
    assert ev["settings"]["likelihood_text"]["left_out_chars"] == stream - blocks * 31
    assert ev["bits_per_char"] == ev["nll_token"] / math.log(2) == ev["bpc"]


# ------------------------------------------------------------------------------------------- compare


def test_compare_ranks_nll_per_token_only_within_a_tokenizer(word_run, spm_run):
    def evaluate(path, split):
        return evaluate_run(path, metrics=("nll",), split=split, num_samples=0)

    per_split = compare([word_run, spm_run], labels=["word", "spm"], evaluate=evaluate)
    evs = {ev["label"]: ev for ev in per_split["test"]}
    winner = min(evs, key=lambda k: evs[k]["bits_per_char"])
    md, _ = render(per_split, fmt="md")
    assert RULE in md and "the runs use 2 tokenizers" in md
    assert f"best held-out likelihood across tokenizers, by bits per character: {winner}" in md
    rows = [line.split("|")[1:-1] for line in md.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0]]
    nll, bits = header.index("NLL ↓"), header.index("bits/char ↓")
    cells = {r[0].strip(): [c.strip() for c in r] for r in rows[2:]}
    assert not any(cells[k][nll].startswith("**") for k in cells)  # no best NLL/token across tokenizers
    assert [k for k in cells if cells[k][bits].startswith("**")] == [winner]
    text, _ = render(per_split, fmt="csv")
    table = list(csv.reader(io.StringIO("\n".join(x for x in text.splitlines() if not x.startswith("#")))))
    best = dict(zip(table[0], table[-1], strict=True))
    assert best["nll"] == "" and best["ppl"] == "" and best["bits_per_char"] == winner


def test_issue_example_word_run_is_not_best_by_nats_per_word_against_pieces(tmp_path):
    """The issue's numbers: 4.62 nats/word vs 5.25 nats/piece, but the pieces win per character."""

    def saved(name, kind, nll, bits, digest):
        ev = {"run": str(tmp_path / name), "split": "test", "nll": nll, "ppl": math.exp(nll)}
        ev["settings"] = {"tokenizer": {"kind": kind, "vocab_size": 10, "digest": digest}}
        ev["bits_per_char"], ev["chars"] = bits, 1000
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(ev), encoding="utf-8")
        return path

    items = [saved("word", "word", 4.62, 1.31, "a" * 64), saved("spm", "sentencepiece", 5.25, 1.27, "b" * 64)]
    items.append(saved("spm2", "sentencepiece", 5.30, 1.29, "b" * 64))  # shares spm's tokenizer
    md, _ = render(compare(items), fmt="md")
    rows = {r.split("|")[1].strip(): r.split("|") for r in md.splitlines() if r.startswith("| ")}
    nll = [c.strip() for c in rows["run"]].index("NLL ↓")
    assert rows["word"][nll].strip() == "4.6200"  # the lowest NLL, but per word: not marked
    assert rows["spm"][nll].strip() == "**5.2500**"  # best among the runs sharing its tokenizer
    assert rows["spm2"][nll].strip() == "5.3000"
    assert "by bits per character: spm (1.2700 bits/char)" in md


def test_runs_sharing_a_tokenizer_rank_nll_across_all_of_them(tmp_path):
    evs = []
    for name, nll in (("a", 2.0), ("b", 1.5)):
        ev = {"run": name, "split": "test", "nll": nll, "settings": {}}
        ev["settings"]["tokenizer"] = {"kind": "word", "vocab_size": 10, "digest": "c" * 64}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(ev), encoding="utf-8")
        evs.append(path)
    md, _ = render(compare(evs), fmt="md")
    assert RULE in md and "all runs share one tokenizer (word, vocabulary 10" in md
    assert "| b | **1.5000** |" in md


def test_an_older_evaluation_gets_its_tokenizer_from_the_run_folder(word_run, spm_run, tmp_path):
    """A saved evaluation without settings.tokenizer: the identity is read from RUN/tokenizer/."""
    items = []
    for run in (word_run, spm_run):
        ev = _evaluate(run)
        del ev["settings"]["tokenizer"]
        items.append(tmp_path / f"{run.name}.json")
        items[-1].write_text(json.dumps(ev), encoding="utf-8")
    ranking = likelihood_ranking([{**load_evaluation(p), "label": p.stem} for p in items])
    assert ranking.groups == [None, None] and not ranking.shared  # two tokenizers, one run each
    assert identity_of(load_evaluation(items[0])) == tokenizer_identity(
        load_tokenizer(word_run / "tokenizer")
    )
    gone = {"run": str(tmp_path / "deleted"), "settings": {}}
    assert identity_of(gone) is None


def test_best_is_marked_within_each_group_and_never_for_an_ungrouped_row():
    rows = [{"run": r, "nll": v} for r, v in (("a", 3.0), ("b", 2.0), ("c", 1.0), ("d", 4.0), ("e", 5.0))]
    assert best_indices(rows, "nll") == [2]
    assert best_indices(rows, "nll", groups=["g", "g", None, "h", "h"]) == [1, 3]
    md = format_table(rows, rank_within={"nll": ["g", "g", None, "h", "h"]})
    assert "| b | **2.0000** |" in md and "| c | 1.0000 |" in md and "| d | **4.0000** |" in md


def test_different_amounts_of_text_are_a_warning_in_the_header(tmp_path):
    notes = likelihood_ranking(
        [
            {"label": "w", "chars": 900, "settings": {"tokenizer": {"kind": "word", "digest": "a" * 64}}},
            {"label": "s", "chars": 1000, "settings": {"tokenizer": {"kind": "word", "digest": "a" * 64}}},
        ]
    ).notes
    assert any(n.startswith("WARNING: the likelihoods cover different text") and "w 900" in n for n in notes)
