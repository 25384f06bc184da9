"""metrics.jsonl (one strict-JSON object a line) and, when enabled, Accelerate's trackers (TensorBoard)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from seqgen.atomic import strict_json


class MetricsLog:
    """`keep_until`: the records of an earlier start that stay — those of steps <= keep_until (a resumed run
    drops what the interrupted one logged after its checkpoint, so the log reads like that of a run that never
    stopped); -1 starts an empty log."""

    def __init__(self, path: Path, accelerator: Any, keep_until: int = -1) -> None:
        self.path = path
        self.accelerator = accelerator
        if accelerator.is_main_process:
            kept = []
            if keep_until >= 0 and path.exists():
                lines = path.read_text(encoding="utf-8").splitlines()
                kept = [ln for ln in lines if ln.strip() and json.loads(ln).get("step", 0) <= keep_until]
            path.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")

    def write(self, step: int, split: str, values: dict[str, Any]) -> None:
        if not self.accelerator.is_main_process:
            return
        record = {"step": step, "split": split, **{k: _plain(v) for k, v in values.items()}}
        # Strict JSON: a non-finite value (a skipped step's loss) is written as null, never as bare NaN.
        with self.path.open("a", encoding="utf-8") as f:
            f.write(strict_json(record) + "\n")
        if self.accelerator.trackers:
            scalars = {
                f"{split}/{k}": v
                for k, v in record.items()
                if k not in ("step", "split") and isinstance(v, int | float) and math.isfinite(v)
            }
            if scalars:  # text records (sample lists) stay in metrics.jsonl only
                self.accelerator.log(scalars, step=step)


def _plain(v: Any) -> Any:
    return float(v) if hasattr(v, "item") else v
