"""The paper's sparse-recovery claims that ``groklab check`` gives a verdict (figures 3, 4, 7, 9,
18, 19a, 22, 24, 27 and one grid of our own for the initialization scale of deep models);
exported as ``CLAIMS`` by the figures package (docs/claims.md)."""
from __future__ import annotations

import numpy as np

from ...claims import measures as M
from ...claims import rules as R
from ...claims.record import Claim, Inconclusive, figure_recipe, grid_recipe
from ...detect import Detection

#: costs: quick wall seconds from an empty directory, measured on the shared 2-core machine
FIG3 = figure_recipe("fig3", 8)
FIG4 = figure_recipe("fig4", 25)
FIG7 = figure_recipe("fig7", 5)
FIG9 = figure_recipe("fig9", 93)
FIG18 = figure_recipe("fig18", 289)
FIG19A = figure_recipe("fig19a", 31)
FIG22 = figure_recipe("fig22", 14)
FIG24 = figure_recipe("fig24", 54)
FIG27 = figure_recipe("fig27", 87)
#: depth 3 from two init scales (the fig9 data at N = 40, no penalty): the paper's 1e-2 and 0.1
DEEP_INIT = grid_recipe(
    "deep-init", "sparse-recovery",
    quick=[dict(dim=100, sparsity=5, seed=1, snr=float("inf"), method="subgradient", lr=0.1,
                log_spacing="log", log_every=20, l1=0.0, l2=0.0, depth=3, init="random",
                init_scale=[1e-2, 0.1], measurements=40, steps=200_000)],
    full=[dict(dim=100, sparsity=5, seed=1, snr=float("inf"), method="subgradient", lr=0.1,
               log_spacing="log", log_every=20, l1=0.0, l2=0.0, depth=3, init="random",
               init_scale=[1e-2, 0.1], measurements=40, steps=1_000_000)],
    detection=Detection(train_threshold=1e-2, test_threshold=1e-2), cost_s=13)




def _fig3_groks(ev):
    runs = M.evidence(ev, "fig3").runs
    return M.grokked_run(runs[runs.l1 > 0].iloc[0])


def _fig3_contrast(ev):
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


def _fig3_norms(ev):
    res = M.evidence(ev, "fig3")
    r = res.runs[res.runs.l1 > 0].iloc[0]
    c = M.curve(res, r.run_id)
    t1, t2 = M.t_of(r, "t1"), M.t_of(r, "t2")
    return {"l1_change_t1_t2": M.rel_change(c, "l1_norm", t1, t2),
            "l2_change_t1_t2": M.rel_change(c, "l2_norm", t1, t2),
            "final_l1_over_a_star_l1": float(r.final_l1_norm / r.a_star_l1_norm)}


def _fig4_delay(ev):
    res = M.evidence(ev, "fig4")
    runs = M.done(res.runs)
    pos = runs[(runs.l1 > 0) & np.isfinite(M.col(runs, "t1"))]  # a delay needs a t1
    return M.delay_law(pos, res.curves)  # censored fit: slow runs count, failed ones do not


def _fig4_predictor(ev):
    runs = M.done(M.evidence(ev, "fig4").runs)
    pos = runs[runs.l1 > 0]
    ratio, n = M.geo_median_ratio(M.col(pos, "delta_t"), M.col(pos, "pred_delta_t"))
    return {"median_dt_over_predicted": ratio, "n": n}


def _fig4_t1(ev):
    runs = M.done(M.evidence(ev, "fig4").runs)
    pos = runs[runs.l1 > 0]
    ratio, n = M.geo_median_ratio(M.col(pos, "t1"), M.col(pos, "pred_t1"))
    slopes_lr = [M.slope(g.lr, M.col(g, "t1")) for _, g in pos.groupby("l1")]
    slopes_b = [M.slope(g.l1, M.col(g, "t1")) for _, g in pos.groupby("lr")]
    return {"median_t1_over_eq78": ratio, "n": n,
            "median_slope_t1_vs_lr": float(np.nanmedian(slopes_lr)) if slopes_lr else np.nan,
            "median_slope_t1_vs_beta": float(np.nanmedian(slopes_b)) if slopes_b else np.nan}


def _fig4_final(ev):
    runs = M.done(M.evidence(ev, "fig4").runs)
    det = runs[(runs.l1 > 0) & np.isfinite(M.col(runs, "t2"))]
    err = M.col(det, "final_test_error")
    k_ab = M.slope(det.lr * det.l1, err)
    k_b = M.slope(det.l1, err)
    return {"slope_error_vs_beta": k_b, "slope_error_vs_alpha_beta": k_ab, "n": len(det)}


def _fig4_too_large(ev):
    runs = M.done(M.evidence(ev, "fig4").runs)
    big, small = runs[runs.l1 >= 1e-2], runs[(runs.l1 > 0) & (runs.l1 <= 1e-4)]
    return {"frac_memorized_beta_ge_1e-2": M.frac(np.isfinite(M.col(big, "t1"))),
            "frac_memorized_beta_le_1e-4": M.frac(np.isfinite(M.col(small, "t1"))),
            "n_large": len(big)}


def _fig7(ev):
    res = M.evidence(ev, "fig7")
    r = res.runs.iloc[0]
    c = M.curve(res, r.run_id)
    first = float(c.sort_values("step").test_error.iloc[0])
    return {"initial_over_final_test_error": first / float(r.final_test_error),
            "final_error_over_ls": float(r.final_test_error / r.ls_test_error),
            "generalized": float(np.isfinite(M.t_of(r, "t2")))}


def _depth_errors(ev, name="fig9"):
    runs = M.done(M.evidence(ev, name).runs)
    out = {}
    for N in (30, 40, 50):
        for L in (1, 2, 3):
            r = M.one(runs, depth=L, measurements=N)
            out[f"L{L}_N{N}_error"] = float(r.final_test_error)
        out[f"L1_N{N}_over_ls"] = float(M.one(runs, depth=1, measurements=N).final_test_error
                                        / M.one(runs, depth=1, measurements=N).ls_test_error)
    out["max_L2_error_N30_50"] = max(out[f"L2_N{N}_error"] for N in (30, 40, 50))
    out["min_L1_over_ls_N30_50"] = min(out[f"L1_N{N}_over_ls"] for N in (30, 40, 50))
    # depth compensates for fewer samples: the error falls with L at fixed N
    out["frac_N_error_falls_L2_to_L3"] = M.frac([out[f"L3_N{N}_error"] <= out[f"L2_N{N}_error"]
                                                 for N in (30, 40, 50)])
    return out


def _depth_delay(ev):
    runs = M.done(M.evidence(ev, "fig18").runs)
    out = {}
    for L in (2, 3):
        g = runs[runs.depth == L]
        t1, t2 = M.col(g, "t1"), M.col(g, "t2")
        ok = np.isfinite(t1) & np.isfinite(t2) & (t2 > 0)
        out[f"L{L}_n_generalized"] = int(ok.sum())
        out[f"L{L}_median_dt_over_t2"] = float(np.median((t2[ok] - t1[ok]) / t2[ok])) \
            if ok.any() else float("nan")
    out["n"] = min(out["L2_n_generalized"], out["L3_n_generalized"])
    return out


def _deep_init(ev):
    runs = M.evidence(ev, "deep-init").runs
    small, large = M.one(runs, init_scale=1e-2), M.one(runs, init_scale=0.1)
    return {"small_init_final_train_error": float(small.final_train_error),
            "large_init_final_train_error": float(large.final_train_error),
            "large_init_final_test_error": float(large.final_test_error)}


def _coherence(ev):
    runs = M.evidence(ev, "fig19a").runs
    n = float(runs.dim.iloc[0])
    g0 = runs[runs.tau == 0].groupby("measurements").coherence.mean()
    bound = np.sqrt(2 * np.log(g0.index.to_numpy(float) * n) / n)
    sel = runs[runs.tau * runs.measurements >= 1]
    return {"median_coherence_tau0_over_bound": float(np.median(g0.to_numpy() / bound)),
            "min_coherence_one_selected_row": float(sel.coherence.min())}


def _tau_sparse(ev):
    runs = M.done(M.evidence(ev, "fig22").runs)
    rhos, never = [], []
    for N, g in runs[runs.measurements < runs.dim].groupby("measurements"):
        rhos.append(M.spearman(g.tau, M.never_as_inf(M.col(g, "t2"))))
        top = g[g.tau == g.tau.max()]
        never.append(bool(np.isnan(M.col(top, "t2")).all()))
    return {"median_spearman_tau_t2": float(np.nanmedian(rhos)) if rhos else np.nan,
            "frac_N_never_at_max_tau": M.frac(never), "n_N": len(rhos)}


def _fig24(ev):
    runs = M.done(M.evidence(ev, "fig24").runs)
    g = runs[runs.measurements < runs.dim]
    t1 = M.col(g, "t1")
    fit = M.delay_fit(M.col(g, "pred_delta_t"), M.col(g, "delta_t"), g.steps.to_numpy(float), t1)
    ratio, _ = M.geo_median_ratio(M.col(g, "delta_t"), M.col(g, "pred_delta_t"))
    return dict(fit, median_dt_over_predicted=ratio)


def _fig27(ev):
    runs = M.evidence(ev, "fig27").runs
    gd = M.done(runs[runs.method == "subgradient"])
    bp = runs[runs.method == "basis-pursuit"]
    if bp.empty:
        raise Inconclusive("no basis-pursuit runs beside the subgradient grid")
    agree = []
    for _, r in gd.iterrows():
        b = bp[(bp.sparsity == r.sparsity) & (bp.measurements == r.measurements)]
        if len(b):
            agree.append(np.isfinite(M.t_of(r, "t2")) == bool(b.final_test_error.iloc[0] <= 1e-6))
    return {"agreement_gd_vs_basis_pursuit": M.frac(agree), "n": len(agree),
            "frac_gd_generalized": M.frac(np.isfinite(M.col(gd, "t2")))}


CLAIMS = [
    Claim("sparse.l1-groks", "With a small ℓ1 penalty, (sub)gradient descent on sparse recovery "
          "first memorizes the measurements and only much later generalizes (recovers a*): "
          "grokking.", ("3",), (FIG3,), _fig3_groks, R.groks()),
    Claim("sparse.l2-fails", "With ℓ2 only, or no penalty, the model memorizes but never "
          "generalizes: its recovery error stays at the least-squares (memorizing) error.",
          ("3",), (FIG3,), _fig3_contrast,
          R.all_of(R.at_least("l2_only_memorized", 1), R.at_most("l2_only_generalized", 0),
                   R.at_least("no_penalty_memorized", 1), R.at_most("no_penalty_generalized", 0),
                   R.between("l2_only_error_over_ls", 0.95, 1.05),
                   R.between("no_penalty_error_over_ls", 0.95, 1.05))),
    Claim("sparse.l2-norm-no-progress", "The ℓ2 norm is no progress measure: while the model "
          "generalizes under ℓ1, ‖a‖₁ falls to ‖a*‖₁ while ‖a‖₂ grows.", ("3",), (FIG3,),
          _fig3_norms, R.all_of(R.at_most("l1_change_t1_t2", -0.05),
                                R.at_least("l2_change_t1_t2", 0.0),
                                R.between("final_l1_over_a_star_l1", 0.95, 1.05))),
    Claim("sparse.delay-inverse-ab", "The grokking delay scales as Δt ∝ 1/(αβ): the fitted "
          "exponent of Δt against αβ is −1.", ("4", "26"), (FIG4,), _fig4_delay,
          R.all_of(R.needs("n", 5), R.contains("exponent_low", "exponent_high", -1.0, tol=0.05)),
          note=M.DELAY_LAW_NOTE),
    Claim("sparse.delay-predictor", "The delay is predicted by ‖â − a*‖∞/(αβ) (â the "
          "least-squares fit reached at t1).", ("4",), (FIG4,), _fig4_predictor,
          R.all_of(R.needs("n", 5), R.within_factor("median_dt_over_predicted", 1.0, 3.0))),
    Claim("sparse.t1-eq78", "The memorization time t1 follows eq. (78): t1 ∝ 1/α and only "
          "logarithmic in 1/β.", ("4",), (FIG4,), _fig4_t1,
          R.all_of(R.needs("n", 5), R.within_factor("median_t1_over_eq78", 1.0, 2.0),
                   R.between("median_slope_t1_vs_lr", -1.3, -0.7),
                   R.between("median_slope_t1_vs_beta", -0.3, 0.3))),
    Claim("sparse.final-error-beta", "The final error is small when β is small: the error left "
          "by the ℓ1 bias is ∝ β.", ("4",), (FIG4,), _fig4_final,
          R.all_of(R.needs("n", 5), R.between("slope_error_vs_beta", 0.8, 1.2))),
    Claim("sparse.beta-too-large", "A β too large (β√n ≫ ‖∇g‖) prevents memorization and "
          "generalization, while small β memorizes (Lemma C.33).", ("4",), (FIG4,),
          _fig4_too_large, R.all_of(R.needs("n_large", 1),
                                    R.at_most("frac_memorized_beta_ge_1e-2", 0.1),
                                    R.at_least("frac_memorized_beta_le_1e-4", 0.9))),
    Claim("sparse.l2-without-understanding", "ℓ2 from a large initialization: the test error "
          "drops sharply (it looks like grokking on a linear axis) but plateaus at the "
          "least-squares error — grokking without understanding.", ("7", "16"), (FIG7,), _fig7,
          R.all_of(R.at_least("initial_over_final_test_error", 3.0),
                   R.between("final_error_over_ls", 0.95, 1.05), R.at_most("generalized", 0))),
    Claim("sparse.depth-replaces-penalty", "Depth alone recovers a sparse a* without any "
          "penalty (β = 0) where depth 1 only memorizes.", ("9", "17"), (FIG9,), _depth_errors,
          R.all_of(R.at_most("max_L2_error_N30_50", 5e-2),
                   R.at_least("min_L1_over_ls_N30_50", 0.9))),
    Claim("sparse.depth-fewer-samples", "At fixed N the recovery error decreases with the depth "
          "L: depth compensates for fewer measurements.", ("9",), (FIG9,), _depth_errors,
          R.at_least("frac_N_error_falls_L2_to_L3", 2 / 3),
          note="quick scale: 2e5 steps, L = 3 is still improving at the horizon"),
    Claim("sparse.depth-no-delay", "With depth the generalization delay is small for L = 2 and "
          "disappears for L > 2 (t2 ≈ t1).", ("18",), (FIG18,), _depth_delay,
          R.all_of(R.needs("n", 3), R.at_most("L2_median_dt_over_t2", 0.5),
                   R.at_most("L3_median_dt_over_t2", 0.5))),
    Claim("sparse.deep-init", "An initialization too close to 0 freezes training: depth ≥ 3 "
          "needs a larger initialization scale than depth 2.", ("9",), (DEEP_INIT,), _deep_init,
          R.all_of(R.at_least("small_init_final_train_error", 0.5),
                   R.at_most("large_init_final_train_error", 1e-2))),
    Claim("sparse.coherence", "Gaussian measurements are incoherent with the basis (μ ≈ "
          "√(2 ln(Nn)/n) at τ = 0); selecting rows from Φ makes them maximally coherent (μ = 1).",
          ("19",), (FIG19A,), _coherence,
          R.all_of(R.within_factor("median_coherence_tau0_over_bound", 1.0, 2.0),
                   R.at_least("min_coherence_one_selected_row", 1 - 1e-9))),
    Claim("sparse.coherence-hurts", "In sparse recovery higher coherence (τ → 1) is bad: t2 and "
          "Δt grow with τ, and for N < n the model no longer generalizes as τ → 1.",
          ("21", "22"), (FIG22,), _tau_sparse,
          R.all_of(R.needs("n_N", 2), R.at_least("median_spearman_tau_t2", 0.5),
                   R.at_least("frac_N_never_at_max_tau", 0.5))),
    Claim("sparse.delay-predictor-vs-N", "Across the number of measurements N the delay follows "
          "‖â − a*‖∞/(αβ) (fitted exponent of measured on predicted Δt: 1).", ("24",), (FIG24,),
          _fig24, R.all_of(R.needs("n", 4),
                           R.contains("exponent_low", "exponent_high", 1.0, tol=0.05))),
    Claim("sparse.gd-matches-basis-pursuit", "Where enough measurements make ℓ1 minimization "
          "(basis pursuit) recover a*, gradient descent with a small ℓ1 penalty groks, and not "
          "elsewhere.", ("12", "13", "27"), (FIG27,), _fig27,
          R.all_of(R.needs("n", 10), R.at_least("agreement_gd_vs_basis_pursuit", 0.9))),
]
