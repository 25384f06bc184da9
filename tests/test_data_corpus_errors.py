"""Bad corpus files given to `seqgen train` (seqgen.data.corpus): missing, empty, blank lines only, not UTF-8,
a folder without .txt files. Each is the one-line error of helpers.py naming the path (and the line of the bad
bytes), and a failed start leaves no half-made run folder."""

from __future__ import annotations

import pytest
from helpers import QUIET_NO_SAMPLES, TINY_LSTM, fails, write


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "not found"),
        (b"", "empty"),
        (b"\n   \n\t\n\n", "empty"),
        (b"fine line\n\xff\xfe bad bytes\n", "UTF-8"),
    ],
    ids=["missing", "empty", "blank-lines-only", "non-utf8"],
)
@pytest.mark.parametrize("split", ["train", "test"])
def test_bad_corpus_file(tmp_path, capsys, content, says, split):
    corpus = tmp_path / f"{split}.txt"
    if content is not None:
        write(corpus, content)
    good = write(tmp_path / "good.txt", "".join(f"the cat sat {i}\n" for i in range(40)))
    given = {"train": good, split: corpus}
    out = tmp_path / "run"
    line = fails(
        capsys,
        "train",
        f"data.train={given['train']}",
        *([f"data.test={corpus}"] if split == "test" else []),
        *TINY_LSTM,
        "train.max_steps=1",
        "train.batch_size=8",
        *QUIET_NO_SAMPLES,
        f"out={out}",
        says=(says, str(corpus)),
    )
    if says == "UTF-8":
        assert "line 2" in line  # where the bad bytes are
    assert not out.exists()  # a failed start leaves no half-made run folder


def test_corpus_folder_without_txt_files(tmp_path, capsys):
    (tmp_path / "corpus").mkdir()
    write(tmp_path / "corpus/notes.md", "hello\n")
    fails(
        capsys,
        "train",
        f"data.train={tmp_path / 'corpus'}",
        f"out={tmp_path / 'run'}",
        says=(str(tmp_path / "corpus"),),
    )
