"""LM score and reverse LM score (DESIGN §6 realism (b), (c)).

- **LM score**: NLL in nats per token of generated samples under a *reference LM* trained by maximum
  likelihood on the real training split. Lower = samples look more like real text (quality; a collapsed
  model that repeats one likely sentence scores very well here).
- **Reverse LM score**: train a *fresh* LM on the generated samples, with early stopping on the real
  validation split, and report its NLL per token on the real test split. Lower = the samples cover the real
  distribution (diversity/coverage; a collapsed model scores badly here).

Both LMs use fixed recipes (`LMSettings`: the reference LM's, and the smaller reverse LM's `reverse_*`, see
`seqgen.metrics.score_settings`) and one word tokenizer trained on the real training split,
never the tokenizer of the run under evaluation: scores of char-, word- and subword-level runs on one corpus
are then in the same units (nats per word token, EOS counted) and comparable. Its words are split by the
Treebank rules (`LMSettings.split`), as BLEU's are. A sample word that the training
split never contains becomes `<unk>`, which the reference LM has never seen as a target: such samples are
(rightly) costly.

The reference LM is cached per corpus under ``$SEQGEN_CACHE`` (default ``~/.cache/seqgen``), keyed by the
content of the train and validation splits and the reference recipe, so every run on a corpus is scored by the
same LM. Training either LM shows a progress bar when asked (`seqgen.metrics.progress`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqgen.data.corpus_tokenizer import cache_root
from seqgen.errors import SeqgenError
from seqgen.metrics.likelihood import heldout_nll
from seqgen.metrics.progress import progress_bar
from seqgen.metrics.score_settings import LMSettings

# Bump when the training recipe below changes, so stale cached reference LMs are not reused (2: the word
# tokenizer splits by LMSettings.split, treebank by default).
CACHE_VERSION = 2


@dataclass
class FittedLM:
    tokenizer: Any
    generator: Any
    info: dict[str, Any]


# ------------------------------------------------------------------------------------------ training
def encode_rows(tokenizer: Any, texts: Sequence[str], max_len: int) -> list[list[int]]:
    """BOS + tokens + EOS per text; a row longer than `max_len` keeps BOS and its first max_len-1 tokens."""
    rows = []
    for ids in tokenizer.encode_batch(list(texts)):
        row = [tokenizer.bos_id, *ids, tokenizer.eos_id]
        rows.append(row[:max_len])
    return rows


def rows_nll(generator: Any, rows: Sequence[Sequence[int]], *, batch_size: int = 256) -> tuple[float, int]:
    """(NLL per target token, target tokens) of `rows` under `generator`, EOS counted, pad excluded; rows of
    similar length are batched together (less padding)."""
    device = next(generator.parameters()).device
    out = heldout_nll(
        generator,
        rows,
        pad_id=generator.pad_id,
        batch_size=batch_size,
        device=device,
        by_length=True,
        progress=False,
    )
    return out["nll"], out["tokens"]


def fit_lm(
    train_rows: Sequence[Sequence[int]],
    valid_rows: Sequence[Sequence[int]],
    vocab_size: int,
    settings: LMSettings,
    *,
    device: torch.device | str = "cpu",
    progress: bool = False,
    desc: str = "LM",
    length_bucket: int = 1,
    ema: float = 0.0,
) -> tuple[Any, dict[str, Any]]:
    """An LM trained by MLE on `train_rows`, stopped early on `valid_rows`; the best-validation weights.

    Deterministic for `settings.seed`: initialisation runs under a forked, seeded RNG and the batch order
    comes from a seeded numpy generator, so the caller's random state is neither used nor changed.
    `progress`: a bar named `desc` over the steps (see `seqgen.metrics.progress`). `length_bucket` > 1:
    batches of similar lengths (`_minibatches`); 1: plain random batches, as the reference LM is trained.
    `ema` > 0: an exponential moving average of the weights (this decay per step, from the initial weights)
    is what is evaluated and kept; 0: the weights themselves, as for the reference LM.
    """
    from seqgen.models import build_generator
    from seqgen.models.config import ModelConfig

    if len(train_rows) == 0:
        raise SeqgenError("cannot train an LM score model on zero sentences")
    if len(valid_rows) == 0:
        raise SeqgenError("LM scores need a non-empty validation split for early stopping")
    s = settings
    model_cfg = ModelConfig(
        kind=s.kind,
        emb_dim=s.emb_dim,
        hidden_dim=s.hidden_dim,
        num_layers=s.num_layers,
        dropout=s.dropout,
        d_model=s.hidden_dim,
        context=s.max_len,
    )
    with (
        torch.random.fork_rng(devices=[]),
        progress_bar(s.max_steps, desc, progress=progress, unit="step") as bar,
    ):
        torch.manual_seed(s.seed)
        gen = build_generator(model_cfg, vocab_size).to(device)  # dropout masks then follow from the seed too
        step, best = _train_early_stopped(gen, train_rows, valid_rows, s, device, bar, (length_bucket, ema))
    gen.load_state_dict(best[2])
    gen.eval()
    return gen, {
        "steps": step,
        "best_step": best[1],
        "valid_nll": best[0],
        "train_sentences": len(train_rows),
    }


def _train_early_stopped(
    gen: Any,
    train_rows: Sequence[Sequence[int]],
    valid_rows: Sequence[Sequence[int]],
    s: LMSettings,
    device: torch.device | str,
    bar: Any,
    batching: tuple[int, float],
) -> tuple[int, tuple[float, int, dict[str, torch.Tensor]]]:
    """Adam steps on minibatches of seeded passes over `train_rows`, evaluated every `eval_every` steps, until
    `max_steps` or `patience` evaluations without a better validation NLL: (steps taken, best), where best is
    (validation NLL, step, a copy of the weights) of the best evaluation (the initial weights at inf). `bar`
    (a tqdm bar) advances once a step and shows the validation NLL. `batching`: (length bucket, EMA decay)
    as `fit_lm` takes them; with a decay, the moving average of the weights is evaluated and kept."""
    length_bucket, ema = batching
    opt = torch.optim.Adam(gen.parameters(), lr=s.lr)
    batches = _minibatches(np.random.default_rng(s.seed), train_rows, s.batch_size, length_bucket)
    judged = copy.deepcopy(gen) if ema > 0 else gen  # the weights evaluated and kept
    best = (math.inf, 0, copy.deepcopy(judged.state_dict()))
    evals_since_best = 0
    step = 0
    while step < s.max_steps:
        _mle_step(gen, opt, [train_rows[i] for i in next(batches)], device)
        if ema > 0:  # the average starts at the initial weights: an early evaluation judges a shrunk model
            with torch.no_grad():
                for avg, now in zip(judged.parameters(), gen.parameters(), strict=True):
                    avg.lerp_(now, 1 - ema)
        step += 1
        bar.update()
        if step % s.eval_every == 0 or step == s.max_steps:
            valid_nll, _ = rows_nll(judged, valid_rows)
            if not math.isfinite(valid_nll):
                raise SeqgenError(f"LM score model diverged (validation NLL {valid_nll}) at step {step}")
            bar.set_postfix_str(f"valid NLL {valid_nll:.3f}", refresh=False)
            if valid_nll < best[0]:
                best, evals_since_best = (valid_nll, step, copy.deepcopy(judged.state_dict())), 0
            else:
                evals_since_best += 1
                if evals_since_best >= s.patience:
                    break
    return step, best


def _minibatches(
    rng: np.random.Generator, rows: Sequence[Sequence[int]], batch_size: int, bucket: int
) -> Iterator[list[int]]:
    """Row indices of each minibatch, without end: seeded passes over the rows, a permutation each. With
    `bucket` > 1, each run of bucket x batch_size permuted rows is sorted by length and cut into batches, and
    the pass's batches are shuffled: still a random pass, with batches of similar lengths (less padding)."""
    n, order = len(rows), []
    while True:
        if bucket <= 1:  # consecutive batches of one stream of permutations
            if len(order) < batch_size:
                order += rng.permutation(n).tolist()
            idx, order = order[:batch_size], order[batch_size:]
            yield idx
            continue
        perm, span, batches = rng.permutation(n).tolist(), batch_size * bucket, []
        for start in range(0, n, span):
            chunk = sorted(perm[start : start + span], key=lambda i: len(rows[i]))
            batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
        yield from (batches[k] for k in rng.permutation(len(batches)))


def _mle_step(
    gen: Any, opt: torch.optim.Optimizer, rows: Sequence[Sequence[int]], device: torch.device | str
) -> None:
    """One train-mode step of mean token NLL on `rows` (padded into one batch), gradient norm clipped to 1."""
    from seqgen.data.encoding import collate
    from seqgen.objectives.mle import token_nll_sum

    gen.train()
    batch = collate(rows, gen.pad_id).to(device)
    nll, n = token_nll_sum(gen, batch, gen.pad_id)
    loss = nll / n.clamp(min=1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(gen.parameters(), 1.0)
    opt.step()


# ------------------------------------------------------------------------------------- reference LM
def _texts_digest(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\n")
    return h.hexdigest()


def word_tokenizer(train_texts: Sequence[str], settings: LMSettings) -> Any:
    """The word tokenizer of the LM scores and the classifier test, trained on the real training split."""
    from seqgen.tokenization import WordTokenizer

    return WordTokenizer.train(
        train_texts, min_freq=settings.min_freq, max_vocab=settings.max_vocab, split=settings.split
    )


def reference_lm_from_run(
    run_path: str | Path, settings: LMSettings, device: torch.device | str = "cpu"
) -> FittedLM:
    """A user's own reference LM: the best generator of a seqgen run trained on the real corpus, with its
    tokenizer. The reverse LM then uses that tokenizer and `settings`."""
    from seqgen.run_folder import RunFolder
    from seqgen.tokenization import load_tokenizer

    run = RunFolder(run_path).require()
    tok = load_tokenizer(run.tokenizer_dir)
    gen = run.load_generator("best", tok).to(device).eval()
    return FittedLM(tok, gen, {"source": f"run {run.path}", "settings": settings.reference_fields()})


def reference_lm(
    train_texts: Sequence[str],
    valid_texts: Sequence[str],
    settings: LMSettings | None = None,
    *,
    cache_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> FittedLM:
    """The reference LM of a corpus: from the cache, or trained (word tokenizer + `settings`) and cached.

    The cache key covers the content of both splits, the reference recipe (`LMSettings.reference_fields`; the
    reverse LM's settings do not touch it) and the recipe version, so a changed corpus or setting trains a new
    LM and never silently reuses an old one. `progress`: a bar while it trains.
    """
    from seqgen.atomic import atomic_dir
    from seqgen.models import load_generator
    from seqgen.tokenization import load_tokenizer

    settings = settings or LMSettings()
    key_data = {
        "version": CACHE_VERSION,
        "train": _texts_digest(train_texts),
        "valid": _texts_digest(valid_texts),
        "settings": settings.reference_fields(),
    }
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(cache_dir or cache_root()) / "reference-lm" / key
    info_path = folder / "info.json"
    if info_path.is_file():
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
            tok = load_tokenizer(folder / "tokenizer")
            gen = load_generator(folder / "generator").to(device)
            return FittedLM(tok, gen, {**info, "cache": str(folder), "cached": True})
        except (SeqgenError, OSError, ValueError):
            pass  # a damaged cache entry is retrained below and replaced atomically
    tok = word_tokenizer(train_texts, settings)
    train_rows = encode_rows(tok, train_texts, settings.max_len)
    valid_rows = encode_rows(tok, valid_texts, settings.max_len)
    desc = f"reference LM (trained once per corpus, {len(train_texts)} sentences)"
    gen, fit = fit_lm(
        train_rows, valid_rows, tok.vocab_size, settings, device=device, progress=progress, desc=desc
    )
    info = {**fit, "vocab_size": tok.vocab_size, "settings": key_data["settings"], "key": key_data}
    try:
        with atomic_dir(folder) as tmp:
            tok.save(Path(tmp) / "tokenizer")
            gen.save(Path(tmp) / "generator")
            (Path(tmp) / "info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    except OSError as e:  # an unwritable cache costs a retrain next time, never the evaluation
        info["cache_error"] = f"{e.strerror or e}: {getattr(e, 'filename', '') or folder}"
    return FittedLM(tok, gen, {**info, "cache": str(folder), "cached": False})


# ------------------------------------------------------------------------------------------- scores
def lm_score(ref: FittedLM, samples: Sequence[str]) -> dict[str, float]:
    """NLL/token of `samples` under the reference LM, and the share of sample tokens it does not know."""
    rows = encode_rows(ref.tokenizer, samples, ref.info["settings"]["max_len"])
    nll, tokens = rows_nll(ref.generator, rows)
    unk = sum(r.count(ref.tokenizer.unk_id) for r in rows)
    return {"lm_score": nll, "lm_score_tokens": tokens, "lm_score_unk_fraction": unk / max(tokens, 1)}


def reverse_lm_score(
    ref: FittedLM,
    samples: Sequence[str],
    valid_texts: Sequence[str],
    test_texts: Sequence[str],
    *,
    settings: LMSettings | None = None,
    seed: int | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    desc: str = "reverse LM",
) -> dict[str, Any]:
    """NLL/token on the real test split of a fresh LM trained on `samples` (reference tokenizer), stopped
    early on the real validation split.

    `settings`: the fresh LM is `settings.reverse_recipe(seed)` (seed default: settings.seed), stopped early
    on `settings.reverse_valid_sentences` evenly spaced validation sentences (0 = all), its batches grouped by
    length per `settings.reverse_length_bucket`, judged and kept as a moving average of its weights per
    `settings.reverse_ema`. Without `settings` it is the reference LM's own recipe
    (ref.info["settings"]), stopped early on the whole validation split.
    """
    if settings is None:
        recipe, valid, bucket = LMSettings(**ref.info["settings"]), list(valid_texts), 1
    else:
        recipe = settings.reverse_recipe(settings.seed if seed is None else seed)
        valid = evenly_spaced(valid_texts, settings.reverse_valid_sentences)
        bucket = settings.reverse_length_bucket
    tok, max_len = ref.tokenizer, recipe.max_len
    rows = encode_rows(tok, samples, max_len)
    valid_rows = encode_rows(tok, valid, max_len)
    ema = settings.reverse_ema if settings is not None else 0.0
    kw = dict(device=device, progress=progress, desc=desc, length_bucket=bucket, ema=ema)
    gen, fit = fit_lm(rows, valid_rows, tok.vocab_size, recipe, **kw)
    nll, tokens = rows_nll(gen, encode_rows(tok, test_texts, max_len))
    return {
        "reverse_lm_score": nll,
        "reverse_lm_tokens": tokens,
        "reverse_lm_steps": fit["steps"],
        "reverse_lm_best_step": fit["best_step"],
    }


def evenly_spaced(texts: Sequence[str], k: int) -> list[str]:
    """`k` of `texts` spread evenly over it, in order (all of them when k is 0 or at least their number)."""
    n = len(texts)
    if k <= 0 or k >= n:
        return list(texts)
    return [texts[i * n // k] for i in range(k)]
