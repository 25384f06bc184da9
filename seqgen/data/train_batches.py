"""Where a run's training micro-batches come from: a table of encoded rows, or a stream of sentences.

`IndexedBatches` (every corpus but a stream): global micro-batch k is the rows `BatchOrder` names, a pure
function of (seed, k), so a resumed run — mid-epoch too — sees exactly the batches of one that never stopped.

`StreamBatches` (``data.streaming=true``): the rows come in the order of the stream, through a shuffle buffer
(`datasets.IterableDataset.shuffle`, seeded with train.seed; each pass over the stream is an epoch and
reshuffles with `set_epoch`), encoded as they arrive. Global micro-batch k is rows [k*B, (k+1)*B) of that
order, so resuming at step s skips the first s x batch_size rows (read and encoded again, not trained on)
and then continues exactly as an uninterrupted run. Every process reads the same stream and keeps its own
slice of each global micro-batch, so the global batch is the same for any number of processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from seqgen.data.batch_order import BatchOrder
from seqgen.data.encoding import collate, sentence_rows
from seqgen.errors import SeqgenError

READ_ROWS = 1000  # rows of the stream read and encoded at a time


class IndexedBatches:
    def __init__(self, train_ids: Any, micro_batch: int, seed: int, pad_id: int) -> None:
        self.order = BatchOrder(len(train_ids), micro_batch, seed)
        self.train_ids, self.pad_id = train_ids, pad_id

    def micro_batch(self, index: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        """Process `rank`'s share of global micro-batch `index`, padded: a (rows, T) LongTensor."""
        rows = self.order.rows(index, rank, world_size)
        return collate(self.train_ids[rows]["input_ids"], self.pad_id)

    def epoch_of(self, index: int) -> float:
        return self.order.epoch_of(index)


class StreamBatches:
    def __init__(
        self,
        stream: Any,
        tokenizer: Any,
        *,
        micro_batch: int,
        seed: int,
        buffer: int,
        max_len: int,
        drop: bool,
    ) -> None:
        self.stream, self.tokenizer = stream, tokenizer
        self.micro, self.seed, self.buffer, self.max_len, self.drop = micro_batch, seed, buffer, max_len, drop
        self.pad_id = tokenizer.pad_id
        self._rows: Iterator[list[int]] | None = None
        self._next = 0  # the global micro-batch the stream is positioned at
        self._epoch = 0

    def _encoded(self) -> Iterator[list[int]]:
        epoch = 0
        while True:
            shuffled = self.stream.shuffle(seed=self.seed, buffer_size=self.buffer)
            shuffled.set_epoch(epoch)
            rows = 0
            for batch in shuffled.iter(batch_size=READ_ROWS):
                encoded = sentence_rows(batch["text"], self.tokenizer, self.max_len, self.drop)["input_ids"]
                rows += len(encoded)
                yield from encoded
            if rows == 0:
                raise SeqgenError("the training stream holds no rows (after data.truncation=drop, if set)")
            epoch += 1
            self._epoch = epoch

    def micro_batch(self, index: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        """Process `rank`'s share of global micro-batch `index` (indices must come in order; a first index
        above 0 — a resumed run — skips the rows of the micro-batches before it)."""
        if self._rows is None:
            self._rows = self._encoded()
            for _ in range(index * self.micro):  # resuming: the rows the earlier steps trained on
                next(self._rows)
            self._next = index
        if index != self._next:
            raise RuntimeError(
                f"stream batches are read in order: expected micro-batch {self._next}, got {index}"
            )
        rows = [next(self._rows) for _ in range(self.micro)]
        self._next += 1
        per_rank = self.micro // world_size
        return collate(rows[rank * per_rank : (rank + 1) * per_rank], self.pad_id)

    def epoch_of(self, index: int) -> float:
        """The pass over the stream the run is in (a stream's length is unknown until a pass ends)."""
        return float(self._epoch)


def train_batches(data: Any, train: Any, tokenizer: Any, *, micro_batch: int, seed: int) -> Any:
    """The batches of a run on `data` (its DataConfig): `train` is the encoded split, or for a stream, the
    split's text."""
    if data.streaming:
        return StreamBatches(
            train,
            tokenizer,
            micro_batch=micro_batch,
            seed=seed,
            buffer=data.shuffle_buffer,
            max_len=data.max_len,
            drop=data.truncation == "drop",
        )
    return IndexedBatches(train, micro_batch, seed, tokenizer.pad_id)
