"""One-Billion-Word data path: time from `seqgen train` to the first optimiser step, and peak memory.

Usage: python benchmarks/obw_pipeline.py [--sentences 1000000 3000000] [--tokenizers word sentencepiece]
                                         [--baseline REV] [--work DIR] [--language zipf|caption]
       python benchmarks/obw_pipeline.py --write ROOT --sentences N     (only write the corpus)

For each corpus size N it writes a 1BW-shaped corpus (`obw_corpus.py`: the official layout, 99 training and
50 heldout shards), then for each tokenizer starts `seqgen train` on it twice — first with empty caches (the
datasets cache and seqgen's cache, set per start through HF_DATASETS_CACHE and SEQGEN_CACHE), then again
with the caches the first start left (a second run on the same corpus) — and stops each start when its
first optimiser step is logged (train.log_every=1). It measures:

- seconds from launching the command to the first `train` record in metrics.jsonl;
- the peak memory of the process tree (the run and its workers), sampled every 0.25 s as the sum of the
  processes' PSS (proportional set size: a page shared by k processes counts 1/k in each, so forked workers
  are not counted k times), and its anonymous part (memory the processes own; the rest are file pages of
  the memory-mapped Arrow tables, which the kernel drops under pressure).

With `--baseline REV` every start runs twice in this process, side by side: once with the code of git
revision REV (checked out into a temporary worktree and put first on PYTHONPATH) and once with the working
tree's code, so the two columns see the same machine load. The word tokenizer is trained inside the run
(its vocabulary counted from the training split); the sentencepiece one is trained once on one training
shard (as recipes/obw/mle.yaml does; timed apart) and read from tokenizer.path. The model is a tiny LSTM:
what is measured is the data path, not the step.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from obw_corpus import TRAIN_DIR, write_obw_corpus

REPO = Path(__file__).resolve().parents[1]
RUN_SETTINGS = [
    "model.kind=lstm", "model.emb_dim=32", "model.hidden_dim=32", "model.num_layers=1",
    "data.max_len=64", "train.batch_size=8", "train.max_steps=100000", "train.log_every=1",
    "train.eval_every=0", "train.save_every=0", "train.num_samples=0", "train.tensorboard=false",
    "train.progress=false",
]  # fmt: skip
# 1BW's word vocabulary rule is "3 occurrences or more"; max_vocab keeps the tiny model's softmax small, so
# the first step measures the data path and not a (batch x 64 x 400k) logit tensor.
WORD_SETTINGS = ["tokenizer.kind=word", "tokenizer.min_freq=3", "tokenizer.max_vocab=50000"]


@dataclass
class Start:
    seconds: float
    pss_mb: float
    anon_mb: float
    log: str


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc), so encoding workers are counted too."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _memory_kb(pids: list[int]) -> tuple[int, int]:
    """(PSS, anonymous PSS) of the processes, in kB. PSS, not RSS: forked workers share their parent's pages
    (copy-on-write) and the table files; RSS would count every shared page once per process."""
    pss = anon = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Pss_Anon:"):
                        anon += int(line.split()[1])
        except OSError:
            continue
    return pss, anon


def _first_step_logged(metrics: Path) -> bool:
    try:
        lines = metrics.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(json.loads(ln).get("split") == "train" for ln in lines if ln.strip())


def start_run(code: Path, settings: list[str], out: Path, caches: Path, limit_s: float = 3600) -> Start:
    """Launch `seqgen train` with the code in `code`; stop it after its first optimiser step."""
    env = dict(os.environ, HF_DATASETS_CACHE=str(caches / "datasets"), SEQGEN_CACHE=str(caches / "seqgen"))
    env.update(PYTHONPATH=str(code), OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "2"), HF_DATASETS_OFFLINE="1")
    cmd = [sys.executable, "-m", "seqgen", "train", *settings, f"out={out}"]
    log_path = out.with_suffix(".log")
    begin = time.perf_counter()
    with open(log_path, "w") as log:
        # cwd: not the repository, whose folder would come first on sys.path and shadow PYTHONPATH.
        proc = subprocess.Popen(
            cmd, env=env, cwd=out.parent, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        peak_pss = peak_anon = 0
        polls = 0
        while True:
            if polls % 5 == 0:  # memory every 0.25 s: reading smaps of a large process costs CPU
                pss, anon = _memory_kb(_tree(proc.pid))
                peak_pss, peak_anon = max(peak_pss, pss), max(peak_anon, anon)
            polls += 1
            if _first_step_logged(out / "metrics.jsonl"):
                seconds = time.perf_counter() - begin
                break
            if proc.poll() is not None or time.perf_counter() - begin > limit_s:
                raise SystemExit(f"seqgen train ended before its first step (see {log_path}):\n"
                                 + log_path.read_text()[-3000:])  # fmt: skip
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return Start(seconds, peak_pss / 1024, peak_anon / 1024, str(log_path))


def baseline_checkout(rev: str, work: Path) -> Path:
    """The code of git revision `rev` in a worktree under `work` (its seqgen package importable from it)."""
    path = work / f"code-{rev}"
    if not path.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), rev], check=True,
                       capture_output=True)  # fmt: skip
    return path


def spm_tokenizer(code: Path, corpus: Path, work: Path) -> tuple[Path, float]:
    """A 32k-piece sentencepiece tokenizer trained on one training shard (recipes/obw/mle.yaml's step)."""
    folder = work / f"spm-{corpus.name}"
    begin = time.perf_counter()
    if not folder.exists():
        shard = corpus / TRAIN_DIR / "news.en-00001-of-00100"
        subprocess.run(
            [sys.executable, "-m", "seqgen", "tokenizer", "train", "--kind", "sentencepiece", "--vocab-size",
             "32000", "--input", str(shard), "--out", str(folder)],
            env=dict(os.environ, PYTHONPATH=str(code)), cwd=work, check=True, capture_output=True,
        )  # fmt: skip
    return folder, time.perf_counter() - begin


def measure(codes: dict[str, Path], corpus: Path, tokenizer: str, spm: Path | None, work: Path) -> dict:
    """{code name: (first start, second start)} for one corpus and tokenizer; codes alternate per start."""
    settings = [f"data.train={corpus}", *RUN_SETTINGS]
    settings += (
        WORD_SETTINGS if tokenizer == "word" else ["tokenizer.kind=sentencepiece", f"tokenizer.path={spm}"]
    )
    results: dict[str, list[Start]] = {name: [] for name in codes}
    tag = f"{corpus.name}-{tokenizer}"
    for attempt in ("first", "second"):
        for name, code in codes.items():
            caches = work / f"caches-{tag}-{name}"
            if attempt == "first":
                shutil.rmtree(caches, ignore_errors=True)
            out = work / f"run-{tag}-{name}-{attempt}"
            shutil.rmtree(out, ignore_errors=True)
            results[name].append(start_run(code, settings, out, caches))
            s = results[name][-1]
            print(f"  {tag:<22} {name:<9} {attempt:<6} start: {s.seconds:7.1f} s, peak PSS {s.pss_mb:5.0f} "
                  f"MB (anonymous PSS {s.anon_mb:6.0f} MB)", flush=True)  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, nargs="+", default=[1_000_000, 3_000_000])
    ap.add_argument(
        "--tokenizers", nargs="+", choices=("word", "sentencepiece"), default=["word", "sentencepiece"]
    )
    ap.add_argument("--baseline", metavar="REV", help="git revision to measure beside the working tree")
    ap.add_argument("--language", choices=("zipf", "caption"), default="zipf")
    ap.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed at the end)")
    ap.add_argument(
        "--write", type=Path, metavar="ROOT", help="only write a corpus of --sentences[0] to ROOT"
    )
    args = ap.parse_args(argv)
    if args.write:
        write_obw_corpus(args.write, args.sentences[0], language=args.language)
        print(f"wrote {args.write} ({args.sentences[0]:,} training sentences)")
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="obw-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    codes = {"previous": baseline_checkout(args.baseline, work)} if args.baseline else {}
    codes["new"] = REPO
    import torch

    print(f"obw_pipeline: seqgen train to its first optimiser step; torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '2')}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)  # fmt: skip
    if args.baseline:
        print(f"previous = git revision {args.baseline}; new = the working tree", flush=True)
    table = []
    try:
        for n in args.sentences:
            corpus = work / f"obw-{n // 1000}k"
            if not (corpus / TRAIN_DIR).is_dir():
                begin = time.perf_counter()
                write_obw_corpus(corpus, n, language=args.language)
                print(f"corpus {corpus.name}: {n:,} sentences written in {time.perf_counter() - begin:.1f} s")
            for tok in args.tokenizers:
                spm = None
                if tok == "sentencepiece":
                    spm, took = spm_tokenizer(REPO, corpus, work)
                    print(f"  sentencepiece tokenizer (32k pieces, one shard): {took:.1f} s", flush=True)
                table.append((n, tok, measure(codes, corpus, tok, spm, work)))
    finally:
        if args.baseline:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(codes["previous"])],
                           capture_output=True)  # fmt: skip
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print_table(table, list(codes))
    return 0


def print_table(table: list, names: list[str]) -> None:
    print()
    head = f"{'sentences':>10} {'tokenizer':<14} {'code':<9} {'first start s':>13} {'peak PSS MB':>11} " \
           f"{'anon MB':>8} {'second start s':>14} {'peak PSS MB':>11} {'anon MB':>8}"  # fmt: skip
    print(head)
    print("-" * len(head))
    for n, tok, results in table:
        for name in names:
            a, b = results[name]
            print(f"{n:>10,} {tok:<14} {name:<9} {a.seconds:>13.1f} {a.pss_mb:>11.0f} {a.anon_mb:>8.0f} "
                  f"{b.seconds:>14.1f} {b.pss_mb:>11.0f} {b.anon_mb:>8.0f}")  # fmt: skip
        if len(names) == 2:
            (p1, p2), (n1, n2) = results[names[0]], results[names[1]]
            ratio = f"{p1.seconds / n1.seconds:>12.2f}x {p1.pss_mb / n1.pss_mb:>10.2f}x"
            print(f"{'':>10} {'':<14} {'prev/new':<9} {ratio} "
                  f"{p1.anon_mb / n1.anon_mb:>7.2f}x {p2.seconds / n2.seconds:>13.2f}x")  # fmt: skip
    sizes = sorted({n for n, _, _ in table})
    if len(sizes) >= 2:  # first start = a + b N: fitted on the two largest sizes, extrapolated to all of 1BW
        lo, hi = sizes[-2], sizes[-1]
        for tok in dict.fromkeys(t for _, t, _ in table):
            for name in names:
                t = {n: r[name][0].seconds for n, k, r in table if k == tok}
                if lo in t and hi in t:
                    b = (t[hi] - t[lo]) / (hi - lo)
                    est = t[hi] + b * (30_301_028 - hi)
                    print(f"extrapolated first start at 30,301,028 sentences ({tok}, {name}): {est / 60:.1f} "
                          f"min "
                          f"({b * 1e6:.1f} s per million sentences)")  # fmt: skip
    if len(sizes) >= 2:  # the memory target: peak memory flat in N (within 20%, smallest to largest)
        lo, hi = sizes[0], sizes[-1]
        for tok in dict.fromkeys(t for _, t, _ in table):
            for name in names:
                r = {n: res[name] for n, k, res in table if k == tok}
                if lo in r and hi in r:
                    grow = [f"{which} PSS {100 * (r[hi][i].pss_mb / r[lo][i].pss_mb - 1):+.0f}%, anon "
                            f"{100 * (r[hi][i].anon_mb / r[lo][i].anon_mb - 1):+.0f}%"
                            for i, which in enumerate(("first start", "second start"))]  # fmt: skip
                    print(f"peak memory from {lo:,} to {hi:,} sentences ({tok}, {name}): {'; '.join(grow)}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
