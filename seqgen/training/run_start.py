"""What a run starts with and leaves beside its checkpoints: its generator (fresh, or another run's), the
oracle it may train on, the facts run.json records, the lines that say how it starts (resumed from which
step, <unk> rates), and the samples written at each validation."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from seqgen.atomic import atomic_write_text
from seqgen.data.encoding import UNK_WARNING, count_tokens
from seqgen.data.run_data import RunData, load_run_data, saved_tokenizer
from seqgen.errors import SeqgenError
from seqgen.models import Generator, build_generator, load_generator
from seqgen.run_folder import RunConfig, RunFolder
from seqgen.text_sampling import sample_texts

if TYPE_CHECKING:
    from seqgen.tokenization import Tokenizer

log = logging.getLogger("seqgen")


def training_data(cfg: RunConfig, run: RunFolder, accelerator: Any = None) -> RunData:
    """The train and valid splits, encoded, with the run's tokenizer: its own when resuming (once it has
    one), init_from's, or the one `tokenizer.*` describes (loaded from tokenizer.path or trained).

    Under several processes the main one reads, counts and encodes first, filling the datasets cache and
    seqgen's tokenizer cache, while the others wait; then they read the same results from the caches, so a
    corpus is encoded once, not once per process."""
    own = cfg.resume and run.tokenizer_dir.is_dir()
    source = run if own else RunFolder(cfg.init_from).require() if cfg.init_from else None
    first = accelerator.main_process_first() if accelerator is not None else nullcontext()
    with first:
        tokenizer = saved_tokenizer(cfg.data, cfg.tokenizer, source.tokenizer_dir if source else None)
        return load_run_data(cfg.data, cfg.tokenizer, tokenizer, splits=("train", "valid"))


def initial_generator(cfg: RunConfig, tokenizer: Tokenizer) -> Generator:
    """The generator the first step trains: init_from's, or a fresh one for `model.*` (the caller seeds)."""
    tok = tokenizer
    if cfg.init_from:
        gen = load_generator(RunFolder(cfg.init_from).generator_for("best"))
        if gen.vocab_size != tok.vocab_size:
            raise SeqgenError(f"init_from {cfg.init_from}: generator vocabulary does not match its tokenizer")
        return gen
    return build_generator(cfg.model, tok.vocab_size, pad_id=tok.pad_id, bos_id=tok.bos_id, eos_id=tok.eos_id)


def oracle_of(cfg: RunConfig) -> Any:
    """The enumerable oracle the run trains on, if any (objectives follow its symbol convention)."""
    if cfg.data.train != "oracle":
        return None
    from seqgen.data.oracles.corpus import build_oracle

    return build_oracle(cfg.data)


def run_info(
    data: Any, tokenizer: Tokenizer, unk: dict[str, float], generator: Generator, accelerator: Any
) -> dict:
    """The facts of a new run that run.json records (besides its corpus paths)."""
    streamed = not hasattr(data.train, "__len__")
    return {
        "split_rule": data.rule,
        "train_rows": None if streamed else len(data.train),  # a stream's length is unknown until read
        "train_tokens": None if streamed else count_tokens(data.train),
        "valid_tokens": count_tokens(data.valid) if data.valid is not None else None,
        "unk_fraction": unk,
        "vocab_size": tokenizer.vocab_size,
        "parameters": generator.num_parameters(),
        "processes": accelerator.num_processes,
        "mixed_precision": accelerator.mixed_precision,
    }


def announce(cfg: RunConfig, run: RunFolder, step: int, from_checkpoint: bool, unk: dict, kind: str) -> None:
    """How the run starts, one line each; a warning for every split whose <unk> rate is above 5%."""
    if from_checkpoint:
        log.info("resuming %s from step %d", run.path, step)
    elif cfg.resume:
        log.info("%s has no checkpoint yet: starting it from step 0", run.path)
    if cfg.init_from:
        log.info("starting from the generator of %s (its data, tokenizer and model settings)", cfg.init_from)
    log.info("<unk> tokens: %s", ", ".join(f"{split} {100 * v:.2f}%" for split, v in unk.items()))
    for split, v in unk.items():
        if v > UNK_WARNING:
            log.warning(
                "%.1f%% of the %s split's tokens are <unk> (more than %.0f%%): the %s tokenizer does not "
                "cover this corpus; every <unk> hides a word from the model and the metrics",
                100 * v,
                split,
                100 * UNK_WARNING,
                kind,
            )


def write_samples(
    run: RunFolder, generator: Generator, tokenizer: Tokenizer, cfg: RunConfig, *, step: int
) -> None:
    """RUN/samples/step-N.txt: `train.num_samples` samples at a validation, seeded by (seed, step)."""
    texts = sample_texts(
        generator,
        tokenizer,
        cfg.train.num_samples,
        max_len=cfg.data.max_len,
        stream=cfg.data.mode == "stream",
        seed=cfg.train.seed * 7919 + step,
    )
    run.samples_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.samples_dir / f"step-{step}.txt", "\n".join(texts) + "\n")
