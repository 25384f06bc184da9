"""`seqgen evaluate RUN`: held-out likelihood of a run's generator, plus oracle sample metrics when the run
was trained on the embedded caption language. Every setting needed to reproduce the numbers goes in the
output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from seqgen.errors import SeqgenError


def evaluate_run(
    run_path: str | Path,
    *,
    split: str = "test",
    checkpoint: str = "best",
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    num_samples: int = 1000,
    seed: int = 0,
    temperature: float = 1.0,
) -> dict[str, Any]:
    from seqgen.metrics.likelihood import heldout_nll
    from seqgen.training.run_folder import RunFolder
    from seqgen.training.setup import load_run_data

    run = RunFolder(run_path).require()
    cfg = run.load_config()
    run.generator_for(checkpoint)  # fail early, before the data is loaded, if there is none
    data = load_run_data(cfg, run, splits=(split,))
    ds = getattr(data, split)
    if ds is None:
        raise SeqgenError(f"run {run.path} has no {split} split (set data.{split} when training)")
    gen = run.load_generator(checkpoint, data.tokenizer).to(device)
    result: dict[str, Any] = {
        "run": str(run.path),
        "checkpoint": checkpoint,
        "split": split,
        "split_rule": data.rule,
        **heldout_nll(
            gen,
            ds,
            pad_id=data.tokenizer.pad_id,
            batch_size=batch_size,
            device=device,
            char_level=getattr(data.tokenizer, "is_char_level", False),
        ),
    }
    if cfg.data.train == "caption" and num_samples > 0 and cfg.data.mode == "sentence":
        from seqgen.metrics.caption_oracle import caption_sample_metrics
        from seqgen.text_sampling import sample_texts

        texts = sample_texts(
            gen, data.tokenizer, num_samples, max_len=cfg.data.max_len, seed=seed, temperature=temperature
        )
        result["samples"] = {"seed": seed, "temperature": temperature, **caption_sample_metrics(texts)}
    return result


TEXT_METRICS = ("bleu", "self_bleu")


def evaluate_samples(
    samples: str | Path,
    references: str | Path | None = None,
    *,
    metrics: tuple[str, ...] = TEXT_METRICS,
    tokenize: str = "treebank",
) -> dict[str, Any]:
    """Texygen BLEU-2..5 of a samples file against a references file and Self-BLEU-2..5 of the samples, with
    every setting that defines the numbers (files, tokenization, protocol) in the result."""
    import time

    from seqgen.metrics.bleu import bleu, protocol, self_bleu
    from seqgen.metrics.text_tokenize import tokenize_file

    unknown = [m for m in metrics if m not in TEXT_METRICS]
    if unknown:
        raise SeqgenError(
            f"unknown metric {unknown[0]!r} for a samples file; choose from {', '.join(TEXT_METRICS)}"
        )
    if "bleu" in metrics and references is None:
        raise SeqgenError("metric bleu needs --references (one reference sentence a line)")
    start = time.perf_counter()
    hyps = tokenize_file(samples, tokenize)
    result: dict[str, Any] = {
        "samples": str(samples),
        "num_samples": len(hyps),
        "tokenize": tokenize,
        "protocol": protocol(tokenize),
    }
    if "bleu" in metrics:
        refs = tokenize_file(references, tokenize)
        result.update({"references": str(references), "num_references": len(refs), **bleu(hyps, refs)})
    if "self_bleu" in metrics:
        result.update(self_bleu(hyps))
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result
