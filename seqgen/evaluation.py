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
