"""The random streams of a run: pure functions of (seed, step, micro-batch, process, stream).

Why not one generator carried through training: a resumed run must draw exactly what the uninterrupted one
did, and a stream keyed by its position needs no state in the checkpoint. Stream 0 is the generator step's;
objectives take others (the discriminator: 1 + the index of its draw).
"""

from __future__ import annotations

import torch


def random_stream(
    seed: int, step: int, micro: int, rank: int, stream: int = 0, device: torch.device | str = "cpu"
) -> torch.Generator:
    key = ((seed * 1_000_003 + step) * 1009 + micro) * 4099 + rank
    key = key * 7919 + stream
    return torch.Generator(device=device).manual_seed(key % (2**63 - 1))
