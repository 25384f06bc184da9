"""FED and MAUVE on sentence embeddings (seqgen/metrics/embeddings.py), against independent references.

Embeddings come from a tiny random BERT and a word-level tokenizer that the tests build and save to a
temporary folder (no network, no downloaded weights); pooling is checked against a hand-written forward pass
on one unpadded text. The Fréchet distance is checked against closed forms (1-D, commuting covariances), the
eigenvalues of Sx Sy, and scipy's classic sqrtm formula where scipy is importable. MAUVE tests skip where the
`embeddings` extra (mauve-text) is not installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seqgen.errors import SeqgenError
from seqgen.metrics.embeddings import (
    MAUVE_MISSING,
    embed_texts,
    embedding_metrics,
    frechet_distance,
    mauve_score,
)

WORDS = "the a cat dog bird sat ran flew on under mat tree big small red blue quickly slowly".split()
SENTENCES = [
    "the cat sat on the mat",
    "a dog ran",
    "the big red bird flew quickly under the tree",
    "a small blue cat",
    "dog",
    "the the the zebra",  # "zebra" is unknown: [UNK]
]


def _word_tokenizer(vocab: dict[str, int], specials: bool) -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if not specials:  # GPT-2 style: no [CLS]/[SEP] and no pad token
        return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )


@pytest.fixture(scope="module")
def vocab() -> dict[str, int]:
    return {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory, vocab: dict[str, int]) -> Path:
    """A 2-layer, hidden-32 random BERT and a word-level tokenizer, saved like any model folder."""
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    _word_tokenizer(vocab, specials=True).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory, vocab: dict[str, int]) -> Path:
    """A tiny GPT-2 whose tokenizer has no pad token and adds no special tokens."""
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    _word_tokenizer(vocab, specials=False).save_pretrained(folder)
    torch.manual_seed(1)
    GPT2LMHeadModel(
        GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=32, n_layer=2, n_head=4)
    ).save_pretrained(folder)
    return folder


def _reference(folder: Path, text: str, pooling: str) -> np.ndarray:
    """The pooled embedding of one text, by hand: one unpadded forward pass, no seqgen code."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    ids = torch.tensor([tok(text)["input_ids"]])
    with torch.no_grad():
        hidden = model(input_ids=ids).last_hidden_state[0].double()
    return (hidden.mean(0) if pooling == "mean" else hidden[0]).numpy()


def _assert_one_line(err: pytest.ExceptionInfo, *needles: str) -> None:
    msg = str(err.value)
    assert "\n" not in msg and msg
    for needle in needles:
        assert needle in msg, msg


# ---------------------------------------------------------------- embed_texts


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_embeddings_equal_an_unpadded_forward_pass_whatever_the_batch(bert_dir: Path, pooling: str) -> None:
    # batch_size=4 mixes lengths 2..11 tokens in one padded batch; every row must still be its own text's
    # embedding, in the input order.
    got = embed_texts(SENTENCES, bert_dir, batch_size=4, pooling=pooling)
    assert got.shape == (len(SENTENCES), 32) and got.dtype == np.float64
    for row, text in zip(got, SENTENCES, strict=True):
        np.testing.assert_allclose(row, _reference(bert_dir, text, pooling), atol=1e-5, rtol=0)


def test_padding_in_a_batch_does_not_change_a_sentence(bert_dir: Path) -> None:
    short, long = "a dog ran", "the big red bird flew quickly under the tree on the mat"
    alone = embed_texts([short], bert_dir)[0]
    batched = embed_texts([long, short], bert_dir, batch_size=2)[1]
    np.testing.assert_allclose(batched, alone, atol=1e-5, rtol=0)
    assert not np.allclose(alone, embed_texts([long], bert_dir)[0])  # the texts do differ


def test_embeddings_are_deterministic_and_batch_size_free(bert_dir: Path) -> None:
    a = embed_texts(SENTENCES, bert_dir, batch_size=3)
    np.testing.assert_array_equal(a, embed_texts(SENTENCES, bert_dir, batch_size=3))
    np.testing.assert_allclose(a, embed_texts(SENTENCES, bert_dir, batch_size=1), atol=1e-5, rtol=0)


def test_max_length_truncates_keeping_the_special_tokens(bert_dir: Path) -> None:
    # 3 tokens = [CLS] the [SEP]: the long sentence becomes the one-word sentence "the".
    cut = embed_texts(["the cat sat on the mat"], bert_dir, max_length=3)
    np.testing.assert_allclose(cut, embed_texts(["the"], bert_dir), atol=1e-6, rtol=0)


def test_a_model_without_pad_token_or_specials(gpt2_dir: Path) -> None:
    got = embed_texts(SENTENCES, gpt2_dir, batch_size=6)
    assert got.shape == (len(SENTENCES), 32)
    for row, text in zip(got, SENTENCES, strict=True):
        np.testing.assert_allclose(row, _reference(gpt2_dir, text, "mean"), atol=1e-5, rtol=0)
    with pytest.raises(SeqgenError) as err:
        embed_texts(["the cat", ""], gpt2_dir)
    _assert_one_line(err, "text 1 is empty")


def test_bad_model_folders_give_one_line_errors(tmp_path: Path, bert_dir: Path) -> None:
    with pytest.raises(SeqgenError) as err:
        embed_texts(["a"], tmp_path / "missing")
    _assert_one_line(err, str(tmp_path / "missing"), "not available offline")
    with pytest.raises(SeqgenError) as err:
        embed_texts(["a"], "nobody-seqgen-test/no-such-model")  # a hub name that is not in the cache
    _assert_one_line(err, "nobody-seqgen-test/no-such-model", "not available offline")
    with pytest.raises(SeqgenError) as err:
        embed_texts(["a"], tmp_path)  # a folder, but no config.json
    _assert_one_line(err, str(tmp_path), "config.json")
    (tmp_path / "notes.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(SeqgenError) as err:
        embed_texts(["a"], tmp_path / "notes.txt")
    _assert_one_line(err, "notes.txt", "file")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for f in bert_dir.iterdir():
        (corrupt / f.name).write_bytes(f.read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(SeqgenError) as err:
        embed_texts(["a"], corrupt)
    _assert_one_line(err, str(corrupt))


@pytest.mark.parametrize(
    ("texts", "kw", "needle"),
    [
        ([], {}, "no texts"),
        (["a", 3], {}, "text 1"),
        (["a"], {"pooling": "max"}, "pooling"),
        (["a"], {"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_embedding_arguments(bert_dir: Path, texts: list, kw: dict, needle: str) -> None:
    with pytest.raises(SeqgenError) as err:
        embed_texts(texts, bert_dir, **kw)
    _assert_one_line(err, needle)


# ---------------------------------------------------------------- frechet_distance


def _hadamard(n: int) -> np.ndarray:
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def test_frechet_1d_closed_form() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(1.0, 2.0, size=(50, 1)), rng.normal(-0.5, 0.7, size=(80, 1))
    m1, m2, s1, s2 = x.mean(), y.mean(), x.std(ddof=1), y.std(ddof=1)
    assert frechet_distance(x, y) == pytest.approx((m1 - m2) ** 2 + (s1 - s2) ** 2, rel=1e-12)


def test_frechet_commuting_covariances_by_hand() -> None:
    # Columns 1..4 of an 8x8 Hadamard matrix are orthogonal +-1 vectors summing to 0, so scaled copies have
    # sample covariance exactly diag(scale^2 * 8/7) and the distance is |dmu|^2 + 8/7 * sum (a_i - b_i)^2.
    h = _hadamard(8)[:, 1:5]
    a, b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 0.5, 0.5, 1.0])
    mu_x, mu_y = np.array([0.0, 1.0, -1.0, 2.0]), np.array([1.0, 1.0, 0.0, 0.0])
    x, y = h * a + mu_x, h * b + mu_y
    expected = ((mu_x - mu_y) ** 2).sum() + 8 / 7 * ((a - b) ** 2).sum()
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-12)


def test_frechet_identical_symmetric_and_invariant() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    y = rng.normal(size=(30, 6)) + 0.3
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-10)
    d = frechet_distance(x, y)
    assert d > 0.1 and frechet_distance(y, x) == pytest.approx(d, rel=1e-10)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))  # a rotation and a shift applied to both sets
    shift = rng.normal(size=6)
    assert frechet_distance(x @ q + shift, y @ q + shift) == pytest.approx(d, rel=1e-9)


@pytest.mark.parametrize(("n", "dim"), [(200, 8), (10, 16)])  # full-rank, and fewer rows than dimensions
def test_frechet_matches_eigenvalues_of_sx_sy(n: int, dim: int) -> None:
    # Tr (Sx^1/2 Sy Sx^1/2)^1/2 = sum of the square roots of the eigenvalues of Sx Sy (similar matrices).
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(n, dim)), rng.normal(size=(n + 3, dim)) * 1.5 + 0.2
    sx, sy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    roots = np.sqrt(np.clip(np.linalg.eigvals(sx @ sy).real, 0.0, None)).sum()
    expected = ((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(sx) + np.trace(sy) - 2 * roots
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-8)


def test_frechet_matches_scipy_sqrtm_formula() -> None:
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 12)), rng.normal(size=(250, 12)) @ rng.normal(size=(12, 12)) * 0.5 + 1.0
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real  # the classic FID formula
    diff = x.mean(0) - y.mean(0)
    expected = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize(
    ("x", "y", "needle"),
    [
        (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2 rows"),
        (np.zeros((4, 3)), np.zeros((5, 2)), "columns"),
        (np.zeros(4), np.zeros((5, 1)), "2-D"),
        (np.full((4, 2), np.nan), np.zeros((5, 2)), "NaN"),
    ],
)
def test_frechet_bad_input(x: np.ndarray, y: np.ndarray, needle: str) -> None:
    with pytest.raises(SeqgenError) as err:
        frechet_distance(x, y)
    _assert_one_line(err, needle)


# ---------------------------------------------------------------- MAUVE


def test_mauve_identical_near_one_shifted_low_and_seeded() -> None:
    pytest.importorskip("mauve")
    rng = np.random.default_rng(4)
    p, q = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    shifted = q.copy()
    shifted[:, :4] += 2.0
    assert mauve_score(p, p) > 0.99
    same = mauve_score(p, q, seed=7)
    assert same > 0.9
    assert mauve_score(p, shifted, seed=7) < 0.3
    assert mauve_score(p, q, seed=7) == same
    assert 0.0 <= mauve_score(p, q, seed=8) <= 1.0


def test_mauve_without_the_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mauve", None)  # makes `import mauve` raise ImportError
    with pytest.raises(SeqgenError) as err:
        mauve_score(np.zeros((4, 2)), np.ones((4, 2)))
    assert str(err.value) == MAUVE_MISSING
    with pytest.raises(SeqgenError) as err:
        embedding_metrics(["a", "b"], ["c", "d"], "unused", metrics=("mauve",))
    assert str(err.value) == MAUVE_MISSING


# ---------------------------------------------------------------- embedding_metrics


def test_embedding_metrics_fed_records_its_settings(bert_dir: Path) -> None:
    samples, references = SENTENCES[:4], SENTENCES[2:]
    out = embedding_metrics(samples, references, bert_dir, metrics=("fed",), batch_size=2)
    # The same batching as the call under test: padding to another batch width changes float32 sums by ~1e-8.
    expected = frechet_distance(
        embed_texts(samples, bert_dir, batch_size=2), embed_texts(references, bert_dir, batch_size=2)
    )
    assert out["fed"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert "mauve" not in out
    assert out["model_dir"] == str(bert_dir.resolve()) and out["model_type"] == "bert"
    assert (
        out["pooling"],
        out["max_length"],
        out["n_samples"],
        out["n_references"],
        out["dim"],
        out["seed"],
    ) == (
        "mean",
        128,
        4,
        4,
        32,
        0,
    )


def test_embedding_metrics_with_mauve(bert_dir: Path) -> None:
    pytest.importorskip("mauve")
    samples = [
        f"the {a} {v} on the {b}"
        for a in ("cat", "dog", "bird")
        for v in ("sat", "ran")
        for b in ("mat", "tree")
    ]
    references = [
        f"a {c} {a} flew {s}"
        for c in ("big", "small", "red")
        for a in ("cat", "bird")
        for s in ("quickly", "slowly")
    ]
    out = embedding_metrics(samples, references, bert_dir, seed=3)
    p, q = embed_texts(references, bert_dir), embed_texts(samples, bert_dir)
    assert out["mauve"] == mauve_score(p, q, seed=3)
    assert out["fed"] == pytest.approx(frechet_distance(q, p), rel=1e-9)
    assert out["seed"] == 3 and out["mauve_settings"]["num_buckets"] == 2


def test_embedding_metrics_bad_arguments(bert_dir: Path) -> None:
    with pytest.raises(SeqgenError) as err:
        embedding_metrics(SENTENCES, SENTENCES, bert_dir, metrics=("fed", "bleu"))
    _assert_one_line(err, "bleu")
    with pytest.raises(SeqgenError) as err:
        embedding_metrics(SENTENCES[:1], SENTENCES, bert_dir, metrics=("fed",))
    _assert_one_line(err, "at least 2 samples")
