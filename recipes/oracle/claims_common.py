"""The machinery of recipes/oracle/claims.py: the claims' settings, one training run (`Job`) through seqgen's
trainer with its exact summary, and running many at once (forked processes, one thread each)."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import statistics
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import NamedTuple

import torch

from seqgen.data.oracles.corpus import build_oracle
from seqgen.data.oracles.enumerable import EnumerableOracle
from seqgen.metrics.divergences import js_pi, kl, oracle_divergences
from seqgen.metrics.exact_distribution import model_distribution
from seqgen.models import load_generator
from seqgen.run_folder import load_config
from seqgen.training.trainer import Trainer

HERE = Path(__file__).parent
CLAIMS = ("a", "b", "c", "d")
PIS = (0.1, 0.3, 0.5, 0.7, 0.9)
# Exact full-batch JS_pi descent of the independent-positions model (the claim's reference figures).
EXACT_DESCENT = {"steps": 1500, "lr": 0.05}
A_CNN = ["adv.discriminator=cnn", "adv.d_pretrain_steps=200", "train.max_steps=500"]
A_BGAN = ["adv.estimator=bgan_is", "adv.reward=logit", "train.max_steps=500"]
B_START_STEPS = 300
B_CNN_PRETRAIN = 200
D_STEPS = 500
JS_FAR = 0.05  # claim c also counts the rises of JS while it is above this (away from P)
JS_RISE_TOL = 1e-9  # a logged JS counts as risen when it exceeds the previous one by more than this (nats)


class Job(NamedTuple):
    """One training run: the folder `name` under --out, a recipe beside this file, its overrides, and the
    job whose run it starts from (init_from), if any."""

    name: str
    recipe: str
    overrides: tuple[str, ...] = ()
    start: str | None = None


class Arm(NamedTuple):
    """One table row: a label and one job per seed."""

    label: str
    jobs: tuple[Job, ...]


def _arm(label: str, name: str, recipe: str, overrides: list[str], seeds: list[int], start: str = "") -> Arm:
    jobs = tuple(
        Job(
            f"{name}/seed{s}",
            recipe,
            (*overrides, f"train.seed={s}"),
            start.format(seed=s) if start else None,
        )
        for s in seeds
    )
    return Arm(label, jobs)


# ------------------------------------------------------------------------------------------- running
def _symbol_mass(q: torch.Tensor, oracle: EnumerableOracle, symbols: list[int]) -> float:
    """Q's mass on the sequences made only of `symbols`."""
    allowed = torch.isin(oracle.sequences, torch.tensor(symbols)).all(dim=1)
    return float(q[allowed].sum())


def summarise(trainer: Trainer, seconds: float) -> dict:
    """The exact divergences of the run's final generator, its logged trajectory and diagnostics."""
    cfg = trainer.cfg
    oracle = build_oracle(cfg.data)
    q = model_distribution(trainer.unwrapped, oracle)
    out = oracle_divergences(oracle.probs, q, oracle.product_of_marginals())
    pi = cfg.adv.pi if cfg.objective == "adversarial" else 0.5
    unshifted = [k for k, o in enumerate(cfg.data.oracle.offsets()) if o == 0]
    out.update(
        js_pi=js_pi(oracle.probs, q, pi),
        pi=pi,
        mass_on_unshifted=_symbol_mass(q, oracle, unshifted),
        seconds=seconds,
    )
    trajectory, train = [], []
    with open(trainer.run.metrics_file, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("split") == "oracle":
                trajectory.append({k: rec[k] for k in ("step", "kl_p_q", "kl_q_p", "js", "js_pi")})
            elif rec.get("split") == "train":
                train.append(rec)
    out["trajectory"] = trajectory
    if cfg.init_from:  # the generator it started from, under the same P
        start = load_generator(Path(cfg.init_from) / "generator")
        out["start_mass_on_unshifted"] = _symbol_mass(model_distribution(start, oracle), oracle, unshifted)
    if train:
        first = train[0]
        out["d_fake_first"] = first.get("d_fake_g", float("nan"))  # mean D of the step's samples
        norms = [r["grad_norm"] for r in train if "grad_norm" in r]
        out["grad_norm_mean"] = statistics.fmean(norms) if norms else float("nan")
    return out


def run_job(out: Path, job: Job) -> dict:
    """Train `job` (or reuse its finished summary) and return the summary."""
    folder = out / job.name
    done = folder.parent / f"{folder.name}.json"
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    if folder.exists():  # a run of this recipe that was interrupted before its summary was written
        shutil.rmtree(folder)
    extra = [f"out={folder}", "train.progress=false", "train.tensorboard=false"]
    if job.start:
        extra.append(f"init_from={out / job.start}")
    t0 = time.perf_counter()
    trainer = Trainer(load_config(HERE / job.recipe, [*job.overrides, *extra]))
    try:
        trainer.fit()
    finally:
        trainer.close()
    result = summarise(trainer, time.perf_counter() - t0)
    tmp = done.with_name(f".{done.name}.tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, done)
    print(
        f"{job.name}: KL(P||Q) {result['kl_p_q']:.4f} KL(Q||P) {result['kl_q_p']:.4f} "
        f"({result['seconds']:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    return result


def capped(job: Job, steps: int) -> Job:
    """`job` with its training and discriminator pre-training cut to at most `steps` (a smoke test)."""
    over = [o for o in job.overrides if not o.startswith(("train.max_steps=", "adv.d_pretrain_steps="))]
    pre = [o for o in job.overrides if o.startswith("adv.d_pretrain_steps=")]
    over += [f"adv.d_pretrain_steps={min(int(o.split('=')[1]), steps)}" for o in pre]
    return Job(job.name, job.recipe, (*over, f"train.max_steps={steps}"), job.start)


def _worker_init() -> None:
    torch.set_num_threads(1)


def run_all(out: Path, jobs: list[Job], n_jobs: int) -> dict[str, dict]:
    """Every job's summary by name; a job runs once the run it starts from has finished."""
    todo = {job.name: job for job in jobs}
    results: dict[str, dict] = {}

    def ready() -> list[Job]:
        return [j for j in todo.values() if j.start is None or j.start in results]

    if n_jobs <= 1:
        while todo:
            for job in ready():
                results[job.name] = run_job(out, todo.pop(job.name))
        return results
    ctx = multiprocessing.get_context("fork")  # the workers inherit this module, however it was loaded
    with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=_worker_init) as pool:
        running = {}
        while todo or running:
            for job in ready():
                running[pool.submit(run_job, out, todo.pop(job.name))] = job.name
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                results[running.pop(fut)] = fut.result()
    return results


# ------------------------------------------------------------------------------------------- exact reference
def exact_js_descent(oracle: EnumerableOracle, pi: float, steps: int, lr: float) -> dict[str, float]:
    """Full-batch Adam on the exact JS_pi(P || Q) of an independent-positions model from the uniform start."""
    p = oracle.probs
    seqs = oracle.sequences
    positions = torch.arange(oracle.length)[None, :]
    theta = torch.zeros(oracle.length, oracle.vocab, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=lr)

    def q_of() -> torch.Tensor:
        return theta.log_softmax(-1)[positions, seqs].sum(1).exp()

    for _ in range(steps):
        q = q_of()
        m = pi * p + (1 - pi) * q
        loss = pi * (p * (p / m).log()).sum() + (1 - pi) * (q * (q / m).log()).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        q = q_of()
    return {"kl_p_q": kl(p, q), "kl_q_p": kl(q, p), "js_pi": js_pi(p, q, pi)}
