"""The adversarial claims of recipes/oracle/claims.py, short versions through the real trainer (exact
divergences on the enumerable oracle V=4, L=5):

- Huszar (2015): with the exact pi-balanced discriminator and the minimax reward, REINFORCE descends JS_pi,
  and for a model that cannot match P (independent positions) pi moves the optimum: KL(P||Q) is larger at
  pi = 0.9 than at pi = 0.1 and KL(Q||P) smaller.
- Fedus et al. (2018): from a start the exact discriminator rejects with certainty (P gives symbols 2 and 3
  almost no mass, the generator lives on them), the minimax reward -log(1 - D) leaves KL(Q||P) where it was
  (weight decay 0) while the non-saturating reward log D moves it far down.
The full recipe (3 seeds, every table) is the slow test at the end.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _claims():
    spec = importlib.util.spec_from_file_location("oracle_claims", ROOT / "recipes" / "oracle" / "claims.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def claims():
    torch.set_num_threads(2)
    return _claims()


def test_pi_moves_the_optimum_of_an_independent_model(claims, tmp_path):
    runs = {
        pi: claims.run_job(
            tmp_path,
            claims.Job(f"pi{pi}", "claims_pi.yaml", (f"adv.pi={pi}", "train.max_steps=300", "train.seed=0")),
        )
        for pi in (0.1, 0.9)
    }
    low, high = runs[0.1], runs[0.9]
    # exact JS_pi descent: 0.877 / 1.343 at pi = 0.1, 1.149 / 1.116 at pi = 0.9
    assert high["kl_p_q"] > low["kl_p_q"] + 0.1
    assert low["kl_q_p"] > high["kl_q_p"] + 0.1
    assert low["trajectory"][0]["kl_p_q"] > 1.2  # from the near-uniform start, not from the optimum


def test_minimax_saturates_where_non_saturating_learns(claims, tmp_path):
    start = claims._start(-12, [0]).jobs[0]
    claims.run_job(tmp_path, start)
    steps = "train.max_steps=60"
    runs = {
        reward: claims.run_job(
            tmp_path,
            claims.Job(
                reward, "claims_reject.yaml", (f"adv.reward={reward}", steps, "train.seed=0"), start.name
            ),
        )
        for reward in ("minimax", "non_saturating")
    }
    minimax, non_sat = runs["minimax"], runs["non_saturating"]
    begin = minimax["trajectory"][0]["kl_q_p"]
    assert begin > 40 and minimax["start_mass_on_unshifted"] < 1e-6  # certainly rejected
    assert minimax["d_fake_first"] < 1e-15
    assert abs(minimax["kl_q_p"] - begin) < 0.01 * begin
    assert non_sat["trajectory"][0]["kl_q_p"] == pytest.approx(begin)
    assert non_sat["kl_q_p"] < 0.5 * begin


def test_recipe_runs_and_prints_its_tables(claims, tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--seeds", "0,1", "--steps", "2", "--jobs", "1", "--only", "c"]
    assert claims.main(argv) == 0
    out = capsys.readouterr().out
    assert "### Claim c" in out and "fraction of steps JS rose" in out and " ± " in out
    assert (tmp_path / "claim_c_trajectory.png").stat().st_size > 1000
    assert claims.main(argv) == 0  # finished runs are reused
    assert "### Claim c" in capsys.readouterr().out


@pytest.mark.slow
def test_full_recipe_reproduces_the_claims(tmp_path, capsys):
    assert _claims().main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for claim in "abcd":
        assert f"### Claim {claim}" in out
    verdicts = [line for line in out.splitlines() if line.startswith("- minimax + exact D")]
    assert verdicts and "does NOT hold" not in verdicts[0]
    for prefix in ("- minimax, exact D", "- non-saturating, exact D", "- bgan_is + exact D", "- p_gold = 0"):
        line = next(line for line in out.splitlines() if line.startswith(prefix))
        assert "does NOT hold" not in line, line
