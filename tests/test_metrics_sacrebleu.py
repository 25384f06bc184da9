"""sacrebleu corpus BLEU for aligned references: sacrebleu's own value, with its signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu

from seqgen.cli import main
from seqgen.errors import SeqgenError
from seqgen.metrics.sacrebleu_score import sacrebleu_corpus

HYPS = ["the cat sat on the mat .", "a dog runs in the park", "", "two men ride horses on a beach ."]
REFS = [
    "the cat is on the mat .",
    "a dog is running in a park .",
    "a bird .",
    "two men riding horses on the beach .",
]


def test_value_and_signature_are_sacrebleus():
    out = sacrebleu_corpus(HYPS, REFS)
    assert out["sacrebleu"] == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score, abs=1e-12)
    assert out["sacrebleu_signature"].startswith("nrefs:1|") and "tok:13a" in out["sacrebleu_signature"]


def test_several_reference_streams():
    second = [r.upper() for r in REFS]
    out = sacrebleu_corpus(HYPS, [REFS, second], lowercase=True)
    want = sacrebleu.corpus_bleu(HYPS, [REFS, second], lowercase=True).score
    assert out["sacrebleu"] == pytest.approx(want, abs=1e-12)
    assert "nrefs:2" in out["sacrebleu_signature"] and "case:lc" in out["sacrebleu_signature"]


def test_unaligned_references_are_refused():
    with pytest.raises(SeqgenError, match="aligned line by line.*4 samples but 3 lines"):
        sacrebleu_corpus(HYPS, REFS[:3])


def test_cli_reports_sacrebleu_with_its_signature(tmp_path: Path, capsys):
    s, r = tmp_path / "s.txt", tmp_path / "r.txt"
    s.write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    r.write_text("\n".join(REFS) + "\n", encoding="utf-8")
    assert main(["evaluate", "--samples", str(s), "--references", str(r), "--metrics", "sacrebleu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sacrebleu"] == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score, abs=1e-12)
    assert out["sacrebleu_signature"] and out["num_samples"] == 4
    r.write_text("\n".join(REFS[:2]) + "\n", encoding="utf-8")
    assert main(["evaluate", "--samples", str(s), "--references", str(r), "--metrics", "sacrebleu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqgen: error:") and "aligned" in err and "\n" not in err
