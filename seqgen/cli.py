"""The `seqgen` command: train, sample, evaluate, compare, study, tokenizer, data.

It only parses: every command is one call of the Python API (`seqgen.train`, `seqgen.sample`, ...), which
checks every value once, in the words of its key or flag. Bad input never shows a traceback: every
`SeqgenError` (and OS-level file errors) is printed as one line, ``seqgen: error: ...``, with exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from seqgen.data.download import DOWNLOAD_HELP, download, obw_instructions
from seqgen.errors import SeqgenError
from seqgen.evaluation.metric_names import COMPARE_HELP, EVALUATE_HELP
from seqgen.metrics.score_settings import classifier_defaults_help, lm_defaults_help

EXIT_USAGE = 2


def _check_output(path: str | None) -> None:
    """Refuse an unusable -o before any work is done, naming the user's path."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise SeqgenError(f"-o {path} is a folder; give a file name")
    if not p.parent.is_dir():
        raise SeqgenError(f"-o {path}: folder {p.parent} does not exist")


def _emit(text: str, output: str | None, *, also_stdout: bool = False) -> None:
    """`text` to the -o file (atomically) or to stdout."""
    if output:
        from seqgen.atomic import atomic_write_text

        atomic_write_text(output, text)
    if also_stdout or not output:
        sys.stdout.write(text)


def _temperatures(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise SeqgenError(f"--temperatures expects numbers separated by commas, got {text!r}") from None
    if not values:
        raise SeqgenError("--temperatures needs at least one temperature")
    return values  # their range is checked by the library (evaluate_run)


def _evaluate_settings(args: argparse.Namespace) -> dict:
    """The sample-metric options shared by evaluate and compare, as `seqgen.evaluate` keywords."""
    names = (
        "checkpoint batch_size device num_samples seed tokenize lm reference_lm classifier embedding_model"
    )
    return {k: getattr(args, k) for k in names.split()} | {"temperatures": _temperatures(args.temperatures)}


# ----------------------------------------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace) -> int:
    import seqgen

    items = list(args.items)
    path = items.pop(0) if items and "=" not in items[0] else None
    result = seqgen.train(path, items)
    msg = f"trained {result.step} steps; final train loss {result.train_loss:.4f}"
    if result.best_valid_nll is not None:
        msg += f"; best valid NLL/token {result.best_valid_nll:.4f}"
    print(f"{msg}; run folder: {result.run}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import seqgen
    from seqgen.run_folder import RunFolder

    _check_output(args.output)
    texts = seqgen.sample(
        args.run,
        args.n,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        prefix=args.prefix,
        max_len=args.max_len,
        checkpoint=args.checkpoint,
        device=args.device,
    )
    stream = RunFolder(args.run).load_config().data.mode == "stream"  # a book: samples are paragraphs
    _emit(("\n\n" if stream else "\n").join(texts) + "\n", args.output)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import seqgen
    from seqgen.atomic import strict_json

    _check_output(args.output)
    if args.samples is not None:
        if args.run is not None:
            raise SeqgenError("give either a run folder or --samples, not both")
        result = seqgen.evaluate_samples(
            args.samples, args.references, metrics=args.metrics or "bleu,self_bleu", tokenize=args.tokenize
        )
    elif args.run is None:
        raise SeqgenError("give a run folder, or --samples FILE (with --references FILE for BLEU)")
    else:
        name = Path(args.run).name
        log = (lambda msg: print(f"seqgen: {name}: {msg}", file=sys.stderr)) if args.verbose else None
        result = seqgen.evaluate(
            args.run, metrics=args.metrics, split=args.split, log=log, **_evaluate_settings(args)
        )
    _emit(strict_json(result, indent=2) + "\n", args.output, also_stdout=True)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import seqgen

    _check_output(args.output)
    plot_dir = args.plot_dir or (str(Path(args.output).parent) if args.output else ".")
    text, plots = seqgen.compare(
        args.items,
        splits=[s.strip() for s in args.splits.split(",") if s.strip()],
        labels=[x.strip() for x in args.labels.split(",")] if args.labels else None,
        fmt=args.format,
        plot_dir=plot_dir,
        metrics=args.metrics or "all",
        **_evaluate_settings(args),
    )
    _emit(text + "\n", args.output)
    for p in [args.output, *plots] if args.output else plots:
        print(f"seqgen: wrote {p}", file=sys.stderr)
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    import seqgen

    files = seqgen.study(args.spec, args.out, scale=args.scale)
    for p in files:
        print(f"seqgen: wrote {p}", file=sys.stderr)
    print(f"study report: {Path(args.out) / 'report' / 'report.md'}")
    return 0


def cmd_data_download(args: argparse.Namespace) -> int:
    if args.name == "obw":
        print(obw_instructions(args.dir))
        return 0
    for f in download(args.name, args.dir, mirror=args.mirror):
        print(f"{f.status}: {f.path} ({f.size:,} bytes, SHA-256 checked)")
    return 0


def cmd_tokenizer_train(args: argparse.Namespace) -> int:
    from seqgen.data.corpus import load_corpus
    from seqgen.data.run_data import tokenizer_from_config
    from seqgen.tokenization import TokenizerConfig

    parts = [load_corpus(src) for src in args.input]  # Arrow tables: the corpus never becomes Python strings
    texts = parts[0] if len(parts) == 1 else __import__("datasets").concatenate_datasets(parts)
    settings = TokenizerConfig(
        kind=args.kind,
        vocab_size=args.vocab_size,
        model_type=args.model_type,
        min_freq=args.min_freq,
        max_vocab=args.max_vocab,
        split=args.split,
    )
    tok = tokenizer_from_config(settings, texts)
    tok.save(args.out)
    print(f"saved a {tok.kind} tokenizer with {tok.vocab_size} symbols to {args.out}")
    return 0


# ------------------------------------------------------------------------------------------------ parser
class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one `seqgen: error:` line (with a pointer to --help), exit status 2;
    descriptions are shown as written (RawDescriptionHelpFormatter)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{"formatter_class": argparse.RawDescriptionHelpFormatter, **kwargs})

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"seqgen: error: {self.prog}: {message} (see {self.prog} --help)\n")


def _add_train(sub: argparse._SubParsersAction) -> None:
    from seqgen.config import help_text
    from seqgen.run_folder import RunConfig

    t = sub.add_parser(
        "train",
        help="train a generator",
        description="seqgen train [RECIPE.yaml] [KEY=VALUE ...]\n\n"
        "Config keys (KEY=VALUE overrides the recipe):\n" + help_text(RunConfig),
    )
    t.add_argument(
        "items", nargs="*", metavar="[RECIPE.yaml] KEY=VALUE", help="optional recipe, then overrides"
    )
    t.set_defaults(func=cmd_train)


def _add_sample(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sample", help="sample text from a run's generator")
    s.add_argument("run", help="run folder")
    s.add_argument("-n", type=int, default=10, help="number of samples (default 10)")
    s.add_argument("--temperature", type=float, default=1.0, help="sampling temperature; 0 = greedy decoding")
    s.add_argument("--top-k", type=int, default=0, help="keep the k most likely tokens (0 = off)")
    s.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--prefix", default=None, help="text every sample starts with")
    s.add_argument(
        "--max-len", type=int, default=None, help="tokens per sample incl. BOS (default: data.max_len)"
    )
    s.add_argument("--checkpoint", default="best", choices=["best", "last"])
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    s.add_argument("-o", "--output", default=None, help="write samples to this file instead of stdout")
    s.set_defaults(func=cmd_sample)


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
    p.add_argument("--temperatures", default="1.0", help="comma list of sampling temperatures (0 = greedy)")
    p.add_argument(
        "--lm",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="LM score / reverse LM settings (repeatable); the reference LM's recipe, then the reverse LM's "
        f"(reverse_*). Defaults: {lm_defaults_help()}",
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
        help="two-sample classifier settings (repeatable; kind: cnn, rnn or transformer). Defaults: "
        f"{classifier_defaults_help()}",
    )
    p.add_argument("--embedding-model", default=None, metavar="DIR", help="local sentence-embedding model")
    p.add_argument("--device", default=None)
    p.add_argument("-v", "--verbose", action="store_true", help="say what is being computed")


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "evaluate", help="metrics of a run, or BLEU of a samples file", description=EVALUATE_HELP
    )
    e.add_argument("run", nargs="?", default=None, help="run folder (or use --samples)")
    e.add_argument("--samples", default=None, help="score a plain samples file (one sentence a line) instead")
    e.add_argument("--references", default=None, help="reference sentences for BLEU, one a line")
    _add_sample_metric_options(
        e, default_metrics="comma list of metrics (see above); --samples: bleu, self_bleu, sacrebleu"
    )
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    e.add_argument("-o", "--output", default=None, help="also write the JSON to this file")
    e.set_defaults(func=cmd_evaluate)


def _add_compare(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser(
        "compare", help="compare runs in tables and quality-diversity plots", description=COMPARE_HELP
    )
    c.add_argument("items", nargs="+", metavar="RUN", help="run folders or saved evaluation .json files")
    _add_sample_metric_options(c, default_metrics="comma list of metrics (default: all, see evaluate --help)")
    c.add_argument("--splits", default="test", help="comma list of splits, one table each (default test)")
    c.add_argument("--labels", default=None, help="comma list of names for the runs (default: folder names)")
    c.add_argument("--format", default="md", choices=["md", "csv", "latex"], help="table format")
    c.add_argument("-o", "--output", default=None, help="write the tables to this file instead of stdout")
    c.add_argument("--plot-dir", default=None, help="folder for the PNG plots (default: that of -o, else .)")
    c.set_defaults(func=cmd_compare)


def _add_study(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser(
        "study",
        help="train a base run and its arms, evaluate and compare them all",
        description="seqgen study SPEC.yaml --out DIR [--scale smoke|cpu|paper]\n\nTrains DIR/base, then "
        "every arm of the spec from it for the same budget (finished runs are reused, broken ones resumed: "
        "run it again to continue), evaluates them, and writes DIR/report/ (tables, plots, report.md).",
    )
    st.add_argument("spec", help="study spec (e.g. recipes/caption/study.yaml)")
    st.add_argument("--out", required=True, help="folder of the study's run folders and report")
    st.add_argument("--scale", default="cpu", choices=["smoke", "cpu", "paper"], help="sizes (default cpu)")
    st.set_defaults(func=cmd_study)


def _add_tokenizer(sub: argparse._SubParsersAction) -> None:
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
    tt.add_argument("--split", default="whitespace", choices=["whitespace", "treebank"], help="word: how")
    tt.set_defaults(func=cmd_tokenizer_train)


def _add_data(sub: argparse._SubParsersAction) -> None:
    dsub = sub.add_parser("data", help="public corpora").add_subparsers(
        dest="data_command", required=True, metavar="ACTION", parser_class=OneLineErrorParser
    )
    dd = dsub.add_parser("download", help="fetch a corpus, SHA-256 checked", description=DOWNLOAD_HELP)
    dd.add_argument("name", metavar="NAME", help="coco, emnlp_news, tinyshakespeare or obw")
    dd.add_argument("--dir", default="data", help="folder the corpus folder goes in (default data)")
    dd.add_argument("--mirror", default=None, metavar="URL", help="fetch URL/NAME/FILE instead (or a folder)")
    dd.set_defaults(func=cmd_data_download)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(prog="seqgen", description="Train, sample and evaluate text generators.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineErrorParser)
    for add in (_add_train, _add_sample, _add_evaluate, _add_compare, _add_study, _add_tokenizer, _add_data):
        add(sub)
    return p


# ------------------------------------------------------------------------------------------- running
class _ConsoleHandler(logging.Handler):
    """`seqgen: message` / `seqgen: warning: message` on the current sys.stderr (looked up per record, so it
    follows redirections such as pytest's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        kind = "warning: " if record.levelno >= logging.WARNING else ""
        print(f"seqgen: {kind}{record.getMessage()}", file=sys.stderr)


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
    logger.setLevel(logging.DEBUG if os.environ.get("SEQGEN_DEBUG") else logging.INFO)  # SEQGEN_DEBUG=1: all
    logger.propagate = False


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
