"""Which rows of the training set make up each micro-batch: a pure function of (seed, micro-batch index).

Why not a stateful sampler: because the order depends on nothing but the seed and the position in training,
a run resumed at any step — mid-epoch included — sees exactly the batches the uninterrupted run would have,
with no sampler state to pickle, and the global batch is the same whatever the number of processes (each
process takes its contiguous slice of the global micro-batch). Every epoch is a fresh seeded permutation;
the last incomplete batch of an epoch is dropped so every optimiser step has the configured size.
"""

from __future__ import annotations

import torch

from seqgen.errors import SeqgenError


class BatchOrder:
    def __init__(self, num_rows: int, micro_batch: int, seed: int) -> None:
        if num_rows < micro_batch:
            raise SeqgenError(
                f"the training split has {num_rows} rows, fewer than one micro-batch of {micro_batch}; "
                "lower train.batch_size or raise train.grad_accum"
            )
        self.num_rows = num_rows
        self.micro_batch = micro_batch
        self.seed = seed
        self.batches_per_epoch = num_rows // micro_batch
        self._epoch = -1
        self._perm: torch.Tensor | None = None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.num_rows, generator=g)
            self._epoch = epoch
        assert self._perm is not None
        return self._perm

    def rows(self, index: int, rank: int = 0, world_size: int = 1) -> list[int]:
        """Row ids of global micro-batch `index` that process `rank` of `world_size` takes."""
        epoch, offset = divmod(index, self.batches_per_epoch)
        start = offset * self.micro_batch
        ids = self._permutation(epoch)[start : start + self.micro_batch]
        per_rank = self.micro_batch // world_size
        return ids[rank * per_rank : (rank + 1) * per_rank].tolist()

    def epoch_of(self, index: int) -> float:
        return index / self.batches_per_epoch
