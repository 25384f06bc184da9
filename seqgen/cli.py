"""The `seqgen` command: train, sample, evaluate, tokenizer.

Bad input never shows a traceback: every `SeqgenError` (and OS-level file errors) is printed as one line,
``seqgen: error: ...``, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
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
    from seqgen.config import load_config
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
    from seqgen.text_sampling import sample_texts
    from seqgen.tokenization import load_tokenizer
    from seqgen.training.run_folder import RunFolder

    _check_output(args.output)
    run = RunFolder(args.run).require()
    cfg = run.load_config()
    if args.max_len and args.max_len < 2:
        raise SeqgenError(f"--max-len must be at least 2 (BOS and one token), got {args.max_len}")
    if args.top_k < 0:
        raise SeqgenError(f"--top-k must not be negative, got {args.top_k}")
    if args.n < 1:
        raise SeqgenError(f"-n must be at least 1, got {args.n}")
    if args.temperature <= 0:
        raise SeqgenError(f"--temperature must be positive, got {args.temperature}")
    if not 0 < args.top_p <= 1:
        raise SeqgenError(f"--top-p must be in (0, 1], got {args.top_p}")
    tok = load_tokenizer(run.tokenizer_dir)
    gen = run.load_generator(args.checkpoint, tok).to(_device(args.device))
    texts = sample_texts(
        gen,
        tok,
        args.n,
        max_len=args.max_len or cfg.data.max_len,
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
def cmd_evaluate(args: argparse.Namespace) -> int:
    from seqgen.evaluation import evaluate_run, evaluate_samples

    _check_output(args.output)
    if args.samples is not None:
        if args.run is not None:
            raise SeqgenError("give either a run folder or --samples, not both")
        metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
        result = evaluate_samples(args.samples, args.references, metrics=metrics, tokenize=args.tokenize)
        sys.stdout.write(_write_json(result, args.output))
        return 0
    if args.run is None:
        raise SeqgenError("give a run folder, or --samples FILE (with --references FILE for BLEU)")
    if args.batch_size < 1:
        raise SeqgenError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.num_samples < 0:
        raise SeqgenError(f"--num-samples must not be negative, got {args.num_samples}")
    result = evaluate_run(
        args.run,
        split=args.split,
        checkpoint=args.checkpoint,
        batch_size=args.batch_size,
        device=_device(args.device),
        num_samples=args.num_samples,
        seed=args.seed,
    )
    sys.stdout.write(_write_json(result, args.output))
    return 0


# -------------------------------------------------------------------------------------------- tokenizer
def cmd_tokenizer_train(args: argparse.Namespace) -> int:
    from seqgen.config import TokenizerConfig
    from seqgen.data.corpus import load_corpus
    from seqgen.training.setup import tokenizer_from_config

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
    """Library warnings (e.g. a sentencepiece vocabulary capped by its corpus) as one line each."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"seqgen: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def build_parser() -> argparse.ArgumentParser:
    from seqgen.config import help_text

    p = OneLineErrorParser(prog="seqgen", description="Train, sample and evaluate text generators.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineErrorParser)

    t = sub.add_parser(
        "train",
        help="train a generator",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="seqgen train [RECIPE.yaml] [KEY=VALUE ...]\n\n"
        "Config keys (KEY=VALUE overrides the recipe):\n" + help_text(),
    )
    t.add_argument(
        "items", nargs="*", metavar="[RECIPE.yaml] KEY=VALUE", help="optional recipe, then overrides"
    )
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="sample text from a run's generator")
    s.add_argument("run", help="run folder")
    s.add_argument("-n", type=int, default=10, help="number of samples (default 10)")
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--top-k", type=int, default=0, help="keep the k most likely tokens (0 = off)")
    s.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--prefix", default=None, help="text every sample starts with")
    s.add_argument(
        "--max-len", type=int, default=0, help="tokens per sample incl. BOS (default: data.max_len)"
    )
    s.add_argument("--checkpoint", default="best", choices=["best", "last"])
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    s.add_argument("-o", "--output", default=None, help="write samples to this file instead of stdout")
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser(
        "evaluate", help="held-out likelihood of a run (and sample metrics on the caption language)"
    )
    e.add_argument("run", nargs="?", default=None, help="run folder (or use --samples)")
    e.add_argument("--samples", default=None, help="score a plain samples file (one sentence a line) instead")
    e.add_argument("--references", default=None, help="reference sentences for BLEU, one a line")
    e.add_argument("--metrics", default="bleu,self_bleu", help="for --samples: comma list of bleu, self_bleu")
    e.add_argument(
        "--tokenize",
        default="treebank",
        choices=["treebank", "13a", "whitespace"],
        help="BLEU tokenization: treebank = nltk word_tokenize(preserve_line=True), Texygen's (default)",
    )
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    e.add_argument("--checkpoint", default="best", choices=["best", "last"])
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument(
        "--num-samples",
        type=int,
        default=1000,
        help="samples for sample metrics on the caption language (0 = none)",
    )
    e.add_argument("--seed", type=int, default=0, help="seed of those samples")
    e.add_argument("--device", default=None)
    e.add_argument("-o", "--output", default=None, help="also write the JSON to this file")
    e.set_defaults(func=cmd_evaluate)

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _one_line_warnings()
    try:
        return args.func(args)
    except SeqgenError as e:
        print(f"seqgen: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as e:
        name = Path(e.filename).as_posix() if getattr(e, "filename", None) else ""
        print(f"seqgen: error: {e.strerror or e}{': ' + name if name else ''}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("seqgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
