"""`seqgen evaluate RUN`: every number a comparison of runs needs, with every setting needed to reproduce it.

A run folder gets its held-out likelihood on one split (per token, per character and per word, with the
characters and words counted on the text the scored tokens stand for, so a sentence truncated at
data.max_len counts only its kept part: see seqgen.evaluation.heldout) and, for each sampling temperature,
sample metrics of
`num_samples` samples (seeded): Texygen BLEU against the split's sentences, Self-BLEU, LM score, reverse LM
score, the classifier two-sample test, exact oracle metrics on an oracle corpus, and FED/MAUVE from a local
embedding model. Definitions: DESIGN §6 and the docstrings of the `seqgen.metrics` modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqgen.data.config import BUILTIN_CORPORA
from seqgen.data.run_data import RunData, load_run_data
from seqgen.errors import SeqgenError
from seqgen.evaluation.heldout import heldout_likelihood
from seqgen.evaluation.metric_names import SAMPLE_METRICS, run_metrics
from seqgen.evaluation.oracle import exact_divergences
from seqgen.evaluation.samples import SampleScorer, SplitTexts
from seqgen.evaluation.tokenizer_groups import tokenizer_identity
from seqgen.metrics.lm_score import LMSettings
from seqgen.metrics.text_tokenize import _check_scheme
from seqgen.run_folder import RunConfig, RunFolder
from seqgen.tokenization import load_tokenizer

if TYPE_CHECKING:
    from seqgen.models import Generator
    from seqgen.tokenization import Tokenizer


def evaluate_run(
    run_path: str | Path,
    *,
    metrics: Sequence[str] | str | None = None,
    split: str = "test",
    checkpoint: str = "best",
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    num_samples: int = 1000,
    seed: int = 0,
    temperature: float | None = None,
    temperatures: Sequence[float] = (1.0,),
    tokenize: str = "treebank",
    lm_settings: LMSettings | None = None,
    reference_lm: str | Path | None = None,
    classifier: dict[str, Any] | None = None,
    embedding_model: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Held-out likelihood and per-temperature sample metrics of a run (see the module docstring).

    The result holds the held-out likelihood in every unit (seqgen.evaluation.heldout) at the top, "settings"
    with everything that defines the numbers, and "samples": one dict per temperature with its metrics.
    """
    say = log or (lambda _msg: None)
    temperatures = _checked_settings(num_samples, temperature, temperatures, batch_size, tokenize)
    run = RunFolder(run_path).require()
    cfg = run.load_config_for_reading()
    chosen, sample_metrics = _chosen_metrics(metrics, cfg, run, embedding_model, num_samples)
    run.generator_for(checkpoint)  # fail early, before the data is loaded, if there is none
    start = time.perf_counter()
    data, _, gen = _load_split(run, cfg, split, checkpoint, device)
    result, settings = _header(run, data, chosen, checkpoint, split)
    if "nll" in chosen:
        result.update(heldout_likelihood(gen, data, cfg.data, split, batch_size, device, say, settings))
    if "oracle" in chosen and cfg.data.train == "oracle":
        say("exact divergences over every oracle sequence")
        result.update(exact_divergences(gen, cfg.data))
    if sample_metrics:
        scorer = SampleScorer(
            sample_metrics,
            SplitTexts(cfg, split),
            tokenize=tokenize,
            lm_settings=lm_settings,
            reference_lm=reference_lm,
            classifier=classifier or {},
            embedding_model=embedding_model,
            seed=seed,
            device=device,
            say=say,
            label=run.path.name,
            progress=progress,  # bars only on a terminal (seqgen.metrics.progress)
        )
        settings.update(num_samples=num_samples, seed=seed, temperatures=list(temperatures))
        settings.update(max_len=cfg.data.max_len, **scorer.settings())
        n, max_len = num_samples, cfg.data.max_len
        result["samples"] = _sample_rows(scorer, gen, data.tokenizer, temperatures, n, max_len, seed, say)
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result


def _header(
    run: RunFolder, data: RunData, chosen: Sequence[str], checkpoint: str, split: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the result so far, its settings dict, filled in later): settings come first in the file, so a reader
    sees them before the numbers; they name the tokenizer (compare ranks NLL/token only within one)."""
    result: dict[str, Any] = {"run": str(run.path), "checkpoint": checkpoint, "split": split}
    result["split_rule"] = data.rule
    settings: dict[str, Any] = {"metrics": list(chosen), "checkpoint": checkpoint, "split": split}
    settings["tokenizer"] = tokenizer_identity(data.tokenizer)
    result["settings"] = settings
    return result, settings


def _load_split(
    run: RunFolder, cfg: RunConfig, split: str, checkpoint: str, device: torch.device | str
) -> tuple[RunData, Any, Any]:
    """(the run's data with only `split` encoded, that split's rows, the generator on `device`)."""
    data = load_run_data(cfg.data, cfg.tokenizer, load_tokenizer(run.tokenizer_dir), splits=(split,))
    ds = getattr(data, split)
    if ds is None:
        raise SeqgenError(f"run {run.path} has no {split} split (set data.{split} when training)")
    return data, ds, run.load_generator(checkpoint, data.tokenizer).to(device)


def _checked_settings(
    num_samples: int, temperature: float | None, temperatures: Sequence[float], batch_size: int, tokenize: str
) -> tuple[float, ...]:
    """The temperatures to sample at (`temperature` alone when given); bad settings are one-line errors."""
    temperatures = tuple(float(t) for t in ((temperature,) if temperature is not None else temperatures))
    if num_samples < 0:
        raise SeqgenError(f"--num-samples must not be negative, got {num_samples}")
    if batch_size < 1:
        raise SeqgenError(f"--batch-size must be at least 1, got {batch_size}")
    if not temperatures:
        raise SeqgenError("--temperatures needs at least one temperature")
    for t in temperatures:
        if not t >= 0:  # 0 is greedy decoding, as everywhere in seqgen
            raise SeqgenError(f"--temperatures must be >= 0 (0 = greedy), got {t}")
    _check_scheme(tokenize)
    return temperatures


def _chosen_metrics(
    metrics: Sequence[str] | str | None,
    cfg: RunConfig,
    run: RunFolder,
    embedding_model: str | Path | None,
    num_samples: int,
) -> tuple[tuple[str, ...], list[str]]:
    """(the metrics to compute for this run, those of them computed on samples: none without samples); a
    metric that cannot apply to the run is a one-line error."""
    stream = cfg.data.mode == "stream"
    oracle = cfg.data.train in BUILTIN_CORPORA and not stream
    chosen = run_metrics(metrics, stream=stream, oracle=oracle)
    sample_metrics = [m for m in chosen if m in SAMPLE_METRICS]
    if sample_metrics and stream:
        raise SeqgenError(
            f"metric {sample_metrics[0]} needs sentence samples, but run {run.path} is a stream-mode run "
            "(data.mode=stream); only nll applies"
        )
    if "oracle" in chosen and not oracle:
        raise SeqgenError(
            f"metric oracle needs a run trained on an oracle corpus (data.train={cfg.data.train}; "
            f"oracle corpora: {', '.join(BUILTIN_CORPORA)})"
        )
    if any(m in chosen for m in ("fed", "mauve")) and not embedding_model:
        raise SeqgenError(
            "metrics fed and mauve need --embedding-model DIR (a local sentence-embedding model)"
        )
    return chosen, sample_metrics if num_samples else []


def _sample_rows(
    scorer: SampleScorer,
    gen: Generator,
    tokenizer: Tokenizer,
    temperatures: Sequence[float],
    num_samples: int,
    max_len: int,
    seed: int,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """One row per temperature: `num_samples` samples (the same seed at every temperature), scored."""
    rows = []
    for t in temperatures:
        say(f"sampling {num_samples} at temperature {t}")
        samples = scorer.sample(gen, tokenizer, num_samples, max_len=max_len, seed=seed, temperature=t)
        rows.append({"temperature": t, "num_samples": len(samples), **scorer.score(samples, t)})
    return rows
