"""The right-censored power-law fit (theory_fit.fit_power_law_censored) and which runs the fits
of `report --fit` treat as censored (stats.fit_inputs)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from groklab.cli.report import fit_line
from groklab.stats import fit_inputs, fit_runs
from groklab.theory_fit import fit_power_law, fit_power_law_censored, profile_critical_value

K_TRUE = -1.0


def simulate(seed, n=30, sigma=0.5, horizon=1e5):
    """Delta t = 0.1 (alpha beta)^-1 e^(sigma eps) over three decades of alpha beta (1e3 .. 1e6
    steps); every run slower than the horizon is censored there (about a third)."""
    rng = np.random.default_rng(seed)
    x = 10 ** rng.uniform(-7, -4, n)
    t = 0.1 * x ** K_TRUE * np.exp(sigma * rng.standard_normal(n))
    t[t > horizon] = np.nan
    return x, t, horizon


def test_censored_fit_recovers_the_exponent_where_the_naive_fit_is_biased():
    """50 data sets, seeds 0..49 (every seed, none picked).  The naive fit keeps only the runs
    that happened to be fast at small alpha beta, which flattens its slope: its mean bias is
    ~ +0.065 (measured over 400 seeds: 0.065 +- 0.004) while the censored fit's is ~0.003 with
    a sampling sd of the mean of ~0.011 over 50 sets.  Coverage of the nominal 95% profile
    interval at n = 30: 94.5% over 400 seeds (the naive interval's: 88.5%); with 50 sets, fewer
    than 42 covered has probability ~0.1% at a true 94.5%."""
    ks, naive, covered, censored = [], [], 0, []
    for seed in range(50):
        x, t, h = simulate(seed)
        f = fit_power_law_censored(x, t, h)
        ks.append(f.exponent)
        naive.append(f.naive_exponent)
        censored.append(f.n_censored)
        covered += f.ci_low <= K_TRUE <= f.ci_high
        assert f.n == 30 and f.naive_n == 30 - f.n_censored
        assert f.ci_low < f.exponent < f.ci_high
    bias, naive_bias = np.mean(ks) - K_TRUE, np.mean(naive) - K_TRUE
    assert 5 <= np.mean(censored) <= 15  # the regime the test is about
    assert naive_bias > 0.03  # the naive fit is biased towards a flatter law ...
    assert abs(bias) < 0.03 and abs(bias) < naive_bias / 2  # ... the censored one is not
    assert covered >= 42, covered


def _direct_nll(theta, lx, ly, cens):
    a, k, ls = theta
    s = math.exp(ls)
    z = (ly - a - k * lx) / s
    return -(stats.norm.logpdf(z[~cens]).sum() - (~cens).sum() * ls
             + stats.norm.logsf(z[cens]).sum())


def test_mle_agrees_with_a_direct_optimization():
    """Newton in Olsen's parameters against Nelder-Mead on the textbook Tobit likelihood."""
    x, t, h = simulate(7)
    f = fit_power_law_censored(x, t, h)
    cens = ~np.isfinite(t)
    lx, ly = np.log(x), np.log(np.where(cens, h, t))
    res = optimize.minimize(_direct_nll, [math.log(0.1), -0.9, math.log(0.4)],
                            args=(lx, ly, cens), method="Nelder-Mead",
                            options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000})
    assert f.exponent == pytest.approx(res.x[1], abs=1e-5)
    assert f.sigma == pytest.approx(math.exp(res.x[2]), rel=1e-4)
    assert f.prefactor == pytest.approx(math.exp(res.x[0]), rel=1e-4)
    # the interval ends are where the profile has dropped by half the critical value
    crit = profile_critical_value(0.95, f.naive_n)
    assert stats.chi2.ppf(0.95, 1) < crit < 1.2 * stats.chi2.ppf(0.95, 1)
    for end in (f.ci_low, f.ci_high):
        prof = optimize.minimize(lambda p: _direct_nll((p[0], end, p[1]), lx, ly, cens),
                                 [res.x[0], res.x[2]], method="Nelder-Mead",
                                 options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
        assert prof.fun - res.fun == pytest.approx(crit / 2, abs=1e-4)


def test_without_censoring_it_is_least_squares():
    """No censored run: the maximum-likelihood line is least squares, and the calibrated profile
    interval is exactly the Student-t one."""
    rng = np.random.default_rng(3)
    x = 10 ** rng.uniform(-6, -3, 12)
    t = 2.0 * x ** -0.5 * np.exp(0.3 * rng.standard_normal(12))
    f = fit_power_law_censored(x, t, horizon=np.inf)
    ols = fit_power_law(x, t)
    assert f.n_censored == 0 and f.exponent == pytest.approx(ols["exponent"], rel=1e-12)
    assert f.naive_exponent == pytest.approx(ols["exponent"], rel=1e-12)
    assert f.ci_low == pytest.approx(ols["exponent_low"], rel=1e-10)
    assert f.ci_high == pytest.approx(ols["exponent_high"], rel=1e-10)
    # and the profile really drops by the critical value there: n log(RSS(k) / RSS(k_hat))
    lx, ly = np.log(x), np.log(t)
    rss = ((ly - np.log(ols["prefactor"]) - ols["exponent"] * lx) ** 2).sum()
    for end in (f.ci_low, f.ci_high):
        a = np.mean(ly - end * lx)
        rss_k = ((ly - a - end * lx) ** 2).sum()
        assert 12 * math.log(rss_k / rss) == pytest.approx(profile_critical_value(0.95, 12),
                                                           rel=1e-9)


def test_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law_censored([1e-3, 1e-2], [1.0, 2.0], 10.0)
    with pytest.raises(ValueError, match="2 of them detected"):
        fit_power_law_censored([1e-3, 1e-2, 1e-1], [1.0, np.nan, np.nan], 10.0)
    with pytest.raises(ValueError, match="distinct"):
        fit_power_law_censored([1e-3] * 3, [1.0, 2.0, np.nan], 10.0)


# ---- which runs a fit keeps ---------------------------------------------------------------------
def _runs_and_curves():
    """Five sparse-recovery-like runs (lr 0.1): two detected, one still falling at the horizon
    (censored), one flat above the threshold (failed: the penalty's floor is too high), one
    diverged."""
    steps = np.array([0, 10, 100, 1000, 5000, 10_000])
    l1 = [1e-3, 1e-4, 5e-5, 1e-1, 1e-5]
    t2 = [1000, 5000, None, None, None]
    status = ["done", "done", "done", "done", "diverged"]
    curves = {5e-5: [1.0, 0.9, 0.8, 0.6, 0.4, 0.3],  # falling: slope << -0.1
              1e-1: [1.0, 0.9, 0.9, 0.9, 0.9, 0.9]}  # flat
    runs, rows = [], []
    for i, (b, t, st) in enumerate(zip(l1, t2, status)):
        runs.append(dict(run_id=f"r{i}", problem="sparse-recovery", lr=0.1, l1=b, steps=10_000,
                         t1=10, t2=t, delta_t=None if t is None else t - 10,
                         t2_rule="never" if t is None else "threshold", status=st))
        for s, e in zip(steps, curves.get(b, [1.0, 0.5, 0.1, 1e-4, 1e-5, 1e-5])):
            rows.append(dict(run_id=f"r{i}", step=s, train_error=1e-5, test_error=e))
    runs = pd.DataFrame(runs)
    for c in ("t1", "t2", "delta_t"):
        runs[c] = runs[c].astype("Int64")
    return runs, pd.DataFrame(rows)


def test_fit_inputs_censored_failed_and_left_out():
    runs, curves = _runs_and_curves()
    beta, x, t, h, n_failed = fit_inputs(runs, curves, "t2")
    assert beta == "l1" and n_failed == 1
    np.testing.assert_allclose(x, 0.1 * runs.l1.to_numpy())
    assert list(np.isfinite(t)) == [True, True, False, False, False]
    assert list(np.isfinite(h)) == [False, False, True, False, False]  # only the slow one
    assert h[2] == 10_000
    _, _, _, h_dt, _ = fit_inputs(runs, curves, "delta_t")
    assert h_dt[2] == 10_000 - 10  # censored Delta t: beyond the horizon minus t1
    # without curves nothing tells a slow run from a failed one: both count as censored
    assert np.isfinite(fit_inputs(runs, None, "t2")[3]).sum() == 2


def test_report_fit_prints_both_fits():
    runs, curves = _runs_and_curves()
    extra = runs.iloc[[0]].assign(run_id="r5", l1=3e-4, t2=3000, delta_t=2990)
    runs = pd.concat([runs, extra], ignore_index=True)
    curves = pd.concat([curves, curves[curves.run_id == "r0"].assign(run_id="r5")])
    lines = fit_line(runs, "t2", curves).splitlines()
    assert len(lines) == 2 and lines[0].startswith("t2 ~ (lr*l1)^k: k = ")
    assert "1 censored" in lines[1] and "1 left out as failed" in lines[1]
    _, naive, cens, _ = fit_runs(runs, curves, "t2")
    assert cens.n == 4 and cens.naive_n == 3 and naive["n"] == 3
    # the naive line puts the slow run (x = 5e-6) at ~8.7e3 < its horizon 1e4: knowing it is
    # slower than that makes the censored law steeper
    assert cens.exponent < naive["exponent"] - 0.01


def test_dict_adapter_matches():
    """censored_fit(x, y, censored=mask): the claim checker's signature, same numbers."""
    from groklab.theory_fit import censored_fit

    x, t, h = simulate(11)
    f = fit_power_law_censored(x, t, h)
    cens = ~np.isfinite(t)
    d = censored_fit(x, np.where(cens, h, t), censored=cens)
    assert (d["exponent"], d["exponent_low"], d["exponent_high"], d["n_censored"]) == \
        (f.exponent, f.ci_low, f.ci_high, f.n_censored)
