"""The claim checker's rules and measurements on synthetic results (no real figure runs)."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from groklab.claims import (FAIL, INCONCLUSIVE, PASS, Claim, grid_recipe, load_claims_file,
                            paper_claims, rules as R, select, table)
from groklab.claims import measures as M
from groklab.theory_fit import fit_power_law, fit_power_law_censored
from groklab.families.modular import claims as paper_nets
from groklab.families.sparse_recovery import claims as paper_sparse
from groklab.claims.runner import judge
from groklab.fields import ConfigError
from groklab.figures import all_figures
from groklab import Results


# ---- rules ------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule,good,bad", [
    (R.at_least("x", 2), 2.0, 1.99), (R.at_most("x", 2), 2.0, 2.01),
    (R.between("x", -1, 1), 0.3, 1.2), (R.within_factor("x", 1.0, 3.0), 2.9, 3.1),
])
def test_compare_rules_pass_fail_and_stay_open_on_missing(rule, good, bad):
    assert rule.decide({"x": good})[0] == PASS
    assert rule.decide({"x": bad})[0] == FAIL
    for missing in ({}, {"x": None}, {"x": float("nan")}, {"x": "text"}):
        assert rule.decide(missing)[0] == INCONCLUSIVE  # no evidence is never a pass


def test_contains_with_tolerance():
    r = R.contains("lo", "hi", -1.0, tol=0.05)
    assert r.decide({"lo": -1.2, "hi": -0.9})[0] == PASS
    assert r.decide({"lo": -0.97, "hi": -0.9})[0] == PASS  # within the 0.05 tolerance
    assert r.decide({"lo": -0.9, "hi": -0.8})[0] == FAIL
    assert r.decide({"lo": -1.3, "hi": None})[0] == INCONCLUSIVE


def test_guard_makes_everything_inconclusive_and_a_failure_wins_otherwise():
    rule = R.all_of(R.needs("n", 5), R.at_most("x", 1.0))
    assert rule.decide({"n": 4, "x": 9.0})[0] == INCONCLUSIVE  # too few runs: no verdict
    assert rule.decide({"n": 5, "x": 9.0})[0] == FAIL
    assert rule.decide({"n": 5, "x": 0.5})[0] == PASS
    two = R.all_of(R.at_most("x", 1.0), R.at_least("y", 1.0))
    assert two.decide({"x": 2.0})[0] == FAIL  # y missing, x fails: the failure is the verdict
    assert two.decide({"x": 0.0})[0] == INCONCLUSIVE
    either = R.any_of(R.at_most("x", 1.0), R.at_least("y", 1.0))
    assert either.decide({"x": 5.0, "y": 2.0})[0] == PASS
    assert either.decide({"x": 5.0, "y": 0.0})[0] == FAIL


def test_registry_has_enough_unique_claims_on_registered_figures():
    claims = paper_claims()
    assert len(claims) >= 25
    assert len({c.id for c in claims}) == len(claims)
    figs = all_figures()
    for c in claims:
        for r in c.recipes:
            assert r.figure is None or r.figure in figs, (c.id, r.figure)
        assert c.statement and c.rule.text


@pytest.mark.parametrize("claim", paper_claims(), ids=lambda c: c.id)
def test_every_claims_rule_can_pass_and_can_fail(claim):
    """A rule that cannot fail is a defect: each one passes its passing case and fails every one
    of its failing cases (one per part of the rule)."""
    assert claim.rule.decide(claim.rule.passing)[0] == PASS
    assert claim.rule.failing, "a rule with no failing case"
    for case in claim.rule.failing:
        assert claim.rule.decide(case)[0] == FAIL, case


# ---- measurements on synthetic runs -------------------------------------------------------------
def _fig4_like(exponent: float, seed: int = 0) -> Results:
    """An lr x l1 grid whose delay is 0.1 (alpha beta)^exponent (5 % log-normal noise); a delay
    past the 1e7-step horizon is stored as never (censored)."""
    rng = np.random.default_rng(seed)
    rows = []
    for lr in (0.01, 0.03, 0.1):
        for l1 in (1e-5, 1e-4, 1e-3):
            dt = 0.1 * (lr * l1) ** exponent * math.exp(0.05 * rng.standard_normal())
            steps = 10 ** 7
            rows.append(dict(run_id=f"{lr}-{l1}", lr=lr, l1=l1, t1=50.0, steps=steps,
                             delta_t=dt if dt < steps else None, status="done",
                             t2=50 + dt if dt < steps else None,
                             pred_delta_t=0.1 / (lr * l1), pred_t1=50.0,
                             final_test_error=18 * l1))
    runs = pd.DataFrame(rows)
    for c in ("t1", "t2", "delta_t"):
        runs[c] = runs[c].astype("Float64")
    return Results(runs=runs, curves=pd.DataFrame())


@pytest.mark.parametrize("exponent,status", [(-1.0, PASS), (-0.6, FAIL)])
def test_delay_claim_on_synthetic_grid(exponent, status):
    claim = next(c for c in paper_sparse.CLAIMS if c.id == "sparse.delay-inverse-ab")
    v = judge(claim, {"fig4": _fig4_like(exponent)}, {})
    assert v.status == status, v.reason
    assert abs(v.measured["exponent"] - exponent) < 0.1


def test_delay_fit_counts_censored_runs_at_their_lower_bound():
    """An undetected run enters the censored fit at ``horizon - t1``; the naive fit leaves it out.
    Checked against theory_fit's censored fit called directly, and against a wrong bound."""
    x = np.array([1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1])
    t = np.array([np.nan, 3.1e3, 1.05e3, 3.2e2, 0.98e2, 3.3e1])
    t1 = np.array([400.0, 300.0, 200.0, 100.0, 50.0, 20.0])
    out = M.delay_fit(x, t, [5000.0] * 6, t1)
    want = fit_power_law_censored(x, t, 5000.0 - t1)
    wrong = fit_power_law_censored(x, t, np.full(6, 5000.0))
    assert out["n_censored"] == 1 and out["n"] == 6
    assert out["exponent"] == want.exponent != wrong.exponent
    assert (out["exponent_low"], out["exponent_high"]) == (want.ci_low, want.ci_high)
    naive = fit_power_law(x[1:], t[1:])
    assert out["naive_exponent"] == pytest.approx(naive["exponent"])


def test_delay_fit_is_less_biased_than_the_naive_fit_under_censoring():
    """Simulated: t = 10 / x with log-normal noise (sigma 0.5), the runs above the horizon cut
    (about half).  Over 200 seeded data sets (seeds 0-199, all of them) the censored exponent's
    mean error is smaller than the naive one's, which cutting the slow runs biases upward."""
    err_c, err_n = [], []
    x = np.logspace(-3, 0, 10)
    for seed in range(200):
        rng = np.random.default_rng(seed)
        t = 10.0 / x * np.exp(0.5 * rng.standard_normal(x.size))
        h = 200.0
        out = M.delay_fit(x, np.where(t > h, np.nan, t), [h] * x.size)
        if np.isfinite(out["exponent"]) and np.isfinite(out["naive_exponent"]):
            err_c.append(out["exponent"] + 1)
            err_n.append(out["naive_exponent"] + 1)
    assert len(err_c) > 150
    assert abs(np.mean(err_c)) < abs(np.mean(err_n))
    assert np.mean(err_n) > 0.05  # the naive fit really is biased here (flatter than -1)


def test_too_few_detected_runs_is_inconclusive():
    """Only the two fastest runs (largest alpha beta) grokked by a horizon of 5000 steps; the
    others are censored there (no curves: nothing says they stopped), so the verdict waits."""
    res = _fig4_like(-1.0)
    fast = (res.runs.lr * res.runs.l1).rank(ascending=False) <= 2
    res.runs.loc[~fast, ["delta_t", "t2"]] = pd.NA  # 2 detected runs left
    res.runs["steps"] = 5000
    claim = next(c for c in paper_sparse.CLAIMS if c.id == "sparse.delay-inverse-ab")
    assert judge(claim, {"fig4": res}, {}).status == INCONCLUSIVE


def _contrast(l2_error: float, l2_t2) -> Results:
    runs = pd.DataFrame([
        dict(run_id="a", l1=1e-5, l2=0.0, t1=60, t2=1e5, final_test_error=2e-4, ls_test_error=0.86),
        dict(run_id="b", l1=0.0, l2=1e-5, t1=60, t2=l2_t2, final_test_error=l2_error,
             ls_test_error=0.86),
        dict(run_id="c", l1=0.0, l2=0.0, t1=60, t2=None, final_test_error=0.86,
             ls_test_error=0.86)])
    runs["t2"] = runs["t2"].astype("Float64")
    return Results(runs=runs, curves=pd.DataFrame())


@pytest.mark.parametrize("err,t2,status", [(0.86, None, PASS), (0.01, 5e4, FAIL)])
def test_l2_alone_fails_claim(err, t2, status):
    claim = next(c for c in paper_sparse.CLAIMS if c.id == "sparse.l2-fails")
    assert judge(claim, {"fig3": _contrast(err, t2)}, {}).status == status


def _tau_runs(t2_of_tau) -> Results:
    rows = [dict(run_id=f"{N}-{tau}", measurements=N, dim=100, tau=tau, status="done",
                 t2=t2_of_tau(tau)) for N in (40, 60) for tau in (0.0, 0.2, 0.5, 1.0)]
    runs = pd.DataFrame(rows)
    runs["t2"] = runs["t2"].astype("Float64")
    return Results(runs=runs, curves=pd.DataFrame())


@pytest.mark.parametrize("law,status", [(lambda tau: None if tau == 1 else 1e3 * (1 + 9 * tau),
                                         PASS), (lambda tau: 1e4 / (1 + 9 * tau), FAIL)])
def test_coherence_hurts_claim(law, status):
    claim = next(c for c in paper_sparse.CLAIMS if c.id == "sparse.coherence-hurts")
    assert judge(claim, {"fig22": _tau_runs(law)}, {}).status == status


def _modular_curves(l2_path) -> Results:
    """One l1 run: test error 0.9 until step 1000, then a climb to 0 by 2000; the l1 norm halves
    over the climb and the l2 norm follows ``l2_path``."""
    steps = np.arange(0, 3001, 100)
    err = np.clip(0.9 - 0.9 * (steps - 1000) / 1000, 0.0, 0.9)
    l1 = np.where(steps < 1000, 100.0, np.maximum(50.0, 100 - 0.05 * (steps - 1000)))
    curves = pd.DataFrame({"run_id": "r", "step": steps, "test_error": err, "l1_norm": l1,
                           "l2_norm": l2_path(steps)})
    runs = pd.DataFrame([dict(run_id="r", l1=1e-4, l2=0.0, nuclear=0.0, t1=100, t2=2000,
                              status="done")])
    return Results(runs=runs, curves=curves)


@pytest.mark.parametrize("l2_path,status", [(lambda s: 10.0 + s / 1000.0, PASS),
                                            (lambda s: 10.0 + 0 * s, FAIL),
                                            (lambda s: 10.0 * np.exp(-s / 1000.0), FAIL)])
def test_modular_l2_norm_no_progress_claim(l2_path, status):
    """The paper's claim: over [t1, t2] the l2 norm rises (here +19 %) while l1 falls; a flat
    l2 norm (no effect) and a falling one fail."""
    claim = next(c for c in paper_nets.CLAIMS if c.id == "modular.l2-norm-no-progress")
    v = judge(claim, {paper_nets.MLP.name: _modular_curves(l2_path)}, {})
    assert v.status == status, v.reason


def test_a_failed_recipe_or_a_broken_measurement_is_inconclusive():
    claim = paper_sparse.CLAIMS[0]
    assert judge(claim, {}, {"fig3": "boom"}).status == INCONCLUSIVE
    broken = Claim("x.broken", "s", ("1",), (grid_recipe("g", "toy", quick=[{}]),),
                   lambda ev: 1 / 0, R.at_least("x", 1))
    v = judge(broken, {"g": None}, {})
    assert v.status == INCONCLUSIVE and "ZeroDivisionError" in v.reason


def test_table_row_per_claim_with_json_numbers():
    claim = next(c for c in paper_sparse.CLAIMS if c.id == "sparse.delay-inverse-ab")
    v = judge(claim, {"fig4": _fig4_like(-1.0)}, {})
    t = table([v])
    assert list(t.id) == [claim.id] and t.status.iloc[0] == PASS
    assert set(json.loads(t.measured.iloc[0])) >= {"exponent", "exponent_low", "n_censored"}
    assert t.rule.iloc[0] == claim.rule.text


def test_select_and_claims_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="claims"):
        select(paper_claims(), "sparse.l1-groks,no.such")
    bad = tmp_path / "bad.py"
    bad.write_text("CLAIMS = [1]\n")
    with pytest.raises(ConfigError, match="claims_file"):
        load_claims_file(bad)
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('nope')\n")
    with pytest.raises(ConfigError, match="RuntimeError: nope"):
        load_claims_file(broken)
    with pytest.raises(ConfigError, match="not a file"):
        load_claims_file(tmp_path / "missing.py")
