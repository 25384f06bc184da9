"""Generators: incremental forward, log-likelihood, sampling (against exact enumeration), save/load, learning.

References are computed independently of the code under test: full forward passes of the underlying
transformers model (`gen.lm`), hand sums of log-softmax entries, greedy decoding by full recomputation, and
exact enumeration of every sequence of a vocabulary-3 model.
"""

from __future__ import annotations

import itertools
import json
import math
import os

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM

from seqgen.errors import SeqgenError
from seqgen.models import Generator, build_generator, load_generator
from seqgen.models.config import ModelConfig

KINDS = ["lstm", "gru", "transformer"]
PAD, BOS, EOS = 0, 1, 2


def make(
    kind: str, vocab: int = 7, *, tie: bool = False, layers: int = 2, dropout: float = 0.0, seed: int = 0
):
    torch.manual_seed(seed)
    cfg = ModelConfig(
        kind=kind,
        emb_dim=16,
        hidden_dim=16 if tie else 24,
        num_layers=layers,
        dropout=dropout,
        tie_embeddings=tie,
        d_model=16,
        num_heads=2,
        context=32,
    )
    return build_generator(cfg, vocab, pad_id=PAD, bos_id=BOS, eos_id=EOS).eval()


def ref_logits(gen: Generator, ids: torch.Tensor) -> torch.Tensor:
    """Logits straight from the transformers model, full recomputation, no cache."""
    with torch.no_grad():
        return gen.lm(input_ids=ids, use_cache=False).logits


def sharpen(gen: Generator, std: float, seed: int = 0) -> None:
    """Redraw every parameter from N(0, std^2): far-from-uniform, context-dependent distributions (a test
    with power; a freshly initialised model is close to uniform and nearly ignores its context)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in gen.parameters():
            p.normal_(0.0, std, generator=g)


def random_rows(n: int, length: int, vocab: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(3, vocab, (n, length), generator=g)
    x[:, 0] = BOS
    return x


# ---------------------------------------------------------------------------------------------- forward


@pytest.mark.parametrize("kind", KINDS)
def test_incremental_forward_equals_full_forward(kind):
    gen = make(kind)
    x = random_rows(3, 12, 7)
    full, state = gen(x)
    assert state is None and full.shape == (3, 12, 7)
    logits, state = gen(x[:, :4], return_state=True)
    pieces = [logits]
    for t in range(4, 12):  # one token at a time: positions must continue from the state's length
        logits, state = gen(x[:, t : t + 1], state)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, 1), full, atol=1e-5, rtol=0)


def test_transformer_training_forward_builds_no_cache():
    gen = make("transformer")
    seen = []
    gen.lm.register_forward_pre_hook(lambda m, a, kw: seen.append(kw.get("use_cache")), with_kwargs=True)
    _, state = gen(random_rows(2, 5, 7))
    assert seen == [False] and state is None
    _, state = gen(random_rows(2, 5, 7), return_state=True)
    assert seen[-1] is True and state.get_seq_length() == 5


def test_padding_after_the_end_does_not_change_earlier_logits():
    for kind in KINDS:
        gen = make(kind)
        x = random_rows(2, 8, 7)
        padded = x.clone()
        padded[:, 5:] = PAD
        torch.testing.assert_close(gen(padded)[0][:, :5], gen(x)[0][:, :5], atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_labels_give_the_usual_causal_lm_loss(kind):
    gen = make(kind)
    x = random_rows(3, 8, 7)
    labels = x.clone()
    labels[0, 5:] = -100  # ignored positions, as in transformers
    logits = ref_logits(gen, x)
    per_token = torch.log_softmax(logits[:, :-1], -1).gather(-1, x[:, 1:, None]).squeeze(-1)
    keep = labels[:, 1:] != -100
    torch.testing.assert_close(
        gen.lm(input_ids=x, labels=labels).loss, -per_token[keep].mean(), atol=1e-5, rtol=0
    )


# ---------------------------------------------------------------------------------------------- log_prob


@pytest.mark.parametrize("kind", KINDS)
def test_log_prob_equals_hand_sum_and_respects_mask(kind):
    gen = make(kind)
    x = random_rows(3, 9, 7)
    x[0, 6], x[0, 7:] = EOS, PAD  # row 0 ends early and is padded
    logits = ref_logits(gen, x)
    lp = torch.log_softmax(logits.double(), -1)
    by_hand = [sum(lp[b, t - 1, x[b, t]].item() for t in range(1, 9) if x[b, t] != PAD) for b in range(3)]
    torch.testing.assert_close(
        gen.log_prob(x).double(), torch.tensor(by_hand, dtype=torch.double), atol=1e-4, rtol=0
    )

    mask = torch.zeros(3, 9)
    mask[:, 0] = 1.0  # position 0 (BOS) is never scored, whatever the mask says
    mask[1, 2], mask[2, 3:5] = 1.0, 1.0
    expected = [0.0, lp[1, 1, x[1, 2]].item(), lp[2, 2, x[2, 3]].item() + lp[2, 3, x[2, 4]].item()]
    torch.testing.assert_close(
        gen.log_prob(x, mask).double(), torch.tensor(expected, dtype=torch.double), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("kind", KINDS)
def test_log_prob_is_differentiable(kind):
    gen = make(kind).train()
    gen.log_prob(random_rows(4, 6, 7)).sum().backward()
    grads = {name: p.grad for name, p in gen.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert gen.lm.get_input_embeddings().weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------------- sampling


def greedy_by_recomputation(gen: Generator, max_len: int, prefix: torch.Tensor) -> torch.Tensor:
    rows = torch.cat([torch.full((len(prefix), 1), BOS), prefix], 1)
    ended = torch.zeros(len(prefix), dtype=torch.bool)
    while rows.size(1) < max_len and not ended.all():
        nxt = ref_logits(gen, rows)[:, -1].argmax(-1)
        nxt = torch.where(ended, torch.tensor(PAD), nxt)
        ended |= nxt == EOS
        rows = torch.cat([rows, nxt[:, None]], 1)
    return rows


@pytest.mark.parametrize("kind", KINDS)
def test_cold_sampling_and_top_k_1_equal_greedy_decoding(kind):
    gen = make(kind, vocab=11)
    sharpen(gen, 0.5)
    prefix = torch.tensor([[4, 5], [6, 7], [8, 9], [10, 3]])
    expected = greedy_by_recomputation(gen, 20, prefix)
    assert len({tuple(r) for r in expected.tolist()}) > 1  # rows differ: the test sees the prefix
    g = torch.Generator().manual_seed(0)
    for kwargs in ({"temperature": 1e-6}, {"top_k": 1}, {"temperature": 0.0}):
        got = gen.sample(4, 20, prefix=prefix, generator=g, **kwargs)
        assert torch.equal(got, expected), kwargs


@pytest.mark.parametrize("kind", KINDS)
def test_sampling_is_deterministic_given_a_seed(kind):
    gen = make(kind, dropout=0.3).train()  # sampling must switch dropout off, then restore train mode
    a = gen.sample(8, 20, generator=torch.Generator().manual_seed(5))
    b = gen.sample(8, 20, generator=torch.Generator().manual_seed(5))
    c = gen.sample(8, 20, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert gen.training and gen.lm.training
    gen.eval()
    gen.sample(2, 5)
    assert not gen.training and not gen.lm.training


@pytest.mark.parametrize("kind", KINDS)
def test_rows_end_with_eos_then_pad(kind):
    gen = make(kind)
    max_len = 30
    out = gen.sample(64, max_len, generator=torch.Generator().manual_seed(0))
    assert (out[:, 0] == BOS).all() and out.size(1) <= max_len
    ends = []
    for row in out.tolist():
        if EOS in row[1:]:
            end = row.index(EOS, 1)
            assert all(tok == PAD for tok in row[end + 1 :])
            ends.append(end + 1)
        else:
            ends.append(max_len)
    assert sum(e < max_len for e in ends) > 32  # most rows ended (P(EOS) ~ 1/7 per step)
    assert out.size(1) == max(ends)  # the loop stops as soon as every row has ended


def test_stream_mode_samples_through_eos():
    gen = make("lstm")
    out = gen.sample(32, 30, stop_at_eos=False, generator=torch.Generator().manual_seed(0))
    assert out.shape == (32, 30)
    after_eos = [row[row.index(EOS) + 1 :] for row in out.tolist() if EOS in row[:-1]]
    assert any(tok != PAD for rest in after_eos for tok in rest)


@pytest.mark.parametrize("kind", KINDS)
def test_prefix_tokens_are_kept(kind):
    gen = make(kind)
    shared = gen.sample(5, 12, prefix=torch.tensor([3, 4, 5]), generator=torch.Generator().manual_seed(0))
    assert (shared[:, :4] == torch.tensor([BOS, 3, 4, 5])).all()
    per_row = torch.randint(3, 7, (5, 2))
    out = gen.sample(5, 12, prefix=per_row, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, 1:3], per_row)
    full = gen.sample(5, 3, prefix=per_row)  # prefix fills max_len: nothing to sample
    assert full.shape == (5, 3) and torch.equal(full[:, 1:], per_row)


def test_bad_sampling_settings_raise_seqgen_error():
    gen = make("transformer")
    for kwargs in ({"temperature": -1.0}, {"top_p": 0.0}, {"top_k": -2}, {"prefix": torch.tensor([99])}):
        with pytest.raises(SeqgenError):
            gen.sample(2, 10, **kwargs)
    # context 32: rows of 33 tokens feed the model 32 of them (the last is only sampled); 34 do not fit
    assert gen.sample(2, 33, stop_at_eos=False).shape == (2, 33)
    with pytest.raises(SeqgenError, match="needs 33 positions, more than the Transformer's context of 32"):
        gen.sample(2, 34)
    with pytest.raises(SeqgenError):
        gen.sample(2, 3, prefix=torch.tensor([3, 4, 5]))


def enumerate_probs(gen: Generator, stop_at_eos: bool, temperature: float = 1.0, top_k: int = 0) -> dict:
    """Exact probability of every outcome of sample(n, max_len=3) for a vocabulary of 3: by hand, from
    full-forward logits, with top-k filtering and temperature applied to each conditional."""

    def cond(prefix: list[int]) -> torch.Tensor:
        logits = ref_logits(gen, torch.tensor([prefix]))[0, -1].double() / temperature
        if top_k:
            logits[logits < logits.topk(top_k).values[-1]] = -math.inf
        return logits.softmax(-1)

    probs = {}
    for x1, x2 in itertools.product(range(3), repeat=2):
        if stop_at_eos and x1 == EOS:
            probs[(BOS, EOS, PAD)] = cond([BOS])[EOS].item()
            continue
        probs[(BOS, x1, x2)] = (cond([BOS])[x1] * cond([BOS, x1])[x2]).item()
    return probs


@pytest.mark.parametrize("kind", KINDS)
def test_sampled_sequences_follow_the_model_distribution(kind):
    gen = make(kind, vocab=3, layers=1)
    sharpen(gen, 0.5, seed=1)
    n = 20000
    cases = [
        ({"stop_at_eos": False}, enumerate_probs(gen, False)),
        ({"stop_at_eos": True}, enumerate_probs(gen, True)),
        ({"stop_at_eos": True, "temperature": 0.7, "top_k": 2}, enumerate_probs(gen, True, 0.7, 2)),
    ]
    # The test has power: outcomes are far from uniform and the second token depends on the first.
    first = cases[0][1]
    cond_x2 = [
        [first[(BOS, a, b)] / sum(first[(BOS, a, c)] for c in range(3)) for b in range(3)] for a in range(3)
    ]
    assert max(first.values()) > 3 * min(first.values())
    assert max(abs(cond_x2[0][b] - cond_x2[1][b]) for b in range(3)) > 0.05

    for i, (kwargs, probs) in enumerate(cases):
        assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-9)
        out = gen.sample(n, 3, generator=torch.Generator().manual_seed(i), **kwargs)
        if out.size(1) < 3:
            out = torch.nn.functional.pad(out, (0, 3 - out.size(1)), value=PAD)
        counts = {}
        for row in map(tuple, out.tolist()):
            counts[row] = counts.get(row, 0) + 1
        assert set(counts) <= {k for k, p in probs.items() if p > 0}, kwargs
        for seq, p in probs.items():
            tol = 4.5 * math.sqrt(p * (1 - p) / n) + 1e-4  # binomial standard errors
            assert abs(counts.get(seq, 0) / n - p) <= tol, (kwargs, seq, counts.get(seq, 0) / n, p)
        # and log_prob agrees with the enumeration (mask: every position up to the end of the row)
        seqs = torch.tensor(list(probs))
        mask = torch.ones_like(seqs, dtype=torch.float)
        if kwargs["stop_at_eos"]:  # pad (token 0) is a sampleable token here: mask only what follows EOS
            mask[:, 2] = (seqs[:, 1] != EOS).float()
        if "temperature" not in kwargs:
            with torch.no_grad():
                lp = gen.log_prob(seqs, mask).double()
            torch.testing.assert_close(
                lp.exp(), torch.tensor(list(probs.values()), dtype=torch.double), atol=1e-5, rtol=0
            )


# ---------------------------------------------------------------------------------------------- save / load


@pytest.mark.parametrize(
    ("kind", "tie"), [("lstm", False), ("lstm", True), ("gru", True), ("transformer", True)]
)
def test_save_load_round_trip(tmp_path, kind, tie):
    gen = make(kind, tie=tie)
    x = random_rows(2, 7, 7)
    folder = tmp_path / "gen"
    gen.save(folder)
    assert {"config.json", "model.safetensors"} <= {p.name for p in folder.iterdir()}
    loaded = load_generator(folder)
    auto = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
    assert loaded.kind == gen.kind and (loaded.pad_id, loaded.bos_id, loaded.eos_id) == (PAD, BOS, EOS)
    assert loaded.vocab_size == 7 and loaded.num_parameters() == gen.num_parameters()
    assert torch.equal(loaded(x)[0], gen(x)[0])
    assert torch.equal(auto(input_ids=x).logits, gen(x)[0])
    for lm in (loaded.lm, auto):
        shared = lm.get_input_embeddings().weight is lm.get_output_embeddings().weight
        assert shared == tie
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        stored = set(f.keys())
    assert ("lm_head.weight" in stored) == (not tie)  # a tied matrix is stored once


def test_tied_weights_stay_tied_when_trained_after_load(tmp_path):
    make("lstm", tie=True).save(tmp_path / "g")
    gen = load_generator(tmp_path / "g").train()
    opt = torch.optim.SGD(gen.parameters(), lr=1.0)
    gen.log_prob(random_rows(2, 5, 7)).sum().neg().backward()
    opt.step()
    assert torch.equal(gen.lm.embed.weight, gen.lm.lm_head.weight)


def test_save_overwrites_atomically(tmp_path):
    folder = tmp_path / "gen"
    make("gru", seed=0).save(folder)
    second = make("gru", seed=1)
    second.save(folder)
    x = random_rows(2, 5, 7)
    assert torch.equal(load_generator(folder)(x)[0], second(x)[0])
    assert os.listdir(tmp_path) == ["gen"]  # no temporary or old folders left behind


def test_load_errors_are_one_line_seqgen_errors(tmp_path):
    folder = tmp_path / "gen"
    make("lstm").save(folder)
    weights, config = folder / "model.safetensors", folder / "config.json"
    good_weights, good_config = weights.read_bytes(), config.read_text()

    def check(match: str) -> None:
        with pytest.raises(SeqgenError, match=match) as err:
            load_generator(folder)
        assert "\n" not in str(err.value) and str(folder) in str(err.value)

    weights.write_bytes(good_weights[: len(good_weights) // 2])
    check("corrupt")
    weights.write_bytes(os.urandom(4096))
    check("corrupt")
    weights.write_bytes(b"")
    check("corrupt")
    weights.unlink()
    check("no model.safetensors")
    weights.write_bytes(good_weights)
    cfg = json.loads(good_config)
    config.write_text(json.dumps({**cfg, "hidden_dim": 48}))
    check("shape")
    config.write_text(json.dumps({**cfg, "num_layers": 3}))
    check("does not match")
    config.write_text(json.dumps({**cfg, "cell": "transformer-xl"}))
    check("cell")
    config.write_text("{not json")
    check("config")
    config.unlink()
    check("no config.json")
    with pytest.raises(SeqgenError, match="not found"):
        load_generator(tmp_path / "missing")


def test_pretrained_folder_is_loaded_and_checked(tmp_path):
    gen = make("transformer")
    gen.save(tmp_path / "pre")
    cfg = ModelConfig(kind="transformer", pretrained=str(tmp_path / "pre"))
    again = build_generator(cfg, 7, pad_id=PAD, bos_id=BOS, eos_id=EOS)
    x = random_rows(2, 6, 7)
    assert torch.equal(again(x)[0], gen(x)[0])
    with pytest.raises(SeqgenError, match="vocabulary"):
        build_generator(cfg, 9)
    with pytest.raises(SeqgenError, match="not found"):
        build_generator(ModelConfig(kind="transformer", pretrained=str(tmp_path / "nope")), 7)
    with pytest.raises(SeqgenError, match="lstm"):
        build_generator(ModelConfig(kind="lstm", pretrained=str(tmp_path / "pre")), 7)


def test_impossible_model_settings_raise_seqgen_error():
    with pytest.raises(SeqgenError, match="emb_dim == model.hidden_dim"):  # refused by ModelConfig itself
        build_generator(ModelConfig(kind="lstm", emb_dim=8, hidden_dim=16, tie_embeddings=True), 7)
    with pytest.raises(SeqgenError, match="divide"):
        build_generator(ModelConfig(kind="transformer", d_model=10, num_heads=3), 7)
    with pytest.raises(SeqgenError, match="outside the vocabulary"):
        build_generator(ModelConfig(kind="gru"), 7, eos_id=7)


# ---------------------------------------------------------------------------------------------- learning


@pytest.mark.parametrize("kind", KINDS)
def test_a_few_adam_steps_reduce_the_loss(kind):
    gen = make(kind).train()
    # rows cycle through 3 4 5 6 from different offsets: only the first token is uncertain (floor ~0.15 nats)
    batch = torch.tensor([[BOS] + [3 + (i + t) % 4 for t in range(8)] + [EOS] for i in range(8)])
    opt = torch.optim.Adam(gen.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = -gen.log_prob(batch).sum() / (batch[:, 1:] != PAD).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.8  # about log(7): the untrained model knows nothing
    assert losses[-1] < 0.5 * losses[0], losses
