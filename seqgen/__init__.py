"""seqgen: train text generators on discrete sequences and compare their training objectives honestly.

The Python API mirrors the command line:

    from seqgen import load_config, train, load_run
    cfg = load_config("recipes/caption/mle.yaml", ["model.kind=transformer", "out=runs/x"])
    result = train(cfg)
    gen, tok = load_run("runs/x")
    print(sample_texts(gen, tok, 5, max_len=32, seed=0))
"""

from __future__ import annotations

from typing import Any

from seqgen.errors import SeqgenError
from seqgen.run_folder import Config, load_config

__version__ = "0.1.0"
__all__ = ["Config", "SeqgenError", "load_config", "train", "load_run", "sample_texts", "evaluate_run"]


def train(cfg: Config, **kwargs: Any):
    from seqgen.training.trainer import train as _train

    return _train(cfg, **kwargs)


def load_run(run: str, checkpoint: str = "best"):
    """(generator, tokenizer) of a run folder."""
    from seqgen.run_folder import RunFolder
    from seqgen.tokenization import load_tokenizer

    folder = RunFolder(run).require()
    tok = load_tokenizer(folder.tokenizer_dir)
    return folder.load_generator(checkpoint, tok), tok


def sample_texts(*args: Any, **kwargs: Any) -> list[str]:
    from seqgen.text_sampling import sample_texts as _sample

    return _sample(*args, **kwargs)


def evaluate_run(*args: Any, **kwargs: Any) -> dict:
    from seqgen.evaluation import evaluate_run as _evaluate

    return _evaluate(*args, **kwargs)
