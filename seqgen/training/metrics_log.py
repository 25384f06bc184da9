"""metrics.jsonl (one JSON object a line) and, when enabled, Accelerate's trackers (TensorBoard)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    def __init__(self, path: Path, accelerator: Any, truncate_after: int = 0) -> None:
        self.path = path
        self.accelerator = accelerator
        if accelerator.is_main_process and truncate_after and path.exists():
            # A resumed run drops what the interrupted run logged after its checkpoint, so the log reads
            # exactly like that of a run that never stopped.
            lines = path.read_text(encoding="utf-8").splitlines()
            kept = [ln for ln in lines if ln.strip() and json.loads(ln).get("step", 0) <= truncate_after]
            path.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")

    def write(self, step: int, split: str, values: dict[str, Any]) -> None:
        if not self.accelerator.is_main_process:
            return
        record = {"step": step, "split": split, **{k: _plain(v) for k, v in values.items()}}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.accelerator.trackers:
            scalars = {
                f"{split}/{k}": v
                for k, v in record.items()
                if k not in ("step", "split") and isinstance(v, int | float)
            }
            if scalars:  # text records (sample lists) stay in metrics.jsonl only
                self.accelerator.log(scalars, step=step)


def _plain(v: Any) -> Any:
    return float(v) if hasattr(v, "item") else v
