"""The evidence behind the sparse-recovery claims (:mod:`.claims`): the recipes (the sweeps) and
the measurements that turn their results into numbers for the rules.

Runs still moving at the horizon.  A run whose time (t2, Delta t) was not detected is *moving*
when its test error is still falling at the horizon (log-log slope over the last half of the
run below -``groklab.stats.FALLING_SLOPE``): a longer run could still detect it, so it counts as
right-censored (and a verdict it could turn is inconclusive, horizon).  A run that has stopped
falling above the threshold has *failed* (N = 10 of figure 24, final error 0.77, say): it is
left out of delay fits and counts against "it groks".
"""
from __future__ import annotations

import numpy as np

from ...claims import measures as M
from ...claims.record import HORIZON, Inconclusive, figure_recipe, grid_recipe
from ...detect import Detection
from ...stats import FALLING_SLOPE, tail_slopes
from ...theory_fit import fit_power_law_censored
from .rows import data_of
from .theory import lasso_bias_direction

# ---- recipes --------------------------------------------------------------------------------
#: quick costs: wall seconds from an empty directory, one torch thread, on the 2-core machine
#: with one other job running (load ~1.9; all nine: 367 s; docs/families/sparse-recovery.md#claims)
FIG3 = figure_recipe("fig3", 8)
FIG4 = figure_recipe("fig4", 30)
FIG7 = figure_recipe("fig7", 3, stand_in_quick=(
    "β2 = 1e-3 instead of the paper's 1e-5 (αβ2 100× larger, so the drop comes within 1.5e5 "
    "steps instead of ~8e6)"))
FIG19A = figure_recipe("fig19a", 23)
FIG22 = figure_recipe("fig22", 49)
FIG24 = figure_recipe("fig24", 43)
FIG27 = figure_recipe("fig27", 88)
#: the paper's horizon for the depth figures (9, 17, 18)
DEPTH_HORIZON = 1_000_000
#: figure 9's setting: n = 100, s = 5, noiseless, alpha = 0.1, beta = 0, init 1e-6 * 1 for L = 1
#: and independent factors 1e-2 * N(0, 1/n) for L > 1 (the paper's), 1e6 steps
_DEPTH_BASE = dict(dim=100, sparsity=5, seed=1, snr=float("inf"), method="subgradient", lr=0.1,
                   log_spacing="log", log_every=20, l1=0.0, l2=0.0)
#: the deep runs' train error settles near 1e-3 - 1e-2 (no penalty, slow tail): t1 / t2 of the
#: depth claims use 1e-2 thresholds (as figures 9/17/18 do)
DEPTH_DETECTION = Detection(train_threshold=1e-2, test_threshold=1e-2)


def _depth_grids(Ns, depths, steps) -> list[dict]:
    return [dict(_DEPTH_BASE, depth=L, measurements=Ns, steps=steps,
                 init="constant" if L == 1 else "random", init_scale=1e-6 if L == 1 else 1e-2)
            for L in depths]


#: figure 9 / 17 / 18 at the paper's setting and horizon; quick: the three N of the issue's
#: measurement (the paper's N grid at full scale)
DEPTH = grid_recipe("depth", "sparse-recovery",
                    quick=_depth_grids([30, 40, 50], [1, 2, 3], DEPTH_HORIZON),
                    full=_depth_grids(list(range(10, 101, 10)), [1, 2, 3, 4], DEPTH_HORIZON),
                    detection=DEPTH_DETECTION, cost_s=113)
#: the init scale zeta of a deep model without penalty (figure 9's data, N = 40), two decades on
#: either side of the paper's 1e-2; quick 2e5 steps, full the paper's 1e6
_ZETAS = [1e-4, 1e-3, 1e-2, 1e-1]
DEEP_INIT = grid_recipe(
    "deep-init", "sparse-recovery",
    quick=[dict(_DEPTH_BASE, depth=[2, 3], init="random", init_scale=_ZETAS, measurements=40,
                steps=200_000)],
    full=[dict(_DEPTH_BASE, depth=[2, 3], init="random", measurements=40, steps=DEPTH_HORIZON,
               init_scale=[1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1])],
    detection=DEPTH_DETECTION, cost_s=10)


# ---- helpers --------------------------------------------------------------------------------
def still_falling(res, runs) -> np.ndarray:
    """Per run: its test error is still falling at its horizon (see the module docstring)."""
    slope = tail_slopes(res.curves).reindex(runs.run_id).to_numpy(float)
    return np.isfinite(slope) & (slope < -FALLING_SLOPE)


def settled_runs(res, runs):
    """The runs that generalized (t2 detected) and whose error has stopped moving at the horizon
    (|tail slope| <= FALLING_SLOPE): their final error is the plateau's, not a passing value."""
    slope = tail_slopes(res.curves).reindex(runs.run_id).to_numpy(float)
    ok = np.isfinite(M.col(runs, "t2")) & np.isfinite(slope) & (np.abs(slope) <= FALLING_SLOPE)
    return runs[ok]


def delay_fit_against(x, runs, res) -> dict:
    """Power-law fit of delta_t against ``x`` (e.g. the predicted delay) with the runs told apart
    by their curves: detected; moving (censored at horizon - t1); failed (left out, counted in
    n_failed).  Keys as :func:`groklab.claims.measures.delay_fit` (n: detected runs)."""
    t = M.col(runs, "delta_t")
    moving = still_falling(res, runs)
    failed = ~np.isfinite(t) & ~moving
    keep = ~failed
    horizon = runs.steps.to_numpy(float) - np.nan_to_num(M.col(runs, "t1"))
    nan = float("nan")
    out = {"n_runs": int(len(runs)), "n_failed": int(failed.sum()),
           "n_censored": int((~np.isfinite(t) & moving).sum()), "n": int(np.isfinite(t).sum())}
    try:
        fit = fit_power_law_censored(np.asarray(x, float)[keep], t[keep], horizon[keep])
    except ValueError:
        return dict(out, exponent=nan, exponent_low=nan, exponent_high=nan, naive_exponent=nan)
    return dict(out, exponent=fit.exponent, exponent_low=fit.ci_low, exponent_high=fit.ci_high,
                naive_exponent=fit.naive_exponent)


def _l1_run(ev, name="fig3"):
    res = M.evidence(ev, name)
    runs = res.runs[res.runs.l1 > 0]
    if runs.empty:
        raise Inconclusive(f"no l1 run in {name}")
    return res, runs.iloc[0]


# ---- figure 3 -------------------------------------------------------------------------------
def fig3_groks(ev):
    res, r = _l1_run(ev)
    moving = not np.isfinite(M.t_of(r, "t2")) and bool(still_falling(res, r.to_frame().T)[0])
    return dict(M.grokked_run(r), n_moving=int(moving))


def fig3_contrast(ev):
    runs = M.evidence(ev, "fig3").runs
    out = {}
    for name, sel in (("l2_only", (runs.l1 == 0) & (runs.l2 > 0)),
                      ("no_penalty", (runs.l1 == 0) & (runs.l2 == 0))):
        if not sel.any():
            raise Inconclusive(f"no {name} run")
        r = runs[sel].iloc[0]
        out[f"{name}_memorized"] = float(np.isfinite(M.t_of(r, "t1")))
        out[f"{name}_generalized"] = float(np.isfinite(M.t_of(r, "t2")))
        out[f"{name}_error_over_ls"] = float(r.final_test_error / r.ls_test_error)
    return out


def fig3_norms(ev):
    """Over the generalization window [t1, t2] (t2: the horizon if never detected) of the l1 run:
    rank correlations of |a|_1 and |a|_2 with the test error at the logged steps, and where the
    norms end.  In this (noiseless-like, N < n) setting |a|_2 must rise: a_hat is the
    minimum-l2 interpolant and |a*|^2 = |a_hat|^2 + |a_hat - a*|^2, so the l2 growth from a_hat
    to a* is 1/sqrt(1 - ls_error^2) (reported beside the measured growth)."""
    res, r = _l1_run(ev)
    c = M.curve(res, r.run_id)
    t1, t2 = M.t_of(r, "t1"), M.t_of(r, "t2")
    if not np.isfinite(t1):
        raise Inconclusive("the l1 run never memorized: no window [t1, t2]", kind=HORIZON)
    end = t2 if np.isfinite(t2) else float(c.step.max())
    w = c[(c.step >= t1) & (c.step <= end)]
    return {"spearman_l1_test_t1_t2": M.spearman(w.l1_norm, w.test_error),
            "spearman_l2_test_t1_t2": M.spearman(w.l2_norm, w.test_error),
            "final_l1_over_a_star_l1": float(r.final_l1_norm / r.a_star_l1_norm),
            "l1_change_t1_t2": M.rel_change(c, "l1_norm", t1, end),
            "l2_growth_t1_t2": M.value_at(c, "l2_norm", end) / M.value_at(c, "l2_norm", t1),
            "l2_growth_geometry": float(1 / np.sqrt(1 - r.ls_test_error ** 2)),
            "n_logs": len(w)}


# ---- figure 4 -------------------------------------------------------------------------------
def _fig4_l1(ev):
    res = M.evidence(ev, "fig4")
    return res, M.done(res.runs)[M.done(res.runs).l1 > 0]


def fig4_delay(ev):
    res, pos = _fig4_l1(ev)
    pos = pos[np.isfinite(M.col(pos, "t1"))]  # a delay needs a t1
    return M.delay_law(pos, res.curves)  # censored fit: slow runs count, failed ones do not


def fig4_predictor(ev):
    res, pos = _fig4_l1(ev)
    pos = pos[np.isfinite(M.col(pos, "t1"))]
    dt, pred = M.col(pos, "delta_t"), M.col(pos, "pred_delta_t")
    ok = np.isfinite(dt) & np.isfinite(pred) & (dt > 0) & (pred > 0)
    ratio = dt[ok] / pred[ok]
    moving = still_falling(res, pos) & ~np.isfinite(dt)
    return {"median_dt_over_predicted": float(np.median(ratio)) if ok.any() else np.nan,
            "spread_p90_over_p10": float(np.percentile(ratio, 90) / np.percentile(ratio, 10))
            if ok.sum() >= 2 else np.nan,
            "predicted_p90_over_p10": float(np.percentile(pred[ok], 90)
                                            / np.percentile(pred[ok], 10)) if ok.sum() >= 2
            else np.nan,
            "n": int(ok.sum()), "n_runs": len(pos), "n_censored": int(moving.sum())}


def fig4_t1(ev):
    _, pos = _fig4_l1(ev)
    small = pos[pos.l1 <= 1e-3]  # beta >= 1e-2 is the "too large" regime: no memorization
    ratio, n = M.geo_median_ratio(M.col(small, "t1"), M.col(small, "pred_t1"))
    slopes_lr = [M.slope(g.lr, M.col(g, "t1")) for _, g in small.groupby("l1")]
    slopes_b = [M.slope(g.l1, M.col(g, "t1")) for _, g in small.groupby("lr")]
    return {"median_t1_over_eq78": ratio, "n": n, "n_runs": len(small),
            "median_slope_t1_vs_lr": float(np.nanmedian(slopes_lr)) if slopes_lr else np.nan,
            "median_slope_t1_vs_beta": float(np.nanmedian(slopes_b)) if slopes_b else np.nan}


def _slope_per_group(runs, group: str, x: str, y) -> list[float]:
    """Log-log slope of y against column x within each value of ``group`` (>= 3 points)."""
    out = []
    for _, g in runs.assign(_y=y).groupby(group):
        if len(g) >= 3:
            out.append(M.slope(g[x], g._y))
    return out


def fig4_final_error(ev):
    """The final (plateau) error of the runs that generalized and settled, against alpha at fixed
    beta (the paper's O(alpha beta) says it shrinks at least like alpha) and against beta; the
    closed-form lasso bias beta |d| / |a*| (theory.lasso_bias_direction) beside it."""
    res, pos = _fig4_l1(ev)
    pos = pos[pos.l1 <= 1e-3]
    done = settled_runs(res, pos)
    err = done.final_test_error.to_numpy(float)
    data = data_of(pos.iloc[0])  # every fig4 run has the same data (seed 1, N = 30)
    a_star = data.a_star.numpy()
    d, exact = lasso_bias_direction(data.X.numpy(), a_star)
    per_beta = float(np.linalg.norm(d) / np.linalg.norm(a_star))
    lasso = per_beta * done.l1.to_numpy(float)
    by_alpha = _slope_per_group(done, "l1", "lr", err)
    by_beta = _slope_per_group(done, "lr", "l1", err)
    excess = [k for k in _slope_per_group(done, "l1", "lr",
                                          np.where(err > lasso, err - lasso, np.nan))
              if np.isfinite(k)]
    smallest = done[done.lr == done.lr.min()] if len(done) else done
    over = smallest.final_test_error.to_numpy(float) / (per_beta * smallest.l1.to_numpy(float))
    ab = err / (done.lr * done.l1).to_numpy(float)
    moving = (~np.isfinite(M.col(pos, "t2")) & still_falling(res, pos)) | \
        (np.isfinite(M.col(pos, "t2")) & ~pos.run_id.isin(done.run_id).to_numpy())
    return {"median_slope_error_vs_alpha": float(np.median(by_alpha)) if by_alpha else np.nan,
            "median_slope_error_vs_beta": float(np.median(by_beta)) if by_beta else np.nan,
            "median_slope_excess_vs_alpha": float(np.median(excess)) if excess else np.nan,
            "error_over_lasso_at_smallest_alpha": float(np.median(over)) if len(over) else
            np.nan, "lasso_error_per_beta": per_beta, "lasso_closed_form_verified": int(exact),
            "error_over_alpha_beta_max_over_min": float(ab.max() / ab.min()) if len(ab) else
            np.nan, "median_error_over_beta": float(np.median(err / done.l1)) if len(err) else
            np.nan, "n_beta_groups": len(by_alpha), "n_settled": len(done),
            "n_moving": int(moving.sum())}


def fig4_too_large(ev):
    """Memorization below and above beta = 1e-2, and Lemma C.33's ratio beta sqrt(n) /
    |grad g(a(1))| (from the logged fit gradient at step 0) at the smallest beta >= 1e-2."""
    res = M.evidence(ev, "fig4")
    runs = M.done(res.runs)
    big, small = runs[runs.l1 >= 1e-2], runs[(runs.l1 > 0) & (runs.l1 <= 1e-4)]
    g0 = M.col(big, "final_train_error")
    out = {"frac_memorized_beta_ge_1e-2": M.frac(np.isfinite(M.col(big, "t1"))),
           "frac_memorized_beta_le_1e-4": M.frac(np.isfinite(M.col(small, "t1"))),
           "median_final_train_error_beta_ge_1e-2": float(np.nanmedian(g0)) if len(g0)
           else np.nan, "n_large": len(big)}
    if len(big):
        r = big.sort_values("l1").iloc[0]
        grad0 = M.value_at(M.curve(res, r.run_id), "grad_fit_norm", 0)
        out["beta_sqrt_n_over_grad_at_init"] = float(r.l1 * np.sqrt(r.dim) / grad0)
    return out


def fig7(ev):
    res = M.evidence(ev, "fig7")
    r = res.runs.iloc[0]
    c = M.curve(res, r.run_id)
    first = float(c.sort_values("step").test_error.iloc[0])
    return {"initial_over_final_test_error": first / float(r.final_test_error),
            "final_error_over_ls": float(r.final_test_error / r.ls_test_error),
            "generalized": float(np.isfinite(M.t_of(r, "t2")))}
