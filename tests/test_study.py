"""`seqgen study`: the caption study at smoke scale end to end (every arm, every report file), its spec
errors, reuse of finished runs, and the matched-diversity arithmetic against hand computation."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from seqgen.cli import main
from seqgen.errors import SeqgenError
from seqgen.metrics.quality_diversity import entirely_below, interpolate, swapped, value_at
from seqgen.study.spec import load_study

REPO = Path(__file__).resolve().parents[1]
CAPTION_STUDY = REPO / "recipes" / "caption" / "study.yaml"
ARMS = [
    "mle",
    "ss-two-pass",
    "ss-exact",
    "bgan",
    "reinforce-ns",
    "reinforce-minimax",
    "maligan",
    "seqgan",
    "bgan-gp",
]


# ----------------------------------------------------------------------------------- curves, by hand
def test_interpolation_and_matched_values_by_hand():
    curve = [(0.9, 0.2), (0.5, 0.6), (0.7, 0.4)]  # (diversity, quality), in any order
    assert interpolate(curve, 0.6) == pytest.approx(0.5)
    assert interpolate(curve, 0.5) == pytest.approx(0.6) and interpolate(curve, 0.9) == pytest.approx(0.2)
    assert interpolate(curve, 0.95) is None and interpolate(curve, 0.4) is None  # never extrapolated
    assert value_at(swapped(curve), 0.3) == pytest.approx(0.8)  # diversity at matched quality
    # below: worse quality at every diversity both cover (here: higher quality is better)
    worse = [(0.5, 0.55), (0.9, 0.1)]
    assert entirely_below(worse, curve, higher_is_better=True) is True
    crossing = [(0.5, 0.7), (0.9, 0.1)]
    assert entirely_below(crossing, curve, higher_is_better=True) is False
    assert entirely_below([(2.0, 1.0), (3.0, 1.0)], curve, higher_is_better=True) is None  # no overlap


# -------------------------------------------------------------------------------------------- specs
def test_every_shipped_spec_loads_at_every_scale_with_the_issue_arms():
    for corpus in ("caption", "coco", "emnlp_news"):
        for scale in ("smoke", "cpu", "paper"):
            study = load_study(REPO / "recipes" / corpus / "study.yaml", scale)
            assert [a.name for a in study.arms] == ARMS
            assert study.control.name == "mle" and study.budget >= 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("arms: []\nbudget: 3\n", "non-empty list"),
        ("arms: [{name: a, set: [objective=mle]}]\nbudget: 3\n", "control"),
        ("arms: [{name: a, control: true, set: [objective=mle]}]\nbudget: 0\n", "budget"),
        ("arms: [{name: a, control: true}]\nbudget: 3\nbogus: 1\n", "bogus"),
        ("arms: [{name: base, control: true}]\nbudget: 3\n", "base/report"),
        ("arms: [{name: a, control: true, set: [no-equals]}]\nbudget: 3\n", "KEY=VALUE"),
    ],
)
def test_a_bad_spec_is_one_line_naming_the_key(tmp_path, capsys, text, says):
    spec = tmp_path / "study.yaml"
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(SeqgenError, match=says):
        load_study(spec)
    capsys.readouterr()
    assert main(["study", str(spec), "--out", str(tmp_path / "out"), "--scale", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("seqgen: error:") == 1 and "Traceback" not in err


# ------------------------------------------------------------------------------------ the smoke study
@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("study") / "caption"
    assert main(["study", str(CAPTION_STUDY), "--scale", "smoke", "--out", str(out)]) == 0
    return out


def test_the_smoke_study_writes_every_file_with_every_arm(smoke_study):
    report = smoke_study / "report"
    for name in ("table.md", "table.csv", "table.tex", "report.md"):
        assert (report / name).is_file(), name
    assert list(report.glob("*bleu*.png")), "the BLEU-4 vs Self-BLEU-4 plot"
    md = (report / "table.md").read_text(encoding="utf-8")
    for arm in ["base", *ARMS]:
        assert f"| {arm} |" in md, arm
    assert "Bits/char" in md or "bits" in md.lower()  # comparable units across tokenizers
    assert "BLEU-4 @ base Self-BLEU-4" in md and "samples drawn" in md
    text = (report / "report.md").read_text(encoding="utf-8")
    assert all(f"**{arm}**" in text for arm in ARMS)  # one paragraph per arm
    assert "control" in text


def test_the_smoke_study_evaluates_three_temperatures_and_counts_samples(smoke_study):
    for run in ["base", *ARMS]:
        ev = json.loads((smoke_study / run / "eval-study.json").read_text(encoding="utf-8"))
        temps = [s["temperature"] for s in ev["samples"]]
        assert len(temps) >= 3 and 1.0 in temps, run
        assert math.isfinite(ev["nll"]) and "bits_per_char" in ev, run

    def last_train(run: str) -> dict:
        records = [
            json.loads(line) for line in (smoke_study / run / "metrics.jsonl").read_text().splitlines()
        ]
        return [r for r in records if r["split"] == "train"][-1]

    drawn = {run: last_train(run) for run in ARMS}
    assert all("samples_drawn" not in drawn[r] for r in ("mle", "ss-two-pass", "ss-exact"))
    assert all(drawn[r]["samples_drawn"] > 0 for r in ("bgan", "seqgan")), drawn


def _copy_study(study: Path, copy: Path) -> Path:
    """A copy of a study folder. Its arms record the base's absolute path (init_from), so a copy points
    them at its own base, as a study made in `copy` would."""
    shutil.copytree(study, copy)
    for config in copy.glob("*/config.yaml"):
        config.write_text(config.read_text().replace(str(study / "base"), str(copy / "base")))
    return copy


def test_running_the_study_again_reuses_every_finished_run(smoke_study, capsys):
    stamps = {p: p.stat().st_mtime_ns for p in smoke_study.glob("*/checkpoint/trainer.json")}
    capsys.readouterr()
    assert main(["study", str(CAPTION_STUDY), "--scale", "smoke", "--out", str(smoke_study)]) == 0
    err = capsys.readouterr().err
    assert err.count("reusing the finished run") == 1 + len(ARMS)
    assert stamps == {p: p.stat().st_mtime_ns for p in smoke_study.glob("*/checkpoint/trainer.json")}


def test_a_run_made_with_other_settings_is_never_reused(smoke_study, tmp_path, capsys):
    copy = _copy_study(smoke_study, tmp_path / "changed")
    spec = tmp_path / "study.yaml"
    spec.write_text(CAPTION_STUDY.read_text().replace("budget: 3", "budget: 4"), encoding="utf-8")
    shutil.copy(REPO / "recipes" / "caption" / "mle.yaml", tmp_path / "mle.yaml")
    capsys.readouterr()
    assert (
        main(["study", str(spec), "--scale", "smoke", "--out", str(copy)]) == 0
    )  # base reused, arms continued
    err = capsys.readouterr().err
    assert "reusing the finished run" in err and "continuing the unfinished run" in err
    spec.write_text(CAPTION_STUDY.read_text().replace("train.lr=1e-4", "train.lr=2e-4"), encoding="utf-8")
    assert main(["study", str(spec), "--scale", "smoke", "--out", str(copy)]) == 2
    assert "made with other settings" in capsys.readouterr().err
