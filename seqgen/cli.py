"""The `seqgen` command: train, sample, evaluate, tokenizer.

Bad input never shows a traceback: every `SeqgenError` (and OS-level file errors) is printed as one line,
``seqgen: error: ...``, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from seqgen.errors import SeqgenError

EXIT_USAGE = 2


def _device(name: str | None):
    import torch

    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SeqgenError(f"unknown --device {name!r} (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SeqgenError(f"--device {name} asked for, but no CUDA device is available")
    return device


def _check_output(path: str | None) -> None:
    """Refuse an unusable -o before any work is done, naming the user's path."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise SeqgenError(f"-o {path} is a folder; give a file name")
    if not p.parent.is_dir():
        raise SeqgenError(f"-o {path}: folder {p.parent} does not exist")


def _write_json(result: dict, path: str | None) -> str:
    """Strict JSON (no NaN/Infinity, which jq and JavaScript reject): non-finite numbers become null."""
    text = json.dumps(_finite_or_none(result), indent=2, allow_nan=False) + "\n"
    if path:
        from seqgen.atomic import atomic_write_text

        atomic_write_text(path, text)
    return text


def _finite_or_none(x):
    import math

    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite_or_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ------------------------------------------------------------------------------------------------ train
def cmd_train(args: argparse.Namespace) -> int:
    from seqgen.run_folder import load_config
    from seqgen.training.trainer import train

    items = list(args.items)
    path = None
    if items and "=" not in items[0]:
        path = items.pop(0)
    cfg = load_config(path, items)
    result = train(cfg)
    msg = f"trained {result.step} steps; final train loss {result.train_loss:.4f}"
    if result.best_valid_nll is not None:
        msg += f"; best valid NLL/token {result.best_valid_nll:.4f}"
    print(f"{msg}; run folder: {result.run}")
    return 0


# ----------------------------------------------------------------------------------------------- sample
def cmd_sample(args: argparse.Namespace) -> int:
    from seqgen.run_folder import RunFolder
    from seqgen.text_sampling import sample_texts
    from seqgen.tokenization import load_tokenizer

    _check_output(args.output)
    run = RunFolder(args.run).require()
    cfg = run.load_config()
    tok = load_tokenizer(run.tokenizer_dir)
    gen = run.load_generator(args.checkpoint, tok).to(_device(args.device))
    texts = sample_texts(
        gen,
        tok,
        args.n,
        max_len=cfg.data.max_len if args.max_len is None else args.max_len,
        stream=cfg.data.mode == "stream",
        prefix=args.prefix,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )
    sep = "\n\n" if cfg.data.mode == "stream" else "\n"
    text = sep.join(texts) + "\n"
    if args.output:
        from seqgen.atomic import atomic_write_text

        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


# --------------------------------------------------------------------------------------------- evaluate
def _temperatures(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise SeqgenError(f"--temperatures expects numbers separated by commas, got {text!r}") from None
    if not values:
        raise SeqgenError("--temperatures needs at least one temperature")
    return values  # their range is checked by the library (evaluate_run)


def _run_evaluator(args: argparse.Namespace, metrics: str | None):
    """`evaluate(run, split)` with the command line's sample-metric settings (shared by evaluate/compare)."""
    from seqgen.evaluation import evaluate_run
    from seqgen.metrics.lm_score import LMSettings

    if args.batch_size < 1:
        raise SeqgenError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.num_samples < 0:
        raise SeqgenError(f"--num-samples must not be negative, got {args.num_samples}")
    temperatures = _temperatures(args.temperatures)
    lm_settings = LMSettings.from_overrides(args.lm)
    classifier = _classifier_settings(args.classifier)
    device = _device(args.device)

    def evaluate(run: str | Path, split: str) -> dict:
        return evaluate_run(
            run,
            metrics=metrics,
            split=split,
            checkpoint=args.checkpoint,
            batch_size=args.batch_size,
            device=device,
            num_samples=args.num_samples,
            seed=args.seed,
            temperatures=temperatures,
            tokenize=args.tokenize,
            lm_settings=lm_settings,
            reference_lm=args.reference_lm,
            classifier=classifier,
            embedding_model=args.embedding_model,
            log=(lambda msg: print(f"seqgen: {Path(run).name}: {msg}", file=sys.stderr))
            if args.verbose
            else None,
        )

    return evaluate


def _classifier_settings(items: list[str]) -> dict:
    """--classifier KEY=VALUE items: kind is text, lr a number, everything else an integer."""
    out: dict = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise SeqgenError(f"--classifier expects KEY=VALUE, got {item!r}")
        key, text = key.strip(), text.strip()
        allowed = {"kind": str, "steps": int, "batch_size": int, "lr": float}
        if key not in allowed:
            raise SeqgenError(f"unknown classifier setting {key!r}; choose from {', '.join(allowed)}")
        try:
            out[key] = allowed[key](text)
        except ValueError:
            raise SeqgenError(f"classifier setting {key} needs a number, got {text!r}") from None
    return out


def cmd_evaluate(args: argparse.Namespace) -> int:
    from seqgen.evaluation import evaluate_samples

    _check_output(args.output)
    if args.samples is not None:
        if args.run is not None:
            raise SeqgenError("give either a run folder or --samples, not both")
        result = evaluate_samples(
            args.samples,
            args.references,
            metrics=args.metrics or "bleu,self_bleu",
            tokenize=args.tokenize,
        )
        sys.stdout.write(_write_json(result, args.output))
        return 0
    if args.run is None:
        raise SeqgenError("give a run folder, or --samples FILE (with --references FILE for BLEU)")
    evaluate = _run_evaluator(args, args.metrics)
    result = evaluate(args.run, args.split)
    sys.stdout.write(_write_json(result, args.output))
    return 0


# ---------------------------------------------------------------------------------------------- compare
def cmd_compare(args: argparse.Namespace) -> int:
    from seqgen.evaluation import compare, render

    _check_output(args.output)
    if args.plot_dir and Path(args.plot_dir).is_file():
        raise SeqgenError(f"--plot-dir {args.plot_dir} is a file; give a folder")
    splits = tuple(s.strip() for s in args.splits.split(",") if s.strip())
    for s in splits:
        if s not in ("train", "valid", "test"):
            raise SeqgenError(f"unknown split {s!r} in --splits; choose from train, valid, test")
    labels = [x.strip() for x in args.labels.split(",")] if args.labels else None
    evaluate = _run_evaluator(args, args.metrics or "all")
    per_split = compare(args.items, splits=splits, labels=labels, evaluate=evaluate)
    plot_dir = (
        Path(args.plot_dir) if args.plot_dir else (Path(args.output).parent if args.output else Path("."))
    )
    plot_dir.mkdir(parents=True, exist_ok=True)
    text, plots = render(per_split, fmt=args.format, plot_dir=plot_dir)
    if args.output:
        from seqgen.atomic import atomic_write_text

        atomic_write_text(args.output, text + "\n")
        print(f"seqgen: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    for p in plots:
        print(f"seqgen: wrote {p}", file=sys.stderr)
    return 0


def _add_sample_metric_options(p: argparse.ArgumentParser, *, default_metrics: str) -> None:
    p.add_argument("--metrics", default=None, help=default_metrics)
    p.add_argument(
        "--tokenize",
        default="treebank",
        choices=["treebank", "13a", "whitespace"],
        help="BLEU tokenization: treebank = nltk word_tokenize(preserve_line=True), Texygen's (default)",
    )
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--batch-size", type=int, default=64, help="batch size of the held-out NLL")
    p.add_argument("--num-samples", type=int, default=1000, help="samples per temperature (0 = none)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (also seeds the classifier)")
    p.add_argument(
        "--temperatures", default="1.0", help="comma list of sampling temperatures, e.g. 0.7,0.8,1.0,1.2"
    )
    p.add_argument(
        "--lm",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="LM score / reverse LM settings (repeatable): kind, emb_dim, hidden_dim, num_layers, dropout, "
        "batch_size, lr, max_steps, eval_every, patience, max_len, min_freq, max_vocab, seed",
    )
    p.add_argument(
        "--reference-lm",
        default=None,
        metavar="RUN",
        help="use this run's generator (trained on the real corpus) as the reference LM instead of the "
        "cached one seqgen trains",
    )
    p.add_argument(
        "--classifier",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="two-sample classifier settings (repeatable): kind (cnn, rnn, transformer), steps, "
        "batch_size, lr",
    )
    p.add_argument(
        "--embedding-model", default=None, metavar="DIR", help="local sentence-embedding model for fed, mauve"
    )
    p.add_argument("--device", default=None)
    p.add_argument("-v", "--verbose", action="store_true", help="say what is being computed")


# -------------------------------------------------------------------------------------------- tokenizer
def cmd_tokenizer_train(args: argparse.Namespace) -> int:
    from seqgen.data.corpus import load_corpus
    from seqgen.data.run_data import tokenizer_from_config
    from seqgen.tokenization import TokenizerConfig

    texts: list[str] = []
    for src in args.input:
        texts.extend(load_corpus(src)["text"])
    settings = TokenizerConfig(
        kind=args.kind,
        vocab_size=args.vocab_size,
        model_type=args.model_type,
        min_freq=args.min_freq,
        max_vocab=args.max_vocab,
    )
    tok = tokenizer_from_config(settings, texts)
    tok.save(args.out)
    print(f"saved a {tok.kind} tokenizer with {tok.vocab_size} symbols to {args.out}")
    return 0


# ------------------------------------------------------------------------------------------------ parser
class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one `seqgen: error:` line (with a pointer to --help), exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"seqgen: error: {self.prog}: {message} (see {self.prog} --help)\n")


def _one_line_warnings() -> None:
    """Library warnings (e.g. a sentencepiece vocabulary capped by its corpus) as one line each, and the
    library's `seqgen` logger (what a run does: resuming, <unk> rates) as `seqgen: ...` lines on stderr."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"seqgen: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show
    logger = logging.getLogger("seqgen")
    if not any(isinstance(h, _ConsoleHandler) for h in logger.handlers):
        logger.addHandler(_ConsoleHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False


class _ConsoleHandler(logging.Handler):
    """`seqgen: message` / `seqgen: warning: message` on the current sys.stderr (looked up per record, so it
    follows redirections such as pytest's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        kind = "warning: " if record.levelno >= logging.WARNING else ""
        print(f"seqgen: {kind}{record.getMessage()}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    from seqgen.config import help_text
    from seqgen.run_folder import RunConfig

    p = OneLineErrorParser(prog="seqgen", description="Train, sample and evaluate text generators.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineErrorParser)

    t = sub.add_parser(
        "train",
        help="train a generator",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="seqgen train [RECIPE.yaml] [KEY=VALUE ...]\n\n"
        "Config keys (KEY=VALUE overrides the recipe):\n" + help_text(RunConfig),
    )
    t.add_argument(
        "items", nargs="*", metavar="[RECIPE.yaml] KEY=VALUE", help="optional recipe, then overrides"
    )
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="sample text from a run's generator")
    s.add_argument("run", help="run folder")
    s.add_argument("-n", type=int, default=10, help="number of samples (default 10)")
    s.add_argument("--temperature", type=float, default=1.0, help="sampling temperature; 0 = greedy decoding")
    s.add_argument("--top-k", type=int, default=0, help="keep the k most likely tokens (0 = off)")
    s.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--prefix", default=None, help="text every sample starts with")
    s.add_argument(
        "--max-len",
        type=int,
        default=None,
        help="tokens per sample incl. BOS (default: the run's data.max_len)",
    )
    s.add_argument("--checkpoint", default="best", choices=["best", "last"])
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    s.add_argument("-o", "--output", default=None, help="write samples to this file instead of stdout")
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser(
        "evaluate",
        help="held-out likelihood and sample metrics of a run, or BLEU of a samples file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="seqgen evaluate RUN [--metrics ...] [--temperatures 0.8,1.0] [-o eval.json]\n"
        "seqgen evaluate --samples S.txt --references R.txt [--metrics bleu,self_bleu,sacrebleu]\n\n"
        "Run metrics: nll (held-out NLL/token on --split), and per temperature on --num-samples samples:\n"
        "  bleu, self_bleu   Texygen BLEU-2..5 vs the split's sentences / Self-BLEU-2..5 vs other samples\n"
        "  lm                NLL/token of the samples under a reference LM trained on the real train split\n"
        "  reverse_lm        NLL/token on the split of a fresh LM trained on the samples\n"
        "  classifier        accuracy/AUC of a fresh discriminator telling samples from real sentences\n"
        "  oracle            valid-sample fraction and exact oracle NLL (oracle corpora only)\n"
        "  fed, mauve        Frechet embedding distance / MAUVE (needs --embedding-model)\n"
        "Default: nll,bleu,self_bleu (+ oracle on oracle corpora); 'all' = every metric but fed, mauve.",
    )
    e.add_argument("run", nargs="?", default=None, help="run folder (or use --samples)")
    e.add_argument("--samples", default=None, help="score a plain samples file (one sentence a line) instead")
    e.add_argument("--references", default=None, help="reference sentences for BLEU, one a line")
    _add_sample_metric_options(
        e, default_metrics="comma list of metrics (see above); for --samples: bleu, self_bleu, sacrebleu"
    )
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    e.add_argument("-o", "--output", default=None, help="also write the JSON to this file")
    e.set_defaults(func=cmd_evaluate)

    c = sub.add_parser(
        "compare",
        help="compare runs in tables and quality-diversity plots",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="seqgen compare RUN [RUN ...] [--temperatures 0.7,0.8,1.0,1.2] [--format md|csv|latex] "
        "[-o FILE]\n\nEvaluates every run (a saved `seqgen evaluate -o` JSON file is used as it is) and "
        "prints one table per\nsplit, best value per column marked, plus PNG plots: BLEU-4 vs Self-BLEU-4 "
        "and LM score vs reverse LM\nscore, one curve per run across temperatures.",
    )
    c.add_argument("items", nargs="+", metavar="RUN", help="run folders or saved evaluation .json files")
    _add_sample_metric_options(c, default_metrics="comma list of metrics (default: all, see evaluate --help)")
    c.add_argument("--splits", default="test", help="comma list of splits, one table each (default test)")
    c.add_argument("--labels", default=None, help="comma list of names for the runs (default: folder names)")
    c.add_argument("--format", default="md", choices=["md", "csv", "latex"], help="table format")
    c.add_argument("-o", "--output", default=None, help="write the tables to this file instead of stdout")
    c.add_argument("--plot-dir", default=None, help="folder for the PNG plots (default: that of -o, else .)")
    c.set_defaults(func=cmd_compare)

    tk = sub.add_parser("tokenizer", help="tokenizer tools")
    tsub = tk.add_subparsers(
        dest="tokenizer_command", required=True, metavar="ACTION", parser_class=OneLineErrorParser
    )
    tt = tsub.add_parser("train", help="train a tokenizer on text files and save it")
    tt.add_argument("--kind", required=True, choices=["char", "word", "sentencepiece"])
    tt.add_argument("--input", required=True, action="append", help="corpus (file, folder, ...); repeatable")
    tt.add_argument("--out", required=True, help="folder to save the tokenizer to")
    tt.add_argument("--vocab-size", type=int, default=8000, help="sentencepiece vocabulary size")
    tt.add_argument("--model-type", default="unigram", choices=["unigram", "bpe"])
    tt.add_argument("--min-freq", type=int, default=1, help="word: minimum count")
    tt.add_argument("--max-vocab", type=int, default=0, help="word/char: most symbols kept (0 = all)")
    tt.set_defaults(func=cmd_tokenizer_train)
    return p


def run_command(command: Callable[[], int]) -> int:
    """Run an entry point (this CLI, the demo, a recipe script) as a user sees it: library warnings and the
    `seqgen` logger as one line each, bad input as ONE `seqgen: error:` line with exit status 2 (never a
    traceback), an interrupt as one line with status 130."""
    _one_line_warnings()
    try:
        return command()
    except SeqgenError as e:
        print(f"seqgen: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as e:
        name = Path(e.filename).as_posix() if getattr(e, "filename", None) else ""
        print(f"seqgen: error: {e.strerror or e}{': ' + name if name else ''}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as e:  # training says which checkpoint is on disk and how to resume
        print(f"seqgen: {e}" if str(e) else "seqgen: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
