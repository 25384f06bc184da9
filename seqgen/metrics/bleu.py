"""Texygen BLEU and Self-BLEU, equal to nltk's, in O(length) per sentence instead of O(references).

Definitions (DESIGN §6):

- BLEU-n ("Texygen BLEU"): every hypothesis against the WHOLE reference set, nltk
  ``sentence_bleu(references, hypothesis, weights=(1/n,)*n, smoothing_function=SmoothingFunction().method1)``,
  averaged over hypotheses.
- Self-BLEU-n: the same with every sample as the hypothesis and all OTHER samples as references (the sample is
  left out by position; an identical sample elsewhere stays in).
- corpus BLEU-n: nltk ``corpus_bleu`` with the same weights and smoothing, every hypothesis against the whole
  reference set (sums of clipped counts, n-gram counts and lengths before dividing).

Why it is fast: nltk rebuilds every reference's n-gram counts for every hypothesis (10,000 x 10,000 sentences
for one Texygen row: hours). Against a fixed reference set, nltk's clipping count of an n-gram is the largest
number of times any single reference contains it, and the closest reference length depends only on the sorted
lengths. Both are computed once (`ReferenceTable`), and a hypothesis then costs O(its length).
For Self-BLEU (`SelfReferenceTable`) the hypothesis's own counts must be left out. An n-gram the hypothesis
has once clips to 1 exactly when another sample contains it, i.e. when at least two samples contain it; an
n-gram it repeats needs the largest count among the OTHER samples: the top two counts and the sample holding
the top one. The hypothesis's own length is removed from the length multiset the same way.

Exactness: the per-order counts are integers, identical to nltk's. They are combined with nltk's own float
operations in nltk's order (precision m/d, or 0.1/d where m = 0 (method1); w * log(p) with w = 1/n;
math.fsum; math.exp; times the brevity penalty exp(1 - r/c)), so the scores are the same floats, bit for bit.
nltk quirks kept: a hypothesis with no matching unigram (an empty one included) scores 0; an order longer than
the hypothesis has precision 0.1/1 (nltk's denominator is at least 1); the closest reference length breaks
ties towards the shorter reference. Averages over sentences use math.fsum (Texygen summed left to right; the
difference is a few ulps).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

from seqgen.errors import SeqgenError

Tokens = Sequence[Hashable]
DEFAULT_ORDERS = (2, 3, 4, 5)
EPSILON = 0.1  # nltk SmoothingFunction().method1's default


def _ngrams(tokens: tuple, n: int) -> list[tuple]:
    """The n-grams of `tokens` in order (none when the sentence is shorter than n), as nltk.util.ngrams."""
    return list(zip(*[tokens[i:] for i in range(n)], strict=False))  # stops at the shortest slice


def _check_tokenized(sentences: Sequence[Tokens], what: str) -> None:
    """A plain string would silently be scored character by character (as nltk would): refuse it."""
    if any(isinstance(s, str) for s in sentences[:1]):
        raise SeqgenError(
            f"BLEU {what} must be token lists; tokenize the lines first (seqgen.metrics.text_tokenize)"
        )


def _check_orders(orders: Iterable[int]) -> tuple[int, ...]:
    orders = tuple(orders)
    if not orders or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in orders):
        raise SeqgenError(f"BLEU orders must be positive integers, got {orders!r}")
    return orders


class _Lengths:
    """A multiset of reference lengths answering nltk's closest_ref_length in O(log) time.

    nltk: ``min(ref_lens, key=lambda r: (abs(r - hyp_len), r))``: the nearest length, the shorter on a tie.
    `closest(h, leave_out_own=True)` answers for the multiset minus one copy of h (Self-BLEU: the hypothesis's
    own length); that removal only changes whether h itself is still present.
    """

    def __init__(self, lengths: Iterable[int]) -> None:
        self.count = Counter(lengths)
        self.sorted = sorted(self.count)

    def closest(self, h: int, leave_out_own: bool = False) -> int:
        if self.count.get(h, 0) > (1 if leave_out_own else 0):
            return h
        i = bisect_left(self.sorted, h)  # sorted[:i] < h
        j = i + 1 if i < len(self.sorted) and self.sorted[i] == h else i  # sorted[j:] > h
        below = self.sorted[i - 1] if i > 0 else None
        above = self.sorted[j] if j < len(self.sorted) else None
        if below is None and above is None:
            raise SeqgenError("BLEU needs at least one reference sentence besides the hypothesis")
        if above is None or (below is not None and h - below <= above - h):
            return below  # type: ignore[return-value]
        return above


@dataclass
class BleuStats:
    """Per-hypothesis sufficient statistics, the integers nltk computes, for orders 1..max_n.

    matches[i][k]: hypothesis i's clipped (k+1)-gram matches (nltk's modified_precision numerator);
    hyp_lens[i]: its length; ref_lens[i]: its closest reference length. nltk's denominator for order k+1 is
    max(1, hyp_len - k).
    """

    max_n: int
    matches: list[tuple[int, ...]]
    hyp_lens: list[int]
    ref_lens: list[int]

    def _check(self, n: int) -> None:
        if not 1 <= n <= self.max_n:
            raise SeqgenError(
                f"BLEU-{n} needs n-grams up to order {n}; these statistics stop at {self.max_n}"
            )

    def sentence_scores(self, n: int) -> list[float]:
        """nltk sentence_bleu with uniform weights over orders 1..n and method1 smoothing, per hypothesis."""
        self._check(n)
        return [
            _combine(m[:n], [max(1, h - k) for k in range(n)], h, r)
            for m, h, r in zip(self.matches, self.hyp_lens, self.ref_lens, strict=True)
        ]

    def mean(self, n: int) -> float:
        """The Texygen figure: the average of `sentence_scores(n)`."""
        if not self.matches:
            raise SeqgenError("BLEU needs at least one hypothesis")
        return math.fsum(self.sentence_scores(n)) / len(self.matches)

    def corpus(self, n: int) -> float:
        """nltk corpus_bleu with uniform weights over orders 1..n and method1 smoothing."""
        self._check(n)
        if not self.matches:
            raise SeqgenError("BLEU needs at least one hypothesis")
        numerators = [sum(m[k] for m in self.matches) for k in range(n)]
        denominators = [sum(max(1, h - k) for h in self.hyp_lens) for k in range(n)]
        return _combine(numerators, denominators, sum(self.hyp_lens), sum(self.ref_lens))


def _combine(numerators: Sequence[int], denominators: Sequence[int], hyp_len: int, ref_len: int) -> float:
    """nltk corpus_bleu's last steps, float operation by float operation (sentence_bleu calls corpus_bleu)."""
    if numerators[0] == 0:  # no matching unigram (an empty hypothesis included): nltk returns 0
        return 0.0
    w = 1 / len(numerators)
    # method1: p = m/d (nltk's Fraction, converted to the nearest float), or epsilon/d when m == 0; all p > 0.
    logs = [w * math.log(m / d if m else EPSILON / d) for m, d in zip(numerators, denominators, strict=True)]
    # nltk brevity_penalty: 1 if c > r; (c == 0 cannot reach here: no unigram would match)
    bp = 1 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(math.fsum(logs))


class ReferenceTable:
    """A reference set reduced to what BLEU needs, once: the clipping count of every n-gram and the lengths.

    `present` holds every n-gram (orders 1..max_n) of any reference, `repeated[g]` the largest count of g in
    one reference where that is at least 2. Build it once and pass it to `bleu`/`corpus_bleu` for many sample
    files (a temperature sweep) against the same references.
    """

    def __init__(self, references: Sequence[Tokens], max_n: int = max(DEFAULT_ORDERS)) -> None:
        if not references:
            raise SeqgenError("BLEU needs at least one reference sentence")
        _check_tokenized(references, "references")
        (max_n,) = _check_orders((max_n,))
        self.max_n = max_n
        self.lengths = _Lengths(len(r) for r in references)
        present: set[tuple] = set()
        repeated: dict[tuple, int] = {}
        for ref in references:
            t = tuple(ref)
            for n in range(1, min(max_n, len(t)) + 1):
                grams = _ngrams(t, n)
                present.update(grams)
                if len(set(grams)) < len(grams):
                    for g, c in Counter(grams).items():
                        if c > 1 and c > repeated.get(g, 0):
                            repeated[g] = c
        self.present = present
        self.repeated = repeated

    def stats(self, hypotheses: Sequence[Tokens]) -> BleuStats:
        """Clipped matches, lengths and closest reference lengths of every hypothesis."""
        _check_tokenized(hypotheses, "hypotheses")
        present, repeated, max_n = self.present, self.repeated, self.max_n
        contains = present.__contains__
        matches = []
        hyp_lens = []
        for hyp in hypotheses:
            t = tuple(hyp)
            row = [0] * max_n
            for n in range(1, min(max_n, len(t)) + 1):
                grams = _ngrams(t, n)
                distinct = set(grams)
                num = sum(map(contains, distinct))  # each distinct n-gram clips to 1 if any reference has it
                if len(distinct) < len(grams):  # ... and a repeated one to min(count, clipping count)
                    for g, c in Counter(grams).items():
                        if c > 1 and g in present:
                            num += min(c, repeated.get(g, 1)) - 1
                row[n - 1] = num
            matches.append(tuple(row))
            hyp_lens.append(len(t))
        ref_lens = [self.lengths.closest(h) for h in hyp_lens]
        return BleuStats(max_n, matches, hyp_lens, ref_lens)


class SelfReferenceTable:
    """A set of samples prepared for Self-BLEU: each sample against all the others, exactly (leave one out).

    `shared`: the n-grams at least two samples contain (a single occurrence in a hypothesis clips to 1 exactly
    then). For n-grams some sample contains at least twice: `top[g] = (largest count, its sample, second
    largest count among the samples with count >= 2, or 0)`; with the number of samples containing g that
    gives the largest count among the other samples.
    """

    def __init__(self, samples: Sequence[Tokens], max_n: int = max(DEFAULT_ORDERS)) -> None:
        if len(samples) < 2:
            raise SeqgenError("Self-BLEU needs at least two samples")
        _check_tokenized(samples, "samples")
        (max_n,) = _check_orders((max_n,))
        self.max_n = max_n
        self.samples = [tuple(s) for s in samples]
        self.lengths = _Lengths(len(s) for s in self.samples)
        # samples containing each n-gram
        containing = Counter(
            chain.from_iterable(
                set(_ngrams(s, n)) for s in self.samples for n in range(1, min(max_n, len(s)) + 1)
            )
        )
        top: dict[tuple, tuple[int, int, int]] = {}
        for i, s in enumerate(self.samples):
            for n in range(1, min(max_n, len(s)) + 1):
                grams = _ngrams(s, n)
                if len(set(grams)) < len(grams):
                    for g, c in Counter(grams).items():
                        if c > 1:
                            first, owner, second = top.get(g, (0, -1, 0))
                            if c > first:
                                top[g] = (c, i, first)
                            elif c > second:
                                top[g] = (first, owner, c)
        self.shared = {g for g, k in containing.items() if k > 1}
        # how many samples contain g only once: tells whether "the largest other count" is at least 1
        self.containing = {g: containing[g] for g in top}
        self.top = top

    def _max_other(self, g: tuple, i: int) -> int:
        """The largest count of g in a sample other than i (g repeats in sample i)."""
        first, owner, second = self.top[g]
        if owner != i:
            return first
        if second:
            return second
        return 1 if self.containing[g] > 1 else 0

    def stats(self) -> BleuStats:
        """Every sample's statistics against all the other samples."""
        shared, max_n = self.shared, self.max_n
        contains = shared.__contains__
        matches = []
        for i, t in enumerate(self.samples):
            row = [0] * max_n
            for n in range(1, min(max_n, len(t)) + 1):
                grams = _ngrams(t, n)
                distinct = set(grams)
                num = sum(map(contains, distinct))
                if len(distinct) < len(grams):
                    for g, c in Counter(grams).items():
                        if c > 1:
                            num += min(c, self._max_other(g, i)) - (1 if g in shared else 0)
                row[n - 1] = num
            matches.append(tuple(row))
        hyp_lens = [len(t) for t in self.samples]
        ref_lens = [self.lengths.closest(h, leave_out_own=True) for h in hyp_lens]
        return BleuStats(max_n, matches, hyp_lens, ref_lens)


def bleu_stats(
    hypotheses: Sequence[Tokens], references: Sequence[Tokens] | ReferenceTable, max_n: int = 5
) -> BleuStats:
    """Statistics of every hypothesis against the whole reference set (a token-list sequence or a table)."""
    table = references if isinstance(references, ReferenceTable) else ReferenceTable(references, max_n)
    if table.max_n < max_n:
        raise SeqgenError(f"the reference table stops at order {table.max_n}; BLEU-{max_n} needs {max_n}")
    return table.stats(hypotheses)


def bleu(
    hypotheses: Sequence[Tokens],
    references: Sequence[Tokens] | ReferenceTable,
    orders: Iterable[int] = DEFAULT_ORDERS,
) -> dict[str, float]:
    """Texygen BLEU-n for every n in `orders`: {"bleu2": ..., ...}, each the mean of nltk sentence_bleu."""
    orders = _check_orders(orders)
    stats = bleu_stats(hypotheses, references, max(orders))
    return {f"bleu{n}": stats.mean(n) for n in orders}


def corpus_bleu(
    hypotheses: Sequence[Tokens],
    references: Sequence[Tokens] | ReferenceTable,
    orders: Iterable[int] = DEFAULT_ORDERS,
) -> dict[str, float]:
    """nltk corpus_bleu-n for n in `orders`, every hypothesis against the whole set: {"corpus_bleu2": ...}."""
    orders = _check_orders(orders)
    stats = bleu_stats(hypotheses, references, max(orders))
    return {f"corpus_bleu{n}": stats.corpus(n) for n in orders}


def self_bleu_stats(samples: Sequence[Tokens], max_n: int = 5) -> BleuStats:
    """Statistics of every sample against all the other samples."""
    return SelfReferenceTable(samples, max_n).stats()


def self_bleu(samples: Sequence[Tokens], orders: Iterable[int] = DEFAULT_ORDERS) -> dict[str, float]:
    """Texygen Self-BLEU-n for every n in `orders`: {"self_bleu2": ..., ...} (each sample vs all others)."""
    orders = _check_orders(orders)
    stats = self_bleu_stats(samples, max(orders))
    return {f"self_bleu{n}": stats.mean(n) for n in orders}


def protocol(scheme: str) -> str:
    """One line naming the BLEU definition and tokenization, for table headers (DESIGN §6: say which)."""
    return (
        "Texygen BLEU: nltk sentence_bleu of each sample vs all references (Self-BLEU: vs all other "
        "samples), uniform weights over 1..n, SmoothingFunction().method1, mean over samples; "
        f"tokenize={scheme}"
    )
