"""Classifier two-sample test (DESIGN §6, realism (a)): can a fresh discriminator tell real from generated?

Protocol of `classifier_two_sample_test` (Lopez-Paz & Oquab 2017), every choice reported in its result:

1. Each set is shuffled with its own seeded permutation, then both are cut to the size n of the smaller one
   (the bigger set loses its surplus, drawn at random by the shuffle: ``n_dropped_real``/``n_dropped_fake``),
   so a classifier cannot score above 0.5 by predicting the majority class.
2. The first n // 2 of each shuffled set train a freshly initialised discriminator (`build_discriminator`,
   binary cross-entropy, Adam, ``steps`` minibatches of ``batch_size`` drawn without replacement from the
   pooled training rows, one reshuffle per pass); the other n - n // 2 of each are the test set.
3. On the test set: ``accuracy`` (a row is called real when its logit is > 0) and ``auc`` (`roc_auc` of the
   logits of real rows against those of generated rows). 0.5 means the discriminator cannot tell the two
   apart; 1.0 means it always can.

Sequences are lists of token ids (BOS ... EOS, any lengths); they are right-padded with ``pad_id`` per batch.
The result is a pure function of the inputs and the settings: the shuffles and batch order come from a
`torch.Generator` seeded with ``seed``, and initialisation and dropout draw from torch's global RNG inside
`torch.random.fork_rng`, seeded with ``seed`` and restored afterwards (CPU results are bit-identical for a
seed on one machine and thread count; GPU kernels may not be).

`ClassifierSettings` (in `seqgen.metrics.score_settings`, re-exported here) is the recipe `seqgen evaluate`
uses; `PREVIOUS_CLASSIFIER_SETTINGS` is the one it used before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqgen.errors import SeqgenError
from seqgen.metrics.progress import progress_bar
from seqgen.metrics.score_settings import PREVIOUS_CLASSIFIER_SETTINGS, ClassifierSettings
from seqgen.models.discriminator import SequenceDiscriminator, build_discriminator

__all__ = ["PREVIOUS_CLASSIFIER_SETTINGS", "ClassifierSettings", "classifier_two_sample_test", "roc_auc"]
MIN_SEQUENCES = 4  # per set: two to train on and two to test on
EVAL_BATCH = 256
# The discriminator's hyper-parameters that the result reports (under "discriminator").
REPORTED_SETTINGS = (
    "kind",
    "vocab_size",
    "pad_token_id",
    "emb_dim",
    "hidden_dim",
    "num_layers",
    "filter_widths",
    "num_filters",
    "num_heads",
    "max_len",
    "dropout",
    "cell",
)


def roc_auc(scores_pos: Sequence[float] | np.ndarray | torch.Tensor, scores_neg: Any) -> float:
    """Area under the ROC curve: P(s_pos > s_neg) + P(s_pos == s_neg) / 2 over all positive/negative pairs.

    This is the Mann-Whitney U statistic divided by n_pos * n_neg, computed exactly with integer counts: for
    each positive score, the negatives strictly below it and those equal to it (binary search in the sorted
    negatives), so O((n_pos + n_neg) log n_neg) instead of all pairs.
    """
    pos, neg = _scores(scores_pos, "positive"), _scores(scores_neg, "negative")
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return float((2 * int(below.sum()) + int(ties.sum())) / (2 * len(pos) * len(neg)))


def _scores(scores: Any, which: str) -> np.ndarray:
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().double().numpy()
    arr = np.asarray(scores, dtype=np.float64).ravel()
    if arr.size == 0:
        raise SeqgenError(f"roc_auc needs at least one {which} score")
    if np.isnan(arr).any():
        raise SeqgenError(f"roc_auc: a {which} score is NaN")
    return arr


def classifier_two_sample_test(
    real: Sequence[Sequence[int]],
    fake: Sequence[Sequence[int]],
    *,
    vocab_size: int,
    pad_id: int,
    kind: str = "cnn",
    seed: int = 0,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-3,
    device: str | torch.device = "cpu",
    progress: bool = False,
    desc: str = "classifier",
    **disc_kwargs: Any,
) -> dict[str, Any]:
    """Train a fresh `kind` discriminator on half of `real` vs half of `fake`, test it on the other halves.

    Returns ``accuracy`` and ``auc`` on the held-out halves (0.5 = indistinguishable), ``train_loss`` (mean
    over the last 10% of steps, to spot an under-trained classifier), and every setting needed to reproduce
    the figure: seed, kind, steps, batch_size, lr, n_train_real, n_train_fake, n_test_real, n_test_fake,
    n_dropped_real, n_dropped_fake and ``discriminator`` (the model's hyper-parameters; `disc_kwargs` go to
    `build_discriminator`, with max_len defaulting to the longest sequence). Too few sequences, empty
    sequences, ids outside the vocabulary or impossible settings raise a one-line `SeqgenError`. `progress`:
    a bar named `desc` over the training steps (`seqgen.metrics.progress`).
    """
    _check_settings(steps, batch_size, lr)
    (real_ids, real_len), (fake_ids, fake_len), width = _encode_sets(real, fake, vocab_size, pad_id)
    disc_kwargs.setdefault("max_len", width)

    gen = torch.Generator().manual_seed(seed)
    real_keep, fake_keep = _balanced_shuffles(len(real_ids), len(fake_ids), gen)
    n = len(real_keep)
    n_train = n // 2
    train_ids, train_len, train_y = _pool(
        (real_ids, real_len, real_keep[:n_train]), (fake_ids, fake_len, fake_keep[:n_train])
    )
    device = torch.device(device)
    # torch.manual_seed seeds every CUDA device too, so every one is forked and restored.
    with (
        torch.random.fork_rng(devices=range(torch.cuda.device_count())),
        progress_bar(steps, desc, progress=progress, unit="step") as bar,
    ):
        torch.manual_seed(seed)
        disc = build_discriminator(kind, vocab_size, pad_id, **disc_kwargs).to(device)
        losses = _train(disc, (train_ids, train_len, train_y), steps, batch_size, lr, gen, device, bar)
    real_scores = _score(disc, real_ids[real_keep[n_train:]], real_len[real_keep[n_train:]], device)
    fake_scores = _score(disc, fake_ids[fake_keep[n_train:]], fake_len[fake_keep[n_train:]], device)
    return {
        **_classifier_figures(real_scores, fake_scores, losses),
        "seed": seed,
        "kind": kind,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        **_counts(n, n_train, len(real_ids), len(fake_ids)),
        "discriminator": {key: getattr(disc.config, key) for key in REPORTED_SETTINGS},
    }


def _counts(n: int, n_train: int, n_real: int, n_fake: int) -> dict[str, int]:
    """How many rows of each set trained, tested, and were dropped to balance the sets."""
    return {
        "n_train_real": n_train,
        "n_train_fake": n_train,
        "n_test_real": n - n_train,
        "n_test_fake": n - n_train,
        "n_dropped_real": n_real - n,
        "n_dropped_fake": n_fake - n,
    }


def _balanced_shuffles(n_real: int, n_fake: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded permutation of each set's rows (real drawn first), both cut to the smaller set's size."""
    n = min(n_real, n_fake)
    return torch.randperm(n_real, generator=gen)[:n], torch.randperm(n_fake, generator=gen)[:n]


def _classifier_figures(
    real_scores: np.ndarray, fake_scores: np.ndarray, losses: list[float]
) -> dict[str, float]:
    """accuracy and auc on the test rows, and train_loss: the mean loss of the last 10% of the steps."""
    correct = int((real_scores > 0).sum()) + int((fake_scores <= 0).sum())
    tail = losses[-max(1, len(losses) // 10) :]
    return {
        "accuracy": correct / (len(real_scores) + len(fake_scores)),
        "auc": roc_auc(real_scores, fake_scores),
        "train_loss": float(sum(tail) / len(tail)),
    }


def _check_settings(steps: int, batch_size: int, lr: float) -> None:
    """One-line errors for training settings that cannot train a classifier."""
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if value < 1:
            raise SeqgenError(f"two-sample test: {name} must be at least 1, got {value}")
    if not lr > 0:
        raise SeqgenError(f"two-sample test: lr must be positive, got {lr}")


def _encode_sets(
    real: Sequence[Sequence[int]], fake: Sequence[Sequence[int]], vocab_size: int, pad_id: int
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor], int]:
    """((ids, lengths) of real, (ids, lengths) of fake, width): both sets checked and padded to one width."""
    real_len = _lengths(real, "real")
    fake_len = _lengths(fake, "fake")
    width = int(max(real_len.max(), fake_len.max()))
    real_ids = _encode(real, "real", width, vocab_size, pad_id)
    fake_ids = _encode(fake, "fake", width, vocab_size, pad_id)
    return (real_ids, real_len), (fake_ids, fake_len), width


def _lengths(seqs: Sequence[Sequence[int]], which: str) -> torch.Tensor:
    """(N,) lengths of one set, after checking that it has enough sequences and none is empty."""
    if len(seqs) < MIN_SEQUENCES:
        raise SeqgenError(
            f"two-sample test: the {which} set has {len(seqs)} sequences; at least {MIN_SEQUENCES} are needed"
        )
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    if (lengths == 0).any():
        raise SeqgenError(f"two-sample test: {which} sequence {int((lengths == 0).nonzero()[0])} is empty")
    return lengths


def _encode(
    seqs: Sequence[Sequence[int]], which: str, width: int, vocab_size: int, pad_id: int
) -> torch.Tensor:
    """(N, width) ids of one set, right-padded with `pad_id`; every id must be in the vocabulary."""
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        row = torch.as_tensor(s, dtype=torch.long)
        if row.dim() != 1 or ((row < 0) | (row >= vocab_size)).any():
            raise SeqgenError(
                f"two-sample test: {which} sequence {i} is not a list of token ids in [0, {vocab_size})"
            )
        ids[i, : len(row)] = row
    return ids


def _pool(
    real: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    fake: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The chosen rows of both sets, each given as (ids, lengths, rows), in one tensor; labels 1 = real."""
    ids = torch.cat([real[0][real[2]], fake[0][fake[2]]])
    lengths = torch.cat([real[1][real[2]], fake[1][fake[2]]])
    labels = torch.cat([torch.ones(len(real[2])), torch.zeros(len(fake[2]))])
    return ids, lengths, labels


def _train(
    disc: SequenceDiscriminator,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    steps: int,
    batch_size: int,
    lr: float,
    gen: torch.Generator,
    device: torch.device,
    bar: Any,
) -> list[float]:
    """`steps` Adam steps of binary cross-entropy on minibatches of reshuffled passes of `data` (ids, lengths,
    labels); each step's loss. `bar` (a tqdm bar) advances once a step."""
    ids, lengths, labels = data
    optimizer = torch.optim.Adam(disc.parameters(), lr=lr)
    disc.train()
    losses: list[torch.Tensor] = []  # kept on the device: no host sync per step
    order = torch.randperm(len(ids), generator=gen)
    pos = 0
    for _ in range(steps):
        if pos >= len(order):
            order, pos = torch.randperm(len(ids), generator=gen), 0
        rows = order[pos : pos + batch_size]
        pos += batch_size
        logits = _logits(disc, ids[rows], lengths[rows], device)
        loss = F.binary_cross_entropy_with_logits(logits, labels[rows].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        bar.update()
    return torch.stack(losses).double().cpu().tolist()


@torch.no_grad()
def _score(
    disc: SequenceDiscriminator, ids: torch.Tensor, lengths: torch.Tensor, device: torch.device
) -> np.ndarray:
    """Sequence logits of all rows (eval mode: no dropout), as float64 on the CPU."""
    disc.eval()
    parts = [
        _logits(disc, ids[i : i + EVAL_BATCH], lengths[i : i + EVAL_BATCH], device).double().cpu()
        for i in range(0, len(ids), EVAL_BATCH)
    ]
    return torch.cat(parts).numpy()


def _logits(
    disc: SequenceDiscriminator, ids: torch.Tensor, lengths: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """Logits of one batch, cut to its longest row (padding does not change the result, only the cost)."""
    width = int(lengths.max())
    return disc(ids[:, :width].to(device), lengths=lengths.to(device)).logits
