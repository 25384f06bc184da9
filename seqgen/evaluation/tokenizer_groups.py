"""Which runs' NLL per token may be ranked against each other: only those sharing a tokenizer (DESIGN §6).

A tokenizer's identity is its kind, vocabulary size and a digest of its saved files (`tokenizer_digest`, the
one the encoding cache uses), so two runs share a tokenizer exactly when they have the same kind AND the same
vocabulary. `seqgen evaluate` records the identity in `settings["tokenizer"]`; for an older saved
evaluation it is read from the run folder's `tokenizer/` when that still exists.

Across tokenizers a likelihood is compared per character (`bits_per_char`) or per word (`nll_word`), never
per token: a word run's 4.6 nats/word and a sentencepiece run's 5.3 nats/piece say nothing about which is
better. `likelihood_ranking` says, for a comparison table, within which runs NLL/token (and perplexity) may
mark a best value, and writes the header lines that state the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgen.data.encoding import tokenizer_digest
from seqgen.errors import SeqgenError

RULE = "NLL/token compared only within runs sharing a tokenizer; across tokenizers: bits per character"
PER_TOKEN_KEYS = ("nll", "nll_token", "ppl")  # ranked only within a group of runs sharing a tokenizer


def tokenizer_identity(tokenizer: Any) -> dict[str, Any]:
    """{"kind", "vocab_size", "digest"}: equal for two tokenizers exactly when they tokenize alike."""
    return {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size, "digest": tokenizer_digest(tokenizer)}


def identity_of(evaluation: dict[str, Any]) -> dict[str, Any] | None:
    """The tokenizer identity of an evaluation: from its settings, else from its run folder, else None."""
    found = (evaluation.get("settings") or {}).get("tokenizer")
    if isinstance(found, dict) and found.get("digest"):
        return found
    folder = Path(str(evaluation.get("run", ""))) / "tokenizer"
    if evaluation.get("run") and folder.is_dir():
        from seqgen.tokenization import load_tokenizer

        try:
            return tokenizer_identity(load_tokenizer(folder))
        except SeqgenError:
            return None
    return None


@dataclass
class LikelihoodRanking:
    """`groups[i]`: the group within which evaluation i's per-token values are ranked (None: not ranked);
    `notes`: the header lines saying which rule was applied."""

    groups: list[str | None]
    notes: list[str]
    shared: bool  # every run has the same (known) tokenizer


def likelihood_ranking(evaluations: Sequence[dict[str, Any]]) -> LikelihoodRanking:
    """Ranking groups for the per-token columns of `evaluations` (each with a "label"): one group when all
    share a tokenizer; otherwise a group per tokenizer holding two or more runs, and a run alone with its
    tokenizer (or with an unknown one) is not ranked at all. The notes also warn when the runs'
    likelihoods cover different amounts of text (truncation at data.max_len differs between tokenizers)."""
    ids = [identity_of(ev) for ev in evaluations]
    digests = [i["digest"] if i else None for i in ids]
    if len(ids) == 1 or (None not in digests and len(set(digests)) == 1):
        which = f" ({_describe(ids[0])})" if ids[0] else ""
        line = f"all runs share one tokenizer{which}: NLL/token and PPL ranked across all of them"
        return LikelihoodRanking(["shared"] * len(ids), [RULE, line, *_text_notes(evaluations)], shared=True)
    members: dict[str | None, list[str]] = {}
    for ev, d in zip(evaluations, digests, strict=True):
        members.setdefault(d, []).append(str(ev["label"]))
    groups = [d if d is not None and len(members[d]) > 1 else None for d in digests]
    kinds = "; ".join(
        f"{', '.join(members[i['digest']])}: {_describe(i)}"
        for i in {i["digest"]: i for i in ids if i}.values()
    )
    notes = [
        RULE,
        f"the runs use {len({d for d in digests if d})} tokenizers ({kinds}): NLL/token and PPL are marked "
        "best only among runs sharing a tokenizer, never across tokenizers (a run alone with its tokenizer "
        "is not marked); bits/char and NLL/word are ranked across all runs",
    ]
    if None in members:
        notes.append(f"tokenizer unknown for {', '.join(members[None])}: its NLL/token is not ranked")
    best = _best_by_bits(evaluations)
    if best:
        notes.append(f"best held-out likelihood across tokenizers, by bits per character: {best}")
    return LikelihoodRanking(groups, notes + _text_notes(evaluations), shared=False)


def _text_notes(evaluations: Sequence[dict[str, Any]]) -> list[str]:
    chars = {str(ev["label"]): ev["chars"] for ev in evaluations if isinstance(ev.get("chars"), int)}
    if len(set(chars.values())) <= 1:
        return []
    counts = ", ".join(f"{label} {n}" for label, n in chars.items())
    return [
        f"WARNING: the likelihoods cover different text (characters scored: {counts}; sentences longer than "
        "data.max_len lose their end, and each tokenizer cuts elsewhere): bits/char and NLL/word compare "
        "different text (settings.likelihood_text says what was left out)"
    ]


def _describe(identity: dict[str, Any]) -> str:
    return f"{identity.get('kind')}, vocabulary {identity.get('vocab_size')}, {identity['digest'][:12]}"


def _best_by_bits(evaluations: Sequence[dict[str, Any]]) -> str:
    bits = [(ev.get("bits_per_char"), str(ev["label"])) for ev in evaluations]
    scored = [(b, label) for b, label in bits if _finite(b)]
    if not scored:
        return ""
    top = min(b for b, _ in scored)
    return ", ".join(label for b, label in scored if b == top) + f" ({top:.4f} bits/char)"


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")
