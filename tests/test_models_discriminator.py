"""Sequence discriminators: the two input paths agree, padding and the future are invisible, saved folders
load back identically (bad ones fail in one line), and a discriminator learns to tell two distributions apart.
"""

from __future__ import annotations

import json
import random

import pytest
import torch
import torch.nn.functional as F

from seqgen.data.caption_language import caption_language
from seqgen.errors import SeqgenError
from seqgen.models.discriminator import (
    SequenceDiscriminator,
    build_discriminator,
    load_discriminator,
    save_discriminator,
)

KINDS = ("cnn", "rnn", "transformer")
V, PAD, BOS, EOS = 12, 0, 1, 2
SMALL = dict(emb_dim=16, hidden_dim=16, num_filters=8, num_heads=2, max_len=32)


def small(kind: str, seed: int = 0, **kw) -> SequenceDiscriminator:
    return build_discriminator(kind, V, PAD, **{**SMALL, **kw}, seed=seed).eval()


def padded_batch(seed: int = 0) -> torch.Tensor:
    """(4, 10) rows of BOS, random tokens, EOS, right-padded: lengths 10, 7, 4 and 2."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, V, (4, 10), generator=g)
    ids[:, 0] = BOS
    for row, n in enumerate((10, 7, 4, 2)):
        ids[row, n - 1] = EOS
        ids[row, n:] = PAD
    return ids


def assert_one_line_error(excinfo: pytest.ExceptionInfo, *words: str) -> None:
    msg = str(excinfo.value)
    assert "\n" not in msg and msg, msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize("kind", KINDS)
def test_ids_and_one_hot_agree_and_the_one_hot_path_has_the_right_gradient(kind: str) -> None:
    disc = small(kind)
    ids = padded_batch()
    by_ids = disc(ids, return_token_logits=True)
    by_rows = disc(one_hot=F.one_hot(ids, V).float(), return_token_logits=True)
    torch.testing.assert_close(by_rows.logits, by_ids.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(by_rows.token_logits, by_ids.token_logits, atol=1e-5, rtol=0)
    # Without token logits the sequence logit is computed by a shorter route; it is the same number, and it is
    # the prefix logit at each row's last real token.
    torch.testing.assert_close(disc(ids).logits, by_ids.logits, atol=1e-5, rtol=0)
    last = (ids != PAD).sum(1) - 1
    assert torch.equal(by_ids.logits, by_ids.token_logits[torch.arange(4), last])

    # The gradient with respect to the soft rows, against finite differences (float64; soft, non-one-hot rows
    # like the interpolates of a gradient penalty; an explicit mask, as the argmax of soft rows may drift).
    disc64 = small(kind).double()
    rows = torch.softmax(
        torch.randn(2, 5, V, generator=torch.Generator().manual_seed(1), dtype=torch.float64), -1
    )
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    rows.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda r: disc64(one_hot=r, attention_mask=mask, return_token_logits=True).token_logits, (rows,)
    )
    disc64(one_hot=rows, attention_mask=mask).logits.sum().backward()
    assert rows.grad[0].abs().sum() > 0 and rows.grad[1, :3].abs().sum() > 0
    assert rows.grad[1, 3:].abs().sum() == 0  # padding has no influence, so no gradient


@pytest.mark.parametrize("kind", KINDS)
def test_padding_changes_nothing(kind: str) -> None:
    disc = small(kind)
    ids = padded_batch()
    base = disc(ids, return_token_logits=True)
    longer = torch.cat([ids, torch.full((4, 6), PAD)], dim=1)
    more = disc(longer, return_token_logits=True)
    torch.testing.assert_close(more.logits, base.logits, atol=1e-6, rtol=0)
    torch.testing.assert_close(more.token_logits[:, :10], base.token_logits, atol=1e-6, rtol=0)
    assert torch.all(more.token_logits[:, 10:] == 0) and torch.all(base.token_logits[2, 4:] == 0)
    # Each row alone, cut to its own length, scores as it does inside the padded batch.
    for row, n in enumerate((10, 7, 4, 2)):
        alone = disc(ids[row : row + 1, :n]).logits
        torch.testing.assert_close(alone, base.logits[row : row + 1], atol=1e-5, rtol=0)
    # Lengths and attention_mask say the same as the pad tokens.
    lengths = torch.tensor([10, 7, 4, 2])
    torch.testing.assert_close(disc(ids, lengths=lengths).logits, base.logits, atol=0, rtol=0)
    torch.testing.assert_close(
        disc(ids, attention_mask=(ids != PAD).long()).logits, base.logits, atol=0, rtol=0
    )


@pytest.mark.parametrize("kind", KINDS)
def test_token_logits_are_causal(kind: str) -> None:
    disc = small(kind)
    ids = padded_batch()[:1]  # one full row of 10
    base = disc(ids, return_token_logits=True).token_logits
    for t in range(1, 9):
        changed = ids.clone()
        changed[0, t + 1] = 3 + (int(ids[0, t + 1]) - 3 + 1) % (V - 3)  # another token at t + 1
        out = disc(changed, return_token_logits=True).token_logits
        torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1], atol=1e-6, rtol=0)
        assert (out[0, t + 1] - base[0, t + 1]).abs() > 1e-6  # the change is seen from t + 1 on


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind: str, tmp_path) -> None:
    disc = small(kind, dropout=0.1, filter_widths=(1, 3), num_layers=2, cell="gru")
    folder = tmp_path / "disc"
    save_discriminator(disc, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_discriminator(folder, vocab_size=V)
    settings = [{k: v for k, v in m.config.to_dict().items() if k != "_name_or_path"} for m in (disc, loaded)]
    assert not loaded.training and settings[0] == settings[1]
    ids = padded_batch(3)
    a, b = disc(ids, return_token_logits=True), loaded(ids, return_token_logits=True)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.token_logits, b.token_logits)
    save_discriminator(small(kind, seed=1), folder)  # overwriting replaces the folder
    assert not torch.equal(load_discriminator(folder)(ids).logits, a.logits)


def test_bad_folders_are_one_line_errors(tmp_path) -> None:
    folder = tmp_path / "disc"
    with pytest.raises(SeqgenError) as e:
        load_discriminator(folder)
    assert_one_line_error(e, "not found", str(folder))

    save_discriminator(small("cnn"), folder)
    with pytest.raises(SeqgenError) as e:
        load_discriminator(folder, vocab_size=V + 1)
    assert_one_line_error(e, "vocabulary", str(V), str(V + 1))

    weights = folder / "model.safetensors"
    good = weights.read_bytes()
    for bad in (good[: len(good) // 2], b"not a safetensors file", b""):
        weights.write_bytes(bad)
        with pytest.raises(SeqgenError) as e:
            load_discriminator(folder)
        assert_one_line_error(e, "model.safetensors")
    weights.unlink()
    with pytest.raises(SeqgenError) as e:
        load_discriminator(folder)
    assert_one_line_error(e, "no model.safetensors")
    weights.write_bytes(good)

    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text())
    for change, words in (
        ({"num_filters": 9}, ("shape",)),  # weights no longer fit
        ({"kind": "lstm"}, ("kind",)),  # impossible setting
        ({"model_type": "seqgen_rnn"}, ("seqgen_rnn", "not a seqgen discriminator")),
    ):
        cfg_path.write_text(json.dumps({**cfg, **change}))
        with pytest.raises(SeqgenError) as e:
            load_discriminator(folder)
        assert_one_line_error(e, *words)
    cfg_path.write_text("{not json")
    with pytest.raises(SeqgenError) as e:
        load_discriminator(folder)
    assert_one_line_error(e, "config")


def test_bad_settings_and_inputs() -> None:
    for kind, kw in (("lstm", {}), ("rnn", {"cell": "tanh"}), ("transformer", {"hidden_dim": 10})):
        with pytest.raises(SeqgenError) as e:
            build_discriminator(kind, V, PAD, **kw)
        assert_one_line_error(e, "invalid discriminator settings")
    with pytest.raises(SeqgenError) as e:
        build_discriminator("cnn", V, V)
    assert_one_line_error(e, "pad id")
    with pytest.raises(SeqgenError) as e:
        small("transformer", max_len=8)(padded_batch())
    assert_one_line_error(e, "max_len=8")


def test_seeded_build_is_reproducible_and_leaves_the_global_rng_alone() -> None:
    state = torch.get_rng_state()
    a, b, c = small("cnn", seed=5), small("cnn", seed=5), small("cnn", seed=6)
    assert torch.equal(torch.get_rng_state(), state)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


# ------------------------------------------------------------------------------------------------ learning


def caption_vs_random(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """n caption-language sentences (label 1) and n uniformly random sentences of the same lengths (label 0),
    as padded ids over the caption words (+ pad/bos/eos), shuffled together."""
    lang = caption_language()
    word_id = {w: i + 3 for i, w in enumerate(lang.vocab)}
    vocab = len(lang.vocab) + 3
    rng = random.Random(seed)
    real = [[BOS] + [word_id[w] for w in s.split()] + [EOS] for s in lang.sample(n, seed)]
    fake = [[BOS] + [rng.randrange(3, vocab) for _ in r[1:-1]] + [EOS] for r in real]
    rows = real + fake
    width = max(map(len, rows))
    ids = torch.tensor([r + [PAD] * (width - len(r)) for r in rows])
    labels = torch.cat([torch.ones(n), torch.zeros(n)])
    order = torch.randperm(2 * n, generator=torch.Generator().manual_seed(seed))
    return ids[order], labels[order], vocab


def train(kind: str, ids: torch.Tensor, labels: torch.Tensor, vocab: int, seed: int, steps: int):
    disc = build_discriminator(kind, vocab, PAD, emb_dim=32, hidden_dim=32, num_filters=16, seed=seed)
    opt = torch.optim.Adam(disc.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        rows = torch.randint(len(ids), (32,), generator=g)
        loss = F.binary_cross_entropy_with_logits(disc(ids[rows]).logits, labels[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return disc.eval()


@pytest.mark.parametrize("kind", KINDS)
def test_a_discriminator_learns_caption_language_from_random_tokens(kind: str) -> None:
    ids, labels, vocab = caption_vs_random(400, seed=0)
    disc = train(kind, ids, labels, vocab, seed=0, steps=80)
    test_ids, test_labels, _ = caption_vs_random(400, seed=1)  # other sentences: held out
    with torch.no_grad():
        accuracy = ((disc(test_ids).logits > 0).float() == test_labels).float().mean().item()
    assert accuracy > 0.9


def test_same_seed_same_trained_parameters() -> None:
    ids, labels, vocab = caption_vs_random(64, seed=0)
    a, b, c = (train("rnn", ids, labels, vocab, seed=s, steps=5) for s in (3, 3, 4))
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
