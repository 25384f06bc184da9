"""Evaluation speed: every phase of one `seqgen compare --metrics all` cell on COCO, previous vs new defaults.

Usage: python benchmarks/compare_speed.py [--data ../shared/data] [--run RUN] [--samples 1000]
                                          [--temperature 1.0] [--threads 2] [--runs 10] [--temperatures 4]

One (run, temperature) cell of `--samples` samples, scored with the metrics of `--metrics all` (BLEU,
Self-BLEU, LM score, reverse LM score, classifier two-sample test) through the evaluation's own code
(`SampleScorer`), once with the previous recipes (`PREVIOUS_LM_SETTINGS`, `PREVIOUS_CLASSIFIER_SETTINGS`: the
reverse LM was the reference LM's recipe, early-stopped on the whole valid split; the classifier trained 300
steps) and once with the new defaults (`LMSettings()`, `ClassifierSettings()`), phase by phase alternately in
this process, so load from other processes hits both alike. Prints the seconds of each phase side by side,
the ratio, each setting's metric values, and the extrapolation to a study of `--runs` x `--temperatures`
cells (per-run costs, shared by a run's temperatures, counted once per run).

Data: coco/train.txt (training split: the reference LM and the word tokenizer), coco/nll_test.txt (valid:
early stopping), coco/test.txt (the evaluated split: BLEU references, reverse LM test data, the classifier's
real sentences), as recipes/coco/mle.yaml splits them. The samples come from `--run` (a seqgen run trained
on COCO) or, without one, from the reference LM itself (a word LSTM trained on COCO's training split). The
reference LM is loaded from the cache ($SEQGEN_CACHE or ~/.cache/seqgen), or trained once (timed apart: the
study target holds once it is cached). Without ../shared/data/coco it says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

from seqgen.evaluation.samples import SampleScorer
from seqgen.metrics.lm_score import LMSettings, reference_lm, rows_nll
from seqgen.metrics.lm_score import encode_rows as encode
from seqgen.metrics.score_settings import PREVIOUS_CLASSIFIER_SETTINGS, PREVIOUS_LM_SETTINGS
from seqgen.metrics.text_tokenize import tokenize_lines
from seqgen.metrics.two_sample import ClassifierSettings
from seqgen.text_sampling import sample_texts

PHASES = ("bleu", "self_bleu", "lm", "reverse_lm", "classifier")
NAMES = {
    "sampling": "sampling",
    "bleu": "BLEU-2..5",
    "self_bleu": "Self-BLEU-2..5",
    "lm": "LM score",
    "reverse_lm": "reverse LM",
    "classifier": "classifier",
}
SHOWN = {
    "bleu": "bleu4",
    "self_bleu": "self_bleu4",
    "lm": "lm_score",
    "reverse_lm": "reverse_lm_score",
    "classifier": "classifier_auc",
}


class Texts:
    """The splits as `SampleScorer` reads them (SplitTexts without a run config)."""

    split = "test"

    def __init__(self, splits: dict[str, list[str]]) -> None:
        self.splits = splits

    def get(self, name: str) -> list[str]:
        return self.splits[name]

    @property
    def evaluated(self) -> list[str]:
        return self.splits["test"]


def scorer(metric: str, texts: Texts, lm: LMSettings, clf: ClassifierSettings, ref: Any) -> SampleScorer:
    s = SampleScorer(
        [metric],
        texts,
        tokenize="treebank",
        lm_settings=lm,
        reference_lm=None,
        classifier=clf,
        embedding_model=None,
        seed=0,
        device="cpu",
        say=lambda _m: None,
    )
    s._ref_lm, s._ref_info = ref, {"cache": ref.info.get("cache")}  # the one reference LM, loaded once
    if metric == "bleu":
        s._references()  # built once per run (per_run_costs), not once per cell
    return s


def timed(fn: Any) -> tuple[tuple[float, float], Any]:
    """((wall seconds, this process's CPU seconds), fn())."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - t0, time.process_time() - c0), out


def per_run_costs(texts: Texts, ref: Any) -> dict[str, tuple[float, float]]:
    """What a run pays once, whatever its temperatures: the BLEU reference table (tokenized test split) and
    its held-out NLL (here the reference LM's, on the test split, standing in for the run's)."""
    from seqgen.metrics.bleu import ReferenceTable

    t_table, _ = timed(lambda: ReferenceTable(tokenize_lines(texts.evaluated, "treebank")))
    rows = encode(ref.tokenizer, texts.evaluated, 64)
    t_nll, _ = timed(lambda: rows_nll(ref.generator, rows))
    return {"BLEU reference table": t_table, "held-out NLL (test split)": t_nll}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--run", default=None, help="a seqgen run trained on COCO to sample from")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--temperatures", type=int, default=4)
    args = ap.parse_args()
    coco = Path(args.data) / "coco"
    if not all((coco / f).is_file() for f in ("train.txt", "nll_test.txt", "test.txt")):
        print(f"compare_speed: {coco} (train.txt, nll_test.txt, test.txt) not found; nothing to measure")
        return 0
    torch.set_num_threads(args.threads)
    splits = {k: (coco / f).read_text(encoding="utf-8").splitlines() for k, f in SPLIT_FILES.items()}
    texts = Texts(splits)
    print(
        f"compare_speed: one (run, temperature) cell of {args.samples} samples on COCO "
        f"({len(splits['train'])} train / {len(splits['valid'])} valid / {len(splits['test'])} test "
        "sentences); "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    (t_ref, _), ref = timed(
        lambda: reference_lm(splits["train"], splits["valid"], LMSettings(), progress=True)
    )
    how = "loaded from the cache" if ref.info.get("cached") else "trained (once per corpus, now cached)"
    print(f"reference LM (recipe unchanged): {how} in {t_ref:.1f} s, valid NLL {ref.info['valid_nll']:.3f}")
    t_sample, samples = timed(lambda: draw_samples(args, ref))
    per_run = per_run_costs(texts, ref)
    recipes = {
        "previous": (PREVIOUS_LM_SETTINGS, PREVIOUS_CLASSIFIER_SETTINGS),
        "new": (LMSettings(), ClassifierSettings()),
    }
    times: dict[str, dict[str, tuple[float, float]]] = {k: {"sampling": t_sample} for k in recipes}
    values: dict[str, dict[str, float]] = {k: {} for k in recipes}
    for metric in PHASES:  # previous and new alternately, phase by phase
        for name, (lm, clf) in recipes.items():
            s = scorer(metric, texts, lm, clf, ref)
            t, out = timed(lambda s=s: s.score(samples, args.temperature))
            times[name][metric], values[name][metric] = t, out[SHOWN[metric]]
    report(args, times, values, per_run)
    return 0


SPLIT_FILES = {"train": "train.txt", "valid": "nll_test.txt", "test": "test.txt"}


def draw_samples(args: argparse.Namespace, ref: Any) -> list[str]:
    if args.run:
        import seqgen

        return seqgen.sample(args.run, args.samples, temperature=args.temperature, seed=0, device="cpu")
    gen = ref.generator
    return sample_texts(gen, ref.tokenizer, args.samples, max_len=40, seed=0, temperature=args.temperature)


def report(
    args: argparse.Namespace,
    times: dict[str, dict[str, tuple[float, float]]],
    values: dict[str, dict[str, float]],
    per_run: dict[str, tuple[float, float]],
) -> None:
    print(f"samples from {args.run or 'the reference LM'} at T={args.temperature:g}; load average {load()}")
    header = (
        f"{'phase':16} {'previous s':>11} {'new s':>8} {'prev/new':>9} {'CPU s: prev':>12} {'new':>6}"
        f"   {'value':>16} {'previous':>8} {'new':>8}"
    )
    print(header)
    print("-" * len(header))
    for phase in ("sampling", *PHASES):
        (p, pc), (n, nc) = times["previous"][phase], times["new"][phase]
        shown = ""
        if phase in values["new"]:
            shown = f"   {SHOWN[phase]:>16} {values['previous'][phase]:8.3f} {values['new'][phase]:8.3f}"
        print(f"{NAMES[phase]:16} {p:11.2f} {n:8.2f} {p / n:8.2f}x {pc:12.2f} {nc:6.2f}{shown}")
    (tp, cp), (tn, cn) = (tuple(map(sum, zip(*times[k].values(), strict=True))) for k in ("previous", "new"))
    print(f"{'cell total':16} {tp:11.2f} {tn:8.2f} {tp / tn:8.2f}x {cp:12.2f} {cn:6.2f}")
    run_s = sum(w for w, _ in per_run.values())
    print(
        "per run, shared by its temperatures: " + ", ".join(f"{k} {w:.2f} s" for k, (w, _) in per_run.items())
    )
    cells = args.runs * args.temperatures
    for name, total in (("previous", tp), ("new", tn)):
        minutes = (cells * total + args.runs * run_s) / 60
        print(
            f"{cells} cells ({args.runs} runs x {args.temperatures} temperatures), {name} defaults: "
            f"{minutes:.1f} min ({total:.1f} s a cell + {run_s:.1f} s a run), reference LM cached"
        )
    print("target: the new defaults finish a 40-cell COCO study in under 15 min (about 20 s a cell)")
    print(f"load average at the end: {load()} (other processes' load slows both settings alike)")


def load() -> str:
    """The 1, 5 and 15 minute load averages (Linux), to judge how quiet the machine was."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
