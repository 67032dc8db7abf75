"""What the matrix claims measure (the numbers the rules of :mod:`.claims` read), and the two
guards the core's rules lack: "enough runs grok" (a fail when they do not and none is still
moving, inconclusive (horizon) when the ones still moving could make up the number), and a
Spearman correlation that reads a constant as "no trend" (0) instead of "undefined".

A run is *moving* when it has not generalized and its test error is still falling at the horizon
(log-log slope over the last half of its log below -``FALLING_SLOPE``, the threshold of
``groklab.stats``): a longer horizon could still change what the rules read from it.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...claims import measures as M
from ...claims.record import FAIL, HORIZON, INCONCLUSIVE, MISSING, PASS, Inconclusive
from ...claims.rules import Rule
from ...stats import FALLING_SLOPE, tail_slopes

#: a run counts as recovered / generalized when its final relative test error is at most this
RECOVERED = 1e-2


# ---- guards and small helpers ------------------------------------------------------------------
def _num(m: dict, key: str):
    v = m.get(key)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def enough(key: str, need: int, moving_key: str = "n_moving", what: str = "runs") -> Rule:
    """Guard: at least ``need`` runs did what the claim reads (grokked, memorized).  Fewer, with
    enough of the others still moving to make up the number: inconclusive (horizon).  Fewer
    otherwise: a **fail** -- the runs stopped without doing it, which is a negative result, not
    a want of data."""
    def check(m):
        n, mv = _num(m, key), _num(m, moving_key)
        if n is None or mv is None:
            return INCONCLUSIVE, f"{key} or {moving_key} not measured", MISSING
        if n >= need:
            return PASS, f"{key} = {int(n)}"
        if n + mv >= need:
            return (INCONCLUSIVE, f"{key} = {int(n)} < {need}, but {int(mv)} more still moving at "
                    "the horizon", HORIZON)
        return FAIL, f"only {int(n)} {what} ({key} < {need}; {int(mv)} still moving)"
    return Rule(f"{key} >= {need} (fewer: inconclusive while enough are still moving, else fail)",
                check, guard=True, passing={key: need, moving_key: 0},
                failing=({key: need - 1, moving_key: 0},), null=({key: 0, moving_key: 0},))


def spearman(x, y) -> float:
    """Rank correlation with ``inf`` ranked above every number ('never'); a constant ``y`` has
    no trend: 0 (not NaN -- "N_min is the same at every tau" is the null result, and must fail)."""
    s = pd.DataFrame({"x": np.asarray(x, float), "y": np.asarray(y, float)}).dropna()
    if len(s) >= 3 and s.x.nunique() >= 2 and s.y.nunique() == 1:
        return 0.0
    return M.spearman(s.x, s.y)


def moving(res, runs: pd.DataFrame, column: str = "test_error", detected: str = "t2") -> int:
    """How many of ``runs`` have no ``detected`` time and a ``column`` still falling at the
    horizon (curves not stored: unknown, counted as moving -- nothing tells them apart)."""
    und = runs[~np.isfinite(M.col(runs, detected))]
    if und.empty:
        return 0
    slopes = tail_slopes(res.curves, column).reindex(und.run_id.astype(str)).to_numpy(float)
    return int((~np.isfinite(slopes) | (slopes < -FALLING_SLOPE)).sum())


def _penalized(ev, name: str):
    res = M.evidence(ev, name)
    runs = M.done(res.runs)
    pos = runs[runs.nuclear > 0]
    if pos.empty:
        raise Inconclusive(f"{name}: no run with a nuclear penalty")
    return res, runs, pos.iloc[0]


def _grok_numbers(res, row) -> dict:
    """t1, t2, t2/t1, the final error, generalized (t2 detected) and moving, of one run."""
    g = M.grokked_run(row)
    g["generalized"] = float(np.isfinite(g["t2"]))
    g["n_moving"] = moving(res, pd.DataFrame([row]))
    return g


# ---- figure 5 (completion, subgradient) and its contrasts ------------------------------------
def groks(name: str):
    def measure(ev):
        res, _, r = _penalized(ev, name)
        return _grok_numbers(res, r)
    return measure


def contrast(name: str):
    """No penalty and l2 only against the nuclear run of recipe ``name``: whether each
    generalized, its final error over the least-squares fit's, and the nuclear run's final error
    over theirs (the effect of the penalty: 1 = none)."""
    def measure(ev):
        res, runs, r = _penalized(ev, name)
        out = {"n_moving": moving(res, pd.DataFrame([r]))}
        for nm, sel in (("l2_only", (runs.nuclear == 0) & (runs.l2 > 0)),
                        ("no_penalty", (runs.nuclear == 0) & (runs.l2 == 0))):
            if not sel.any():
                raise Inconclusive(f"{name}: no {nm} run")
            c = runs[sel].iloc[0]
            out[f"{nm}_generalized"] = float(np.isfinite(M.t_of(c, "t2")))
            out[f"{nm}_error_over_ls"] = float(c.final_test_error / c.ls_test_error)
            out[f"nuclear_error_over_{nm}_error"] = float(r.final_test_error / c.final_test_error)
        out["ls_test_error"] = float(r.ls_test_error)
        return out
    return measure


def spurious(ev):
    res, _, r = _penalized(ev, "fig5")
    sig = np.asarray(r.final_sigma, float)
    k, ab = int(r["rank"]), float(r.lr * r.nuclear)
    c = res.curve(r.run_id)  # for the spurious values at memorization (reported only)
    t1 = M.t_of(r, "t1")
    at_t1 = np.array([M.value_at(c, f"sigma_{i}", t1) if f"sigma_{i}" in c else np.nan
                      for i in range(k, sig.size)])
    return {"max_spurious_sigma_over_alpha_beta": float(sig[k:].max() / ab),
            "min_true_sigma_over_alpha_beta": float(sig[:k].min() / ab),
            "max_spurious_sigma_at_t1_over_alpha_beta": float(np.max(at_t1) / ab),
            "alpha_beta": ab, "n_moving": moving(res, pd.DataFrame([r]))}


def nuclear_norm(ev):
    res, _, r = _penalized(ev, "fig5")
    c = M.curve(res, r.run_id)
    t1 = M.t_of(r, "t1")
    star = float(r.a_star_nuclear_norm)
    return {"final_nuclear_over_a_star": float(r.final_nuclear_norm) / star,
            "nuclear_at_t1_over_a_star": M.value_at(c, "nuclear_norm", t1) / star,
            "n_moving": moving(res, pd.DataFrame([r]))}


# ---- figures 14 and 15 (sensing, projected and SVT) --------------------------------------------
def variants(ev):
    out, mv = {}, 0
    for name in ("fig14", "fig15"):
        res, _, r = _penalized(ev, name)
        g = _grok_numbers(res, r)
        mv += g.pop("n_moving")
        out.update({f"{name}_{k}": v for k, v in g.items()})
        out[f"{name}_method"] = str(r.method)
        out[f"{name}_problem"] = str(r.problem)
    res, _, r = _penalized(ev, "fig15")
    sig = np.asarray(r.final_sigma, float)
    out["fig15_max_spurious_sigma_over_sigma1"] = float(sig[int(r["rank"]):].max() / sig.max())
    out["ls_test_error"] = float(r.ls_test_error)
    out["n_moving"] = mv
    return out


def sensing(ev):
    res, _, r = _penalized(ev, "sensing")
    return {**_grok_numbers(res, r), **{k: v for k, v in contrast("sensing")(ev).items()
                                        if k != "n_moving"}}


# ---- figure 6 (completion, lr x nuclear grid) --------------------------------------------------
def _fig6(ev):
    res = M.evidence(ev, "fig6")
    runs = M.done(res.runs)
    return res, runs[runs.nuclear > 0]


def delay_law(ev):
    res, pos = _fig6(ev)
    out = M.delay_law(pos, res.curves)  # censored fit; n = detected delays
    out["n_moving"] = moving(res, pos)  # the fit's n_censored is 0 when it has nothing to fit
    return out


def delay_predictor(ev):
    res, pos = _fig6(ev)
    ratio = M.col(pos, "delta_t") / M.col(pos, "pred_delta_t")
    ok = np.isfinite(ratio) & (ratio > 0)
    r = ratio[ok]
    ab = (pos.lr * pos.nuclear).to_numpy(float)[ok]
    return {"median_dt_over_predicted": float(np.median(r)) if r.size else np.nan,
            "spread_p90_over_p10": float(np.quantile(r, 0.9) / np.quantile(r, 0.1))
            if r.size >= 3 else np.nan,
            "slope_ratio_vs_alpha_beta": M.slope(ab, r),
            "alpha_beta_decades": float(np.log10(ab.max() / ab.min())) if r.size else np.nan,
            "n": int(r.size), "n_moving": moving(res, pos)}


def t1_eq78(ev):
    res, pos = _fig6(ev)
    t1 = M.col(pos, "t1")
    ratio, n = M.geo_median_ratio(t1, M.col(pos, "pred_t1"))
    out = {"median_t1_over_eq78": ratio, "n": n,
           "spearman_t1_vs_eq78": spearman(M.col(pos, "pred_t1")[np.isfinite(t1)],
                                           t1[np.isfinite(t1)]),
           "n_moving": moving(res, pos, "train_error", "t1")}
    # Thm 3.4's own constant sqrt(n1 n2) (groklab's pred_t1 has the exact |U V^T|_F): reported
    paper = M.col(pos, "pred_t1_paper") if "pred_t1_paper" in pos.columns \
        else np.full(len(pos), np.nan)
    out["median_t1_over_eq78_paper_form"], _ = M.geo_median_ratio(t1, paper)
    return out


def final_error(ev):
    """The error after grokking against alpha beta, over the runs that generalized: the
    paper's figure-6 quantity |A - A*|_* / sqrt(n1 n2) (at the final plateau) and the relative
    Frobenius error."""
    res, pos = _fig6(ev)
    det = pos[np.isfinite(M.col(pos, "t2"))]
    ab = (det.lr * det.nuclear).to_numpy(float)
    nuc = M.col(det, "final_nuclear_error") / np.sqrt((det.rows * det.cols).to_numpy(float))
    fro = M.col(det, "final_test_error")
    return {"slope_nuclear_error_vs_alpha_beta": M.slope(ab, nuc),
            "slope_test_error_vs_alpha_beta": M.slope(ab, fro),
            "median_nuclear_error_over_alpha_beta": float(np.median(nuc / ab)) if len(det)
            else np.nan, "n": len(det), "n_moving": moving(res, pos)}


# ---- figures 8 and 23 (data selection) ---------------------------------------------------------
def selection_faster(ev):
    res = M.evidence(ev, "fig8")
    runs = M.done(res.runs).sort_values("tau")
    t2 = M.never_as_inf(M.col(runs, "t2"))
    tau = runs.tau.to_numpy(float)
    lo, hi = t2[tau == tau.min()][0], t2[tau == tau.max()][0]
    if np.isfinite(hi):
        ratio = hi / lo  # 0 when only tau_max generalizes
    else:  # tau_max never: the opposite result (inf) when tau = 0 does, else undecided
        ratio = math.inf if np.isfinite(lo) else math.nan
    return {"spearman_tau_t2": spearman(tau, t2), "t2_at_max_tau_over_t2_at_tau0": float(ratio),
            "n": len(runs), "n_generalized": int(np.isfinite(t2).sum()),
            "n_moving": moving(res, runs)}


def selection_fewer_samples(ev):
    res = M.evidence(ev, "fig23")
    runs = M.done(res.runs)
    nmin = {}
    for tau, g in runs.groupby("tau"):
        ok = g[g.final_test_error <= RECOVERED]
        nmin[float(tau)] = float(ok.observed.min()) if len(ok) else math.inf
    taus = sorted(nmin)
    first, last = nmin[taus[0]], nmin[taus[-1]]
    drop = first - last if np.isfinite(last) else -math.inf
    if math.isinf(first) and math.isinf(last):
        drop = 0.0
    # runs that have not recovered but whose error is still falling could still lower an N_min
    unrec = runs[runs.final_test_error > RECOVERED]
    slopes = tail_slopes(res.curves).reindex(unrec.run_id.astype(str)).to_numpy(float)
    return {"n_min_tau0": first, "n_min_max_tau": last,
            "spearman_tau_n_min": spearman(taus, [nmin[t] for t in taus]),
            "n_min_drop": float(drop), "n_tau": len(taus),
            "n_recovered": int((runs.final_test_error <= RECOVERED).sum()),
            "n_moving": int((~np.isfinite(slopes) | (slopes < -FALLING_SLOPE)).sum())}


# ---- depth ------------------------------------------------------------------------------------
def depth(ev):
    res = M.evidence(ev, "deep-completion")
    runs = M.done(res.runs)
    d1, d2 = M.one(runs, depth=1), M.one(runs, depth=2)
    return {"depth1_final_test_error": float(d1.final_test_error),
            "depth2_final_test_error": float(d2.final_test_error),
            "depth1_error_over_ls": float(d1.final_test_error / d1.ls_test_error),
            "depth2_final_rank": float(d2.final_numerical_rank),
            "depth2_t2": M.t_of(d2, "t2"),
            "n_moving": moving(res, pd.DataFrame([d2]))}
