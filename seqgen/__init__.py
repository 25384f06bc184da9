"""seqgen: train text generators on discrete sequences and compare their training objectives honestly.

The Python API mirrors the command line (each function is what its `seqgen` command runs):

    import seqgen
    result = seqgen.train("recipes/caption/mle.yaml", ["model.kind=transformer", "out=runs/x"])
    print(seqgen.sample("runs/x", 5, temperature=0.8))
    scores = seqgen.evaluate("runs/x", metrics="nll,bleu,self_bleu", temperatures=(0.8, 1.0))
    table, plots = seqgen.compare(["runs/x", "runs/y"], temperatures=(0.8, 1.0), plot_dir="runs")

Importing seqgen registers its model classes with transformers' Auto classes (seqgen.models.registration), so
a run's generator folder loads with `AutoModelForCausalLM` / `AutoTokenizer` / `pipeline("text-generation")`
after `import seqgen` alone. The heavy parts (datasets, the training loop, the metrics) load when a function
first needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqgen.errors import SeqgenError
from seqgen.models import registration as _registration  # noqa: F401  (the Auto classes know seqgen's models)
from seqgen.run_folder import Config, RunConfig, load_config

if TYPE_CHECKING:
    from seqgen.models import Generator
    from seqgen.tokenization import Tokenizer
    from seqgen.training.trainer import TrainResult

__version__ = "0.1.0"
__all__ = [
    "Config",
    "RunConfig",
    "SeqgenError",
    "compare",
    "evaluate",
    "evaluate_samples",
    "load_config",
    "load_run",
    "sample",
    "study",
    "train",
]
SPLITS = ("train", "valid", "test")


def train(
    config: RunConfig | str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    stop_after: int | None = None,
) -> TrainResult:
    """Train as `seqgen train` does: `config` is a RunConfig, or a recipe path (or None) that `overrides`
    (KEY=VALUE) complete. `stop_after` ends early after that many steps, as an interruption would."""
    from seqgen.training.trainer import train as _train

    cfg = config if isinstance(config, RunConfig) else load_config(config, list(overrides))
    return _train(cfg, stop_after=stop_after)


def load_run(run: str | Path, checkpoint: str = "best") -> tuple[Generator, Tokenizer]:
    """(generator, tokenizer) of a run folder; `checkpoint` is "best" (RUN/generator) or "last"."""
    from seqgen.run_folder import RunFolder
    from seqgen.tokenization import load_tokenizer

    folder = RunFolder(run).require()
    tok = load_tokenizer(folder.tokenizer_dir)
    return folder.load_generator(checkpoint, tok), tok


def sample(
    run: str | Path,
    n: int = 10,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
    prefix: str | None = None,
    max_len: int | None = None,
    checkpoint: str = "best",
    device: str | None = None,
) -> list[str]:
    """`n` texts from a run's generator, as `seqgen sample` prints them. temperature 0 is greedy decoding;
    `max_len` counts BOS and defaults to the run's data.max_len."""
    from seqgen.models.devices import resolve_device
    from seqgen.run_folder import RunFolder
    from seqgen.text_sampling import sample_texts

    folder = RunFolder(run).require()
    cfg = folder.load_config()
    gen, tok = load_run(run, checkpoint)
    return sample_texts(
        gen.to(resolve_device(device)),
        tok,
        n,
        max_len=cfg.data.max_len if max_len is None else max_len,
        stream=cfg.data.mode == "stream",
        prefix=prefix,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
    )


def evaluate(
    run: str | Path,
    *,
    metrics: str | Sequence[str] | None = None,
    split: str = "test",
    checkpoint: str = "best",
    batch_size: int = 64,
    device: str | None = None,
    num_samples: int = 1000,
    seed: int = 0,
    temperatures: Sequence[float] = (1.0,),
    tokenize: str = "treebank",
    lm: Sequence[str] | Any = (),
    reference_lm: str | Path | None = None,
    classifier: Sequence[str] | dict[str, Any] = (),
    embedding_model: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Held-out likelihood and per-temperature sample metrics of a run, as `seqgen evaluate RUN` writes
    them. `lm` and `classifier` are KEY=VALUE settings of the LM scores (or an LMSettings) and of the
    two-sample classifier (or a dict of them). `progress`: bars on stderr for the slow phases (only when it
    is a terminal; TQDM_DISABLE=1 also turns them off)."""
    from seqgen.evaluation import evaluate_run
    from seqgen.evaluation.samples import classifier_settings
    from seqgen.metrics.lm_score import LMSettings
    from seqgen.models.devices import resolve_device

    return evaluate_run(
        run,
        metrics=metrics,
        split=split,
        checkpoint=checkpoint,
        batch_size=batch_size,
        device=resolve_device(device),
        num_samples=num_samples,
        seed=seed,
        temperatures=tuple(temperatures),
        tokenize=tokenize,
        lm_settings=lm if isinstance(lm, LMSettings) else LMSettings.from_overrides(list(lm)),
        reference_lm=reference_lm,
        classifier=classifier if isinstance(classifier, dict) else classifier_settings(list(classifier)),
        embedding_model=embedding_model,
        log=log,
        progress=progress,
    )


def evaluate_samples(
    samples: str | Path,
    references: str | Path | None = None,
    *,
    metrics: str | Sequence[str] = ("bleu", "self_bleu"),
    tokenize: str = "treebank",
) -> dict[str, Any]:
    """Texygen BLEU / Self-BLEU (and sacrebleu) of a plain samples file, as `seqgen evaluate --samples`."""
    from seqgen.evaluation import evaluate_samples as _evaluate_samples

    return _evaluate_samples(samples, references, metrics=metrics, tokenize=tokenize)


def compare(
    items: Sequence[str | Path],
    *,
    splits: Sequence[str] = ("test",),
    labels: Sequence[str] | None = None,
    fmt: str = "md",
    plot_dir: str | Path | None = ".",
    metrics: str | Sequence[str] | None = "all",
    **evaluate_settings: Any,
) -> tuple[str, list[Path]]:
    """(the comparison tables as text, the PNG plots written) for run folders or saved evaluation JSON
    files, as `seqgen compare` prints them. `evaluate_settings` are `evaluate`'s keywords (temperatures,
    num_samples, seed, ...); `plot_dir=None` draws no plots."""
    from seqgen.evaluation import compare as _compare
    from seqgen.evaluation import render

    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise SeqgenError(f"unknown split {bad[0]!r} in --splits; choose from {', '.join(SPLITS)}")
    if plot_dir is not None and Path(plot_dir).is_file():
        raise SeqgenError(f"--plot-dir {plot_dir} is a file; give a folder")

    def run_evaluation(run: str | Path, split: str) -> dict[str, Any]:
        return evaluate(run, split=split, metrics=metrics, **evaluate_settings)

    per_split = _compare(list(items), splits=tuple(splits), labels=labels, evaluate=run_evaluation)
    if plot_dir is not None:
        Path(plot_dir).mkdir(parents=True, exist_ok=True)
    return render(per_split, fmt=fmt, plot_dir=plot_dir)


# The subpackage seqgen.study is imported here, before the function of the same name is defined: importing a
# submodule binds it as an attribute of its parent, so importing it later would replace the function.
import seqgen.study as _study_package  # noqa: E402  (cheap: its modules load when a study runs)


def study(spec: str | Path, out: str | Path, *, scale: str = "cpu") -> list[Path]:
    """Train, evaluate and compare every arm of a study spec, as `seqgen study` does; the report files."""
    return _study_package.run(spec, out, scale=scale)
