"""Scoring samples: the sample metrics of a run at one temperature (`SampleScorer`), and BLEU / Self-BLEU /
sacrebleu of a plain samples file (`evaluate_samples`). Definitions: DESIGN §6 and the `seqgen.metrics`
modules.

Every slow phase of a cell (sampling, BLEU, Self-BLEU, LM score, reverse LM, classifier; the reference LM
when it is trained) shows a progress bar naming the run and temperature when `progress` is on and stderr is
a terminal (`seqgen.metrics.progress`). The reverse LM and the classifier get seeds of their own, derived
from the evaluation's seed (`derived_seed`) and recorded in the settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from seqgen.data.corpus import resolve_splits
from seqgen.errors import SeqgenError
from seqgen.evaluation.metric_names import TEXT_METRICS, parse_metrics
from seqgen.evaluation.oracle import oracle_sample_metrics
from seqgen.metrics.bleu import BleuStats, ReferenceTable, bleu, protocol, self_bleu
from seqgen.metrics.embeddings import embedding_metrics
from seqgen.metrics.lm_score import (
    FittedLM,
    LMSettings,
    encode_rows,
    evenly_spaced,
    lm_score,
    reference_lm,
    reference_lm_from_run,
    reverse_lm_score,
    word_tokenizer,
)
from seqgen.metrics.progress import progress_bar
from seqgen.metrics.sacrebleu_score import sacrebleu_corpus
from seqgen.metrics.text_tokenize import read_lines, tokenize_file, tokenize_lines
from seqgen.metrics.two_sample import ClassifierSettings, classifier_two_sample_test

REFERENCE_LM_INFO = ("cache", "source", "valid_nll", "steps", "best_step", "vocab_size")
# Offsets from the evaluation's seed (which seeds sampling) to the seeds of the models an evaluation trains:
# the classifier keeps the evaluation seed itself (as it always did); the reverse LM, whose seed used to be
# the reference LM's fixed one, gets seed + 1, so evaluations at several seeds also vary it.
SEED_OFFSETS = {"classifier": 0, "reverse_lm": 1}
BLEU_CHUNK = 100  # hypotheses per step of the BLEU bar (the statistics are per hypothesis: exact)


def derived_seed(seed: int, what: str) -> int:
    """The seed of `what` ("classifier" or "reverse_lm") for an evaluation seeded with `seed`."""
    return seed + SEED_OFFSETS[what]


class SplitTexts:
    """The run's real sentences by split, read once and only when a metric needs them."""

    def __init__(self, cfg: Any, split: str) -> None:
        self.cfg, self.split, self._splits = cfg, split, None

    def get(self, name: str) -> list[str]:
        if self._splits is None:
            self._splits = resolve_splits(self.cfg.data)
        ds = getattr(self._splits, name)
        if ds is None:
            raise SeqgenError(f"this metric needs a {name} split, and the run has none (set data.{name})")
        return list(ds["text"])

    @property
    def evaluated(self) -> list[str]:
        return self.get(self.split)


class SampleScorer:
    """Computes the chosen sample metrics of one batch of samples; the per-corpus pieces (reference table,
    reference LM, word tokenizer) are built once and reused across temperatures."""

    def __init__(
        self,
        metrics: Sequence[str],
        texts: SplitTexts,
        *,
        tokenize: str,
        lm_settings: LMSettings | None,
        reference_lm: str | Path | None,
        classifier: dict[str, Any],
        embedding_model: str | Path | None,
        seed: int,
        device: Any,
        say: Callable[[str], None],
        label: str = "",
        progress: bool = False,
    ) -> None:
        self.metrics, self.texts, self.tokenize = list(metrics), texts, tokenize
        self.lm_settings = lm_settings or LMSettings()
        self.reference_lm_path = reference_lm
        self.classifier = (
            classifier
            if isinstance(classifier, ClassifierSettings)
            else replace(ClassifierSettings(), **classifier)
        )
        self.embedding_model, self.seed, self.device, self.say = embedding_model, seed, device, say
        self.label, self.progress = label, progress
        self._refs_table: ReferenceTable | None = None
        self._ref_lm: FittedLM | None = None
        self._ref_info: dict[str, Any] = {}
        self._tok: Any = None
        self._real_rows: list[list[int]] | None = None

    # ------------------------------------------------------------------ shared pieces
    def _references(self) -> ReferenceTable:
        if self._refs_table is None:
            self._refs_table = ReferenceTable(tokenize_lines(self.texts.evaluated, self.tokenize))
        return self._refs_table

    def _reference_lm(self) -> FittedLM:
        if self._ref_lm is None:
            if self.reference_lm_path:
                self._ref_lm = reference_lm_from_run(self.reference_lm_path, self.lm_settings, self.device)
            else:
                self.say("reference LM: loading or training (cached per corpus)")
                self._ref_lm = reference_lm(
                    self.texts.get("train"),
                    self.texts.get("valid"),
                    self.lm_settings,
                    device=self.device,
                    progress=self.progress,
                )
            info = self._ref_lm.info
            self._ref_info = {k: info[k] for k in REFERENCE_LM_INFO if k in info}
        return self._ref_lm

    def _word_tokenizer(self) -> Any:
        if self._tok is None:
            self._tok = word_tokenizer(self.texts.get("train"), self.lm_settings)
        return self._tok

    def settings(self) -> dict[str, Any]:
        """Every setting the chosen metrics' numbers depend on (goes into the result's "settings")."""
        m = set(self.metrics)
        out: dict[str, Any] = {}
        if {"bleu", "self_bleu"} & m:
            out["tokenize"] = self.tokenize
            out["protocol"] = protocol(self.tokenize)
        if "bleu" in m:
            out["references"] = f"{self.texts.split} split ({len(self.texts.evaluated)} sentences)"
        if {"lm", "reverse_lm", "classifier"} & m:
            if {"lm", "reverse_lm"} & m:
                self._reference_lm()  # its provenance (cache folder, validation NLL) goes in the settings
            out["lm_settings"] = asdict(self.lm_settings)
            if self._ref_info:
                out["reference_lm"] = self._ref_info
        if "reverse_lm" in m:
            out["reverse_lm"] = self._reverse_settings()
        if "classifier" in m:
            seed = derived_seed(self.seed, "classifier")
            out["classifier"] = {"real": f"{self.texts.split} split", **asdict(self.classifier), "seed": seed}
        if {"reverse_lm", "classifier"} & m:
            out["seeds"] = {"sampling": self.seed, **{k: derived_seed(self.seed, k) for k in SEED_OFFSETS}}
        if {"fed", "mauve"} & m:
            out["embedding_model"] = str(self.embedding_model)
        return out

    def _reverse_settings(self) -> dict[str, Any]:
        seed = derived_seed(self.seed, "reverse_lm")
        valid = self.lm_settings.reverse_valid_sentences
        n_valid = len(evenly_spaced(self.texts.get("valid"), valid))
        return {
            "about": f"fresh LM trained on the samples, stopped early on {n_valid} sentences of the valid "
            f"split (evenly spaced), NLL/token on the {self.texts.split} split",
            "recipe": self.lm_settings.describe_reverse(),
            **self.lm_settings.reverse_fields(),
            "kind": self.lm_settings.kind,
            "num_layers": self.lm_settings.num_layers,
            "valid_sentences_used": n_valid,
            "seed": seed,
        }

    # ------------------------------------------------------------------ one batch of samples
    def _desc(self, phase: str, temperature: float | None) -> str:
        """A bar's name: the phase, the run and the temperature, e.g. "reverse LM (run lstm, T=0.8)"."""
        where = [f"run {self.label}"] if self.label else []
        where += [f"T={temperature:g}"] if temperature is not None else []
        return f"{phase} ({', '.join(where)})" if where else phase

    def sample(
        self, gen: Any, tokenizer: Any, n: int, *, max_len: int, seed: int, temperature: float
    ) -> list[str]:
        """`n` samples of the run at `temperature` (seeded), with a progress bar."""
        from seqgen.text_sampling import sample_texts

        with progress_bar(
            n, self._desc("sampling", temperature), progress=self.progress, unit="sample"
        ) as bar:
            return sample_texts(
                gen, tokenizer, n, max_len=max_len, seed=seed, temperature=temperature, on_batch=bar.update
            )

    def score(self, samples: list[str], temperature: float | None = None) -> dict[str, Any]:
        """The chosen metrics of `samples` (drawn at `temperature`, which names the bars), in the order of
        RUN_METRICS."""
        out: dict[str, Any] = {}
        m = set(self.metrics)
        if m & {"bleu", "self_bleu"}:
            hyps = tokenize_lines(samples, self.tokenize)
            if "bleu" in m:
                out.update(self._bleu(hyps, temperature))
            if "self_bleu" in m:
                with progress_bar(1, self._desc("Self-BLEU", temperature), progress=self.progress) as bar:
                    out.update(self_bleu(hyps))
                    bar.update()
        if "oracle" in m:
            out.update(oracle_sample_metrics(self.texts.cfg.data, samples))
        if "lm" in m:
            ref = self._reference_lm()
            with progress_bar(1, self._desc("LM score", temperature), progress=self.progress) as bar:
                out.update(lm_score(ref, samples))
                bar.update()
        if "reverse_lm" in m:
            out.update(self._reverse_lm(samples, temperature))
        if "classifier" in m:
            out.update(self._classifier(samples, temperature))
        if m & {"fed", "mauve"}:
            out.update(self._embeddings(samples, m))
        return out

    def _bleu(self, hyps: list[list[str]], temperature: float | None) -> dict[str, float]:
        """Texygen BLEU-2..5 against the references, BLEU_CHUNK hypotheses per step of the bar."""
        if self._refs_table is None:  # once per run: tokenizing the references is most of BLEU's cost
            with progress_bar(1, self._desc("BLEU references", None), progress=self.progress) as bar:
                self._references()
                bar.update()
        table = self._references()
        parts = []
        with progress_bar(
            len(hyps), self._desc("BLEU", temperature), progress=self.progress, unit="sample"
        ) as bar:
            for i in range(0, len(hyps), BLEU_CHUNK):
                parts.append(table.stats(hyps[i : i + BLEU_CHUNK]))
                bar.update(len(parts[-1].matches))
        stats = BleuStats(
            table.max_n,
            [x for p in parts for x in p.matches],
            [x for p in parts for x in p.hyp_lens],
            [x for p in parts for x in p.ref_lens],
        )
        return {f"bleu{n}": stats.mean(n) for n in (2, 3, 4, 5)}

    def _reverse_lm(self, samples: list[str], temperature: float | None) -> dict[str, Any]:
        self.say("reverse LM: training on the samples")
        ref = self._reference_lm()
        valid, test = self.texts.get("valid"), self.texts.evaluated
        return reverse_lm_score(
            ref,
            samples,
            valid,
            test,
            settings=self.lm_settings,
            seed=derived_seed(self.seed, "reverse_lm"),
            device=self.device,
            progress=self.progress,
            desc=self._desc("reverse LM", temperature),
        )

    def _classifier(self, samples: list[str], temperature: float | None = None) -> dict[str, Any]:
        self.say("classifier two-sample test")
        tok = self._ref_lm.tokenizer if self._ref_lm is not None else self._word_tokenizer()
        max_len = self.lm_settings.max_len
        if self._real_rows is None:  # encoded once, reused at every temperature
            self._real_rows = encode_rows(tok, self.texts.evaluated, max_len)
        res = classifier_two_sample_test(
            self._real_rows,
            encode_rows(tok, samples, max_len),
            vocab_size=tok.vocab_size,
            pad_id=tok.pad_id,
            seed=derived_seed(self.seed, "classifier"),
            device=self.device,
            progress=self.progress,
            desc=self._desc("classifier", temperature),
            **self.classifier.as_kwargs(),
        )
        return {
            "classifier_accuracy": res["accuracy"],
            "classifier_auc": res["auc"],
            "classifier": {k: v for k, v in res.items() if k not in ("accuracy", "auc")},
        }

    def _embeddings(self, samples: list[str], metrics: set[str]) -> dict[str, Any]:
        emb = embedding_metrics(
            samples,
            self.texts.evaluated,
            self.embedding_model,
            metrics=tuple(x for x in ("fed", "mauve") if x in metrics),
            seed=self.seed,
            device=self.device,
        )
        out: dict[str, Any] = {k: emb.pop(k) for k in ("fed", "mauve") if k in emb}
        out["embeddings"] = emb  # model, pooling, sizes, MAUVE settings: what the numbers depend on
        return out


CLASSIFIER_SETTINGS = {
    f.name: {"str": str, "int": int, "float": float}[str(f.type)] for f in fields(ClassifierSettings)
}


def classifier_settings(items: list[str]) -> dict[str, Any]:
    """--classifier KEY=VALUE items as the keywords of the two-sample test (kind text, lr a number, the rest
    integers); unknown keys and unreadable values are one-line errors."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise SeqgenError(f"--classifier expects KEY=VALUE, got {item!r}")
        key, text = key.strip(), text.strip()
        if key not in CLASSIFIER_SETTINGS:
            raise SeqgenError(
                f"unknown classifier setting {key!r}; choose from {', '.join(CLASSIFIER_SETTINGS)}"
            )
        try:
            out[key] = CLASSIFIER_SETTINGS[key](text)
        except ValueError:
            raise SeqgenError(f"classifier setting {key} needs a number, got {text!r}") from None
    return out


def evaluate_samples(
    samples: str | Path,
    references: str | Path | None = None,
    *,
    metrics: tuple[str, ...] | str = ("bleu", "self_bleu"),
    tokenize: str = "treebank",
) -> dict[str, Any]:
    """Texygen BLEU-2..5 of a samples file against a references file, Self-BLEU-2..5 of the samples, and
    sacrebleu corpus BLEU against aligned references, with every setting that defines the numbers (files,
    tokenization, protocol, sacrebleu signature) in the result."""
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
        hyp_lines = read_lines(samples)
        result.setdefault("num_samples", len(hyp_lines))
        result["references"] = str(references)
        result.update(sacrebleu_corpus(hyp_lines, read_lines(references)))
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result
