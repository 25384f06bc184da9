"""Run by tests/test_training_distributed.py under torchrun (2 CPU processes): trains a few steps, then checks
that every rank holds identical parameters and reports the batch each rank saw. Not a test module itself."""

from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist

from seqgen.run_folder import load_config
from seqgen.training.trainer import Trainer


def main(out: str, result_file: str, *overrides: str) -> None:
    cfg = load_config(None, [*overrides, f"out={out}"])
    trainer = Trainer(cfg)
    acc = trainer.accelerator
    rows_per_rank = len(trainer.batches.order.rows(0, acc.process_index, acc.num_processes))
    trainer.fit()
    models = [trainer.unwrapped]
    if trainer.unwrapped_discriminator is not None:  # adversarial runs: the discriminator must agree too
        models.append(trainer.unwrapped_discriminator)
    flat = torch.cat([p.detach().reshape(-1) for m in models for p in m.parameters()])
    gathered = [torch.zeros_like(flat) for _ in range(acc.num_processes)]
    dist.all_gather(gathered, flat)
    rows = [None] * acc.num_processes
    dist.all_gather_object(rows, rows_per_rank)
    if acc.is_main_process:
        result = {
            "world_size": acc.num_processes,
            "identical": all(torch.equal(gathered[0], g) for g in gathered[1:]),
            "rows_per_rank": rows,
            "global_batch": sum(rows) * cfg.train.grad_accum,
            "step": trainer.step,
            "models": len(models),
        }
        with open(result_file, "w") as f:
            json.dump(result, f)
    acc.wait_for_everyone()


if __name__ == "__main__":
    main(*sys.argv[1:])
