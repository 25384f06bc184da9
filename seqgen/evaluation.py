"""`seqgen evaluate`: every number a comparison needs, with every setting needed to reproduce it.

A run folder gets its held-out likelihood on one split and, for each sampling temperature, sample metrics of
`num_samples` samples (seeded): Texygen BLEU against the split's sentences, Self-BLEU, LM score, reverse LM
score, the classifier two-sample test, exact oracle metrics on an oracle corpus, and FED/MAUVE from a local
embedding model. A plain samples file gets BLEU/Self-BLEU (and sacrebleu against aligned references).
Definitions: DESIGN §6 and the docstrings of the `seqgen.metrics` modules.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from seqgen.errors import SeqgenError

# Metrics of a run. "nll" is the held-out likelihood; the others are computed on samples, per temperature.
RUN_METRICS = ("nll", "bleu", "self_bleu", "lm", "reverse_lm", "classifier", "oracle", "fed", "mauve")
SAMPLE_METRICS = tuple(m for m in RUN_METRICS if m != "nll")
DEFAULT_RUN_METRICS = ("nll", "bleu", "self_bleu", "oracle")  # cheap: no model is trained to compute them
ALL_METRICS = ("nll", "bleu", "self_bleu", "lm", "reverse_lm", "classifier", "oracle")  # --metrics all
ORACLE_CORPORA = ("caption", "oracle", "seqgan_oracle")
EXACT_KEYS = ("kl_p_q", "kl_q_p", "js", "tv", "kl_q_product", "kl_p_product")
TEXT_METRICS = ("bleu", "self_bleu", "sacrebleu")


def parse_metrics(text: str | Sequence[str] | None, allowed: Sequence[str], default: Sequence[str]) -> tuple:
    """A metric list from 'a,b' (or 'all'); unknown names are one-line errors naming the choices."""
    if text is None:
        return tuple(default)
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    if names == ["all"]:
        return tuple(m for m in ALL_METRICS if m in allowed)
    if not names:
        raise SeqgenError(f"no metrics given; choose from {', '.join(allowed)} (or all)")
    for m in names:
        if m not in allowed:
            raise SeqgenError(f"unknown metric {m!r}; choose from {', '.join(allowed)} (or all)")
    return tuple(dict.fromkeys(names))


def _check_settings(num_samples: int, temperatures: Sequence[float], batch_size: int) -> None:
    if num_samples < 0:
        raise SeqgenError(f"--num-samples must not be negative, got {num_samples}")
    if batch_size < 1:
        raise SeqgenError(f"--batch-size must be at least 1, got {batch_size}")
    if not temperatures:
        raise SeqgenError("--temperatures needs at least one temperature")
    for t in temperatures:
        if not t > 0:
            raise SeqgenError(f"temperatures must be positive, got {t}")


def evaluate_run(
    run_path: str | Path,
    *,
    metrics: Sequence[str] | str | None = None,
    split: str = "test",
    checkpoint: str = "best",
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    num_samples: int = 1000,
    seed: int = 0,
    temperature: float | None = None,
    temperatures: Sequence[float] = (1.0,),
    tokenize: str = "treebank",
    lm_settings: Any = None,
    reference_lm: str | Path | None = None,
    classifier: dict[str, Any] | None = None,
    embedding_model: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Held-out likelihood and per-temperature sample metrics of a run (see the module docstring).

    The result holds "nll", "ppl", "tokens" (and "bpc" for char models) at the top, "settings" with everything
    that defines the numbers, and "samples": one dict per temperature with that temperature's metrics.
    """
    from seqgen.data.encoding import unk_fraction
    from seqgen.metrics.likelihood import heldout_nll
    from seqgen.metrics.text_tokenize import _check_scheme
    from seqgen.run_folder import RunFolder
    from seqgen.training.setup import load_run_data
    from seqgen.training.trainer import UNK_WARNING

    say = log or (lambda _msg: None)
    if temperature is not None:
        temperatures = (temperature,)
    temperatures = tuple(float(t) for t in temperatures)
    _check_settings(num_samples, temperatures, batch_size)
    _check_scheme(tokenize)
    run = RunFolder(run_path).require()
    cfg = run.load_config_for_reading()
    stream = cfg.data.mode == "stream"
    oracle = cfg.data.train in ORACLE_CORPORA and not stream
    default = ("nll",) if stream else tuple(m for m in DEFAULT_RUN_METRICS if m != "oracle" or oracle)
    chosen = parse_metrics(metrics, RUN_METRICS, default)
    if isinstance(metrics, str) and metrics.strip() == "all":  # all that apply to this run
        chosen = ("nll",) if stream else tuple(m for m in chosen if m != "oracle" or oracle)
    sample_metrics = [m for m in chosen if m in SAMPLE_METRICS]
    if sample_metrics and stream:
        raise SeqgenError(
            f"metric {sample_metrics[0]} needs sentence samples, but run {run.path} is a stream-mode run "
            "(data.mode=stream); only nll applies"
        )
    if "oracle" in chosen and not oracle:
        raise SeqgenError(
            f"metric oracle needs a run trained on an oracle corpus (data.train={cfg.data.train}; "
            f"oracle corpora: {', '.join(ORACLE_CORPORA)})"
        )
    if any(m in chosen for m in ("fed", "mauve")) and not embedding_model:
        raise SeqgenError(
            "metrics fed and mauve need --embedding-model DIR (a local sentence-embedding model)"
        )
    if sample_metrics and num_samples == 0:
        sample_metrics = []
    run.generator_for(checkpoint)  # fail early, before the data is loaded, if there is none
    start = time.perf_counter()
    data = load_run_data(cfg, run, splits=(split,))
    ds = getattr(data, split)
    if ds is None:
        raise SeqgenError(f"run {run.path} has no {split} split (set data.{split} when training)")
    gen = run.load_generator(checkpoint, data.tokenizer).to(device)
    result: dict[str, Any] = {
        "run": str(run.path),
        "checkpoint": checkpoint,
        "split": split,
        "split_rule": data.rule,
    }
    settings: dict[str, Any] = {"metrics": list(chosen), "checkpoint": checkpoint, "split": split}
    result["settings"] = settings  # filled in below; first in the file so a reader sees it before the numbers
    if "nll" in chosen:
        say(f"held-out NLL on {split}")
        result.update(
            heldout_nll(
                gen,
                ds,
                pad_id=data.tokenizer.pad_id,
                batch_size=batch_size,
                device=device,
                char_level=getattr(data.tokenizer, "is_char_level", False),
            )
        )
        # Every <unk> is a word the model never has to predict: a high rate flatters the NLL.
        result["unk_fraction"] = unk_fraction(ds, data.tokenizer)
        if result["unk_fraction"] > UNK_WARNING:
            logging.getLogger("seqgen").warning(
                "%.1f%% of the %s split's tokens are <unk>: the NLL does not count those words",
                100 * result["unk_fraction"],
                split,
            )
    if "oracle" in chosen and cfg.data.train == "oracle":
        say("exact divergences over every oracle sequence")
        result.update(exact_divergences(gen, cfg.data))
    if sample_metrics:
        scorer = _SampleScorer(
            sample_metrics,
            _SplitTexts(cfg, split),
            tokenize=tokenize,
            lm_settings=lm_settings,
            reference_lm=reference_lm,
            classifier=classifier or {},
            embedding_model=embedding_model,
            seed=seed,
            device=device,
            say=say,
        )
        settings.update(
            num_samples=num_samples,
            seed=seed,
            temperatures=list(temperatures),
            max_len=cfg.data.max_len,
            **scorer.settings(),
        )
        rows = []
        for t in temperatures:
            from seqgen.text_sampling import sample_texts

            say(f"sampling {num_samples} at temperature {t}")
            samples = sample_texts(
                gen, data.tokenizer, num_samples, max_len=cfg.data.max_len, seed=seed, temperature=t
            )
            rows.append({"temperature": t, "num_samples": len(samples), **scorer.score(samples)})
        result["samples"] = rows
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result


def exact_divergences(generator: Any, data: Any) -> dict[str, float]:
    """KL(P||Q), KL(Q||P), JS (pi = 0.5), total variation and the KLs to the product of P's marginals, exact
    over all V^L sequences of the enumerable oracle (Q restricted to the oracle's symbols, renormalised)."""
    from seqgen.data.oracle import model_distribution
    from seqgen.data.oracle_corpus import build_oracle
    from seqgen.metrics.divergences import oracle_divergences

    oracle = build_oracle(data)
    q = model_distribution(generator, oracle)
    out = oracle_divergences(oracle.probs, q, oracle.product_of_marginals())
    return {k: out[k] for k in EXACT_KEYS}


def oracle_sample_metrics(data: Any, samples: list[str]) -> dict[str, float]:
    """Sample metrics that only a known distribution allows: valid fraction, exact oracle NLL per token of
    the valid samples, distinct fraction (caption language: EOS counted; symbol oracles: per symbol)."""
    if data.train == "caption":
        from seqgen.metrics.caption_oracle import caption_sample_metrics

        out = caption_sample_metrics(samples)
    else:
        from seqgen.data.oracle_corpus import build_oracle

        oracle = build_oracle(data)
        if data.train == "seqgan_oracle":
            out = oracle.sample_metrics(samples)
        else:
            seqs, valid = oracle.parse(samples)
            n = len(samples)
            nll = (
                -float(oracle.log_prob(seqs).sum()) / (len(seqs) * oracle.length)
                if len(seqs)
                else float("inf")
            )
            out = {
                "valid_fraction": float(valid.sum()) / max(n, 1),
                "oracle_nll": nll,
                "oracle_optimal_nll": oracle.entropy() / oracle.length,
                "distinct_fraction": len(set(samples)) / max(n, 1),
            }
    out.pop("num_samples", None)
    return out


class _SplitTexts:
    """The run's real sentences by split, read once and only when a metric needs them."""

    def __init__(self, cfg: Any, split: str) -> None:
        self.cfg, self.split, self._splits = cfg, split, None

    def get(self, name: str) -> list[str]:
        from seqgen.data.corpus import resolve_splits

        if self._splits is None:
            self._splits = resolve_splits(self.cfg.data)
        ds = getattr(self._splits, name)
        if ds is None:
            raise SeqgenError(f"this metric needs a {name} split, and the run has none (set data.{name})")
        return list(ds["text"])

    @property
    def evaluated(self) -> list[str]:
        return self.get(self.split)


class _SampleScorer:
    """Computes the chosen sample metrics of one batch of samples; the per-corpus pieces (reference table,
    reference LM, word tokenizer) are built once and reused across temperatures."""

    def __init__(
        self,
        metrics: Sequence[str],
        texts: _SplitTexts,
        *,
        tokenize: str,
        lm_settings: Any,
        reference_lm: str | Path | None,
        classifier: dict[str, Any],
        embedding_model: str | Path | None,
        seed: int,
        device: Any,
        say: Callable[[str], None],
    ) -> None:
        from seqgen.metrics.lm_score import LMSettings

        self.metrics, self.texts, self.tokenize = list(metrics), texts, tokenize
        self.lm_settings = lm_settings or LMSettings()
        self.reference_lm_path = reference_lm
        self.classifier = dict(classifier)
        self.embedding_model, self.seed, self.device, self.say = embedding_model, seed, device, say
        self._refs_table = None
        self._ref_lm = None
        self._ref_info: dict[str, Any] = {}

    # ------------------------------------------------------------------ shared pieces
    def _references(self):
        if self._refs_table is None:
            from seqgen.metrics.bleu import ReferenceTable
            from seqgen.metrics.text_tokenize import tokenize_lines

            self._refs_table = ReferenceTable(tokenize_lines(self.texts.evaluated, self.tokenize))
        return self._refs_table

    def _reference_lm(self):
        if self._ref_lm is None:
            from seqgen.metrics.lm_score import reference_lm, reference_lm_from_run

            if self.reference_lm_path:
                self._ref_lm = reference_lm_from_run(self.reference_lm_path, self.lm_settings, self.device)
            else:
                self.say("reference LM: loading or training (cached per corpus)")
                self._ref_lm = reference_lm(
                    self.texts.get("train"), self.texts.get("valid"), self.lm_settings, device=self.device
                )
            info = self._ref_lm.info
            self._ref_info = {
                k: info[k]
                for k in ("cache", "source", "valid_nll", "steps", "best_step", "vocab_size")
                if k in info
            }
        return self._ref_lm

    def settings(self) -> dict[str, Any]:
        from seqgen.metrics.bleu import protocol

        out: dict[str, Any] = {}
        if {"bleu", "self_bleu"} & set(self.metrics):
            out["tokenize"] = self.tokenize
            out["protocol"] = protocol(self.tokenize)
        if "bleu" in self.metrics:
            out["references"] = f"{self.texts.split} split ({len(self.texts.evaluated)} sentences)"
        if {"lm", "reverse_lm", "classifier"} & set(self.metrics):
            if {"lm", "reverse_lm"} & set(self.metrics):
                self._reference_lm()  # its provenance (cache folder, validation NLL) goes in the settings
            out["lm_settings"] = asdict(self.lm_settings)
            if self._ref_info:
                out["reference_lm"] = self._ref_info
        if "reverse_lm" in self.metrics:
            out["reverse_lm"] = (
                f"fresh LM (lm_settings) trained on the samples, stopped early on the valid split, "
                f"NLL/token on the {self.texts.split} split"
            )
        if "classifier" in self.metrics:
            out["classifier"] = {"real": f"{self.texts.split} split", **self.classifier}
        if {"fed", "mauve"} & set(self.metrics):
            out["embedding_model"] = str(self.embedding_model)
        return out

    # ------------------------------------------------------------------ one batch of samples
    def score(self, samples: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        m = set(self.metrics)
        if m & {"bleu", "self_bleu"}:
            from seqgen.metrics.bleu import self_bleu
            from seqgen.metrics.text_tokenize import tokenize_lines

            hyps = tokenize_lines(samples, self.tokenize)
            if "bleu" in m:
                stats = self._references().stats(hyps)
                out.update({f"bleu{n}": stats.mean(n) for n in (2, 3, 4, 5)})
            if "self_bleu" in m:
                out.update(self_bleu(hyps))
        if "oracle" in m:
            out.update(oracle_sample_metrics(self.texts.cfg.data, samples))
        if "lm" in m:
            from seqgen.metrics.lm_score import lm_score

            out.update(lm_score(self._reference_lm(), samples))
        if "reverse_lm" in m:
            from seqgen.metrics.lm_score import reverse_lm_score

            self.say("reverse LM: training on the samples")
            out.update(
                reverse_lm_score(
                    self._reference_lm(),
                    samples,
                    self.texts.get("valid"),
                    self.texts.evaluated,
                    device=self.device,
                )
            )
        if "classifier" in m:
            out.update(self._classifier(samples))
        if m & {"fed", "mauve"}:
            from seqgen.metrics.embeddings import embedding_metrics

            emb = embedding_metrics(
                samples,
                self.texts.evaluated,
                self.embedding_model,
                metrics=tuple(x for x in ("fed", "mauve") if x in m),
                seed=self.seed,
                device=self.device,
            )
            out.update({k: emb.pop(k) for k in ("fed", "mauve") if k in emb})
            out["embeddings"] = emb  # model, pooling, sizes, MAUVE settings: what the numbers depend on
        return out

    def _classifier(self, samples: list[str]) -> dict[str, Any]:
        from seqgen.metrics.lm_score import encode_rows, word_tokenizer
        from seqgen.metrics.two_sample import classifier_two_sample_test

        self.say("classifier two-sample test")
        tok = self._ref_lm.tokenizer if self._ref_lm is not None else self._word_tokenizer(word_tokenizer)
        max_len = self.lm_settings.max_len
        real = self.texts.evaluated
        res = classifier_two_sample_test(
            encode_rows(tok, real, max_len),
            encode_rows(tok, samples, max_len),
            vocab_size=tok.vocab_size,
            pad_id=tok.pad_id,
            seed=self.seed,
            device=self.device,
            **self.classifier,
        )
        return {
            "classifier_accuracy": res["accuracy"],
            "classifier_auc": res["auc"],
            "classifier": {k: v for k, v in res.items() if k not in ("accuracy", "auc")},
        }

    def _word_tokenizer(self, build: Callable) -> Any:
        if not hasattr(self, "_tok"):
            self._tok = build(self.texts.get("train"), self.lm_settings)
        return self._tok


def evaluate_samples(
    samples: str | Path,
    references: str | Path | None = None,
    *,
    metrics: tuple[str, ...] = ("bleu", "self_bleu"),
    tokenize: str = "treebank",
) -> dict[str, Any]:
    """Texygen BLEU-2..5 of a samples file against a references file, Self-BLEU-2..5 of the samples, and
    sacrebleu corpus BLEU against aligned references, with every setting that defines the numbers (files,
    tokenization, protocol, sacrebleu signature) in the result."""
    from seqgen.metrics.bleu import bleu, protocol, self_bleu
    from seqgen.metrics.text_tokenize import read_lines, tokenize_file

    metrics = parse_metrics(metrics, TEXT_METRICS, ("bleu", "self_bleu"))
    if {"bleu", "sacrebleu"} & set(metrics) and references is None:
        need = "bleu" if "bleu" in metrics else "sacrebleu"
        raise SeqgenError(f"metric {need} needs --references (one reference sentence a line)")
    start = time.perf_counter()
    result: dict[str, Any] = {"samples": str(samples)}
    if {"bleu", "self_bleu"} & set(metrics):
        hyps = tokenize_file(samples, tokenize)
        result.update({"num_samples": len(hyps), "tokenize": tokenize, "protocol": protocol(tokenize)})
        if "bleu" in metrics:
            refs = tokenize_file(references, tokenize)
            result.update({"references": str(references), "num_references": len(refs), **bleu(hyps, refs)})
        if "self_bleu" in metrics:
            result.update(self_bleu(hyps))
    if "sacrebleu" in metrics:
        from seqgen.metrics.sacrebleu_score import sacrebleu_corpus

        hyp_lines = read_lines(samples)
        result.setdefault("num_samples", len(hyp_lines))
        result["references"] = str(references)
        result.update(sacrebleu_corpus(hyp_lines, read_lines(references)))
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result
