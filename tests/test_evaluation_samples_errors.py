"""`seqgen evaluate --samples/--references` (seqgen.evaluation.samples) refuses a file holding only blank
lines (BLEU 0.0 as if it were a result) and an empty one, with the one-line error of helpers.py and no output
written; `read_lines` (seqgen.metrics.text_tokenize) refuses blank-only text but keeps blank lines among
text."""

from __future__ import annotations

import pytest
from helpers import fails_strict, snapshot, write

from seqgen.errors import SeqgenError
from seqgen.metrics.text_tokenize import read_lines


@pytest.mark.parametrize("blank", ["samples", "references"])
@pytest.mark.parametrize("metrics", ["bleu,self_bleu", "sacrebleu"])
def test_evaluate_refuses_a_file_of_blank_lines(tmp_path, capsys, blank, metrics):
    files = {
        "samples": write(tmp_path / "samples.txt", "a cat sat on the mat .\na dog ran .\n\n"),
        "references": write(tmp_path / "references.txt", "a cat sat on a mat .\na dog ran off .\n\n"),
    }
    files[blank].write_text("\n   \n\t\n", encoding="utf-8")  # three lines, none with text
    out = tmp_path / "eval.json"
    before = snapshot(tmp_path)
    fails_strict(
        capsys,
        "evaluate",
        "--samples",
        files["samples"],
        "--references",
        files["references"],
        "--metrics",
        metrics,
        "-o",
        out,
        says=(str(files[blank]), "no text", "3 blank lines"),
    )
    assert snapshot(tmp_path) == before  # no eval.json, inputs untouched


def test_an_empty_samples_file_is_still_refused_as_empty(tmp_path, capsys):
    samples = write(tmp_path / "samples.txt", b"")
    refs = write(tmp_path / "references.txt", "a cat .\n")
    fails_strict(
        capsys, "evaluate", "--samples", samples, "--references", refs, says=(f"{samples} is empty",)
    )


def test_read_lines_refuses_blank_only_but_keeps_blank_lines_among_text(tmp_path):
    path = write(tmp_path / "s.txt", "\ufeff\r\n \n")
    with pytest.raises(SeqgenError, match="no text, only 2 blank lines") as err:
        read_lines(path)
    assert str(path) in str(err.value)
    write(path, "\n\na dog .\n")
    assert read_lines(path) == ["", "", "a dog ."]
