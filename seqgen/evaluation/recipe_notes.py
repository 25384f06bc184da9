"""Table-header lines naming the recipes and seeds of the models an evaluation trains (DESIGN §6: say which):
the LM score's reference LM, the reverse LM score's fresh LMs and the two-sample classifier.

Read from each evaluation's "settings" (`SampleScorer.settings`); evaluations saved before the reverse LM and
the classifier had recipes of their own are described with what they recorded. Runs that disagree get a
WARNING line, as everywhere in the comparison header.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from seqgen.metrics.score_settings import REVERSE_PREFIX

REFERENCE_SKIP = {"seed"}  # said separately


def recipe_notes(evaluations: Sequence[dict[str, Any]]) -> list[str]:
    """The header lines of the LM score, the reverse LM score and the classifier test, where measured."""
    settings = [e["settings"] for e in evaluations]
    first = settings[0]
    notes = []
    ref = first.get("reference_lm")
    lm = first.get("lm_settings") or {}
    if ref:
        recipe = ", ".join(
            f"{k}={v}" for k, v in lm.items() if not k.startswith(REVERSE_PREFIX) and k not in REFERENCE_SKIP
        )
        notes.append(
            f"LM score: reference word-level LM ({recipe}; seed {lm.get('seed', 0)}), trained once per "
            f"corpus on the train split; {ref.get('cache') or ref.get('source')}"
        )
    reverse = first.get("reverse_lm")
    if isinstance(reverse, dict):
        notes.append(
            f"reverse LM score: a fresh word-level LM per run and temperature ({reverse.get('recipe')}; "
            f"seed {reverse.get('seed')}, derived from the sampling seed), NLL/token on the evaluated split"
        )
    elif reverse:  # an older evaluation: the reverse LM used the reference recipe and its seed
        notes.append(f"reverse LM score: {reverse}; recipe as the reference LM's, seed {lm.get('seed', 0)}")
    clf = first.get("classifier")
    if isinstance(clf, dict):
        recipe = ", ".join(f"{k}={v}" for k, v in clf.items() if k not in ("real", "seed"))
        seed = clf.get("seed", first.get("seed"))
        notes.append(
            f"classifier two-sample test: {recipe or 'defaults'}; seed {seed}, derived from the sampling "
            f"seed; real = {clf.get('real', 'the evaluated split')}"
        )
    for key in ("lm_settings", "reverse_lm", "classifier"):
        values = {json.dumps(s.get(key), sort_keys=True) for s in settings if key in s}
        if len(values) > 1:
            notes.append(f"WARNING: runs differ in {key} (recipes or seeds): compare with care")
    return notes
