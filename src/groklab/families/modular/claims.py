"""The paper's modular-arithmetic MLP claims that ``groklab check`` gives a verdict (figures 1, 2,
30); exported as ``CLAIMS`` by the figures module."""
from __future__ import annotations

import numpy as np

from ...claims import measures as M
from ...claims import rules as R
from ...claims.record import Claim, Inconclusive, figure_recipe
from ...progress import progress_measures

FIG1 = figure_recipe("fig1", 171)
FIG2 = figure_recipe("fig2", 145)
FIG30 = figure_recipe("fig30", 153)
#: the quick transformer figure: about 500 s of one core (docs/families/modular-transformer.md)
TRANSFORMER = figure_recipe("transformer", 500)
PENALTIES = ("l1", "l2", "nuclear")


def _only(runs, name):
    """Runs penalized by ``name`` alone (the others 0)."""
    sel = runs[name] > 0
    for other in PENALTIES:
        if other != name and other in runs.columns:
            sel &= runs[other] == 0
    return runs[sel]


def _modular_groks(name, fig="fig1"):
    """Over the runs of ``fig`` penalized by ``name`` alone: how many memorized and then
    generalized, the largest t2 / t1, and whether the unpenalized runs generalized (runs with a
    weight decay count as penalized: the transformer figure has AdamW weight-decay runs)."""
    def measure(ev):
        runs = M.done(M.evidence(ev, fig).runs)
        if "weight_decay" in runs.columns:
            runs = runs[runs.weight_decay == 0]
        g = _only(runs, name)
        if g.empty:
            raise Inconclusive(f"no run with {name} alone")
        t1, t2 = M.col(g, "t1"), M.col(g, "t2")
        ok = np.isfinite(t1) & np.isfinite(t2)
        none = runs[(runs[list(PENALTIES)] == 0).all(axis=1)]
        return {"n_runs": len(g), "n_grokked": int(ok.sum()),
                "max_t2_over_t1": float(np.max(t2[ok] / t1[ok])) if ok.any() else np.nan,
                "no_penalty_generalized": M.frac(np.isfinite(M.col(none, "t2")))
                if len(none) else np.nan}
    return measure


def _modular_no_penalty(ev):
    runs = M.done(M.evidence(ev, "fig1").runs)
    none = runs[(runs[list(PENALTIES)] == 0).all(axis=1)]
    if none.empty:
        raise Inconclusive("no run without a penalty")
    r = none.iloc[0]
    return {"memorized": float(np.isfinite(M.t_of(r, "t1"))),
            "generalized": float(np.isfinite(M.t_of(r, "t2"))),
            "final_test_error": float(r.final_test_error)}


def _norms_under_l1(ev):
    """Over the test-error climb of each l1 run that grokked: the relative change of the l1 and
    l2 norms (climb = from the last step where the test error is still >= 90 % of its value at
    t1, to t2); medians over the runs."""
    res = M.evidence(ev, "fig1")
    g = _only(M.done(res.runs), "l1")
    d1, d2 = [], []
    for _, r in g.iterrows():
        t1, t2 = M.t_of(r, "t1"), M.t_of(r, "t2")
        if not (np.isfinite(t1) and np.isfinite(t2)):
            continue
        c = M.curve(res, r.run_id)
        e1 = M.value_at(c, "test_error", t1)
        before = c[(c.step <= t2) & (c.test_error >= 0.9 * e1)]
        start = float(before.step.iloc[-1]) if len(before) else t1
        d1.append(M.rel_change(c, "l1_norm", start, t2))
        d2.append(M.rel_change(c, "l2_norm", start, t2))
    if not d1:
        raise Inconclusive("no l1 run grokked")
    out = {"median_l1_change_over_climb": float(np.median(d1)),
           "median_abs_l2_change_over_climb": float(np.median(np.abs(d2))), "n": len(d1)}
    # the progress-measure view over [t1, t2] (groklab.progress): how early each norm makes half
    # of its move before t2, and how it ranks with the test error -- reported, not ruled on
    pm = progress_measures(g, res.curves, measures=["l1_norm", "l2_norm"])
    for name in ("l1_norm", "l2_norm"):
        rows = pm[pm.measure == name]
        if len(rows):
            out[f"median_{name}_lead_fraction"] = float(rows.lead_fraction.median())
            out[f"median_{name}_spearman_with_test_error"] = float(rows.spearman.median())
    return out


def _ab_delay(name, penalties):
    def measure(ev):
        runs = M.done(M.evidence(ev, name).runs)
        out, rhos = {}, []
        for p in penalties:
            g = _only(runs, p)
            if g.empty:
                raise Inconclusive(f"{name}: no run with {p} alone")
            ab = (g.lr * g[p]).to_numpy(float)
            rho = M.spearman(ab, M.never_as_inf(M.col(g, "t2")))
            fit = M.delay_fit(ab, M.col(g, "t2"), g.steps.to_numpy(float))
            out[f"{p}_spearman_ab_t2"] = rho
            out[f"{p}_exponent"] = fit["exponent"]
            out[f"{p}_n_grokked"] = fit["n"]
            rhos.append(rho)
        out["max_spearman_ab_t2"] = float(np.max(rhos))
        return out
    return measure


def _groks_rule(name):
    return R.all_of(R.needs("n_grokked", 1), R.at_least("max_t2_over_t1", 3.0),
                    R.at_most("no_penalty_generalized", 0))


CLAIMS = [
    Claim("modular.l1-groks", "The modular-addition MLP groks with an ℓ1 penalty: it memorizes, "
          "then generalizes much later, where the same MLP without a penalty does not.", ("1",),
          (FIG1,), _modular_groks("l1"), _groks_rule("l1")),
    Claim("modular.l2-groks", "The modular-addition MLP groks with an ℓ2 penalty.", ("1",),
          (FIG1,), _modular_groks("l2"), _groks_rule("l2")),
    Claim("modular.nuclear-groks", "The modular-addition MLP groks with a nuclear-norm penalty.",
          ("1",), (FIG1,), _modular_groks("nuclear"), _groks_rule("nuclear")),
    Claim("modular.transformer-l1-groks", "The one-layer transformer on modular addition groks "
          "with an ℓ1 penalty as the MLP does: it memorizes, then reaches test accuracy 0.99 "
          "at least 3× later, where the same transformer without a penalty does not.", (),
          (TRANSFORMER,), _modular_groks("l1", "transformer"), _groks_rule("l1"),
          note="groklab's own setting (the paper has no transformer): p = 23, 60 % train, "
          "d = 32, one seed at the quick scale"),
    Claim("modular.transformer-nuclear-groks", "The one-layer transformer on modular addition "
          "groks with a nuclear-norm penalty.", (), (TRANSFORMER,),
          _modular_groks("nuclear", "transformer"), _groks_rule("nuclear"),
          note="groklab's own setting (the paper has no transformer)"),
    Claim("modular.no-penalty", "Without a penalty the modular MLP memorizes and does not "
          "generalize within the horizon.", ("1",), (FIG1,), _modular_no_penalty,
          R.all_of(R.at_least("memorized", 1), R.at_most("generalized", 0))),
    Claim("modular.l2-norm-no-progress", "Under ℓ1 the ℓ2 norm is no progress measure: while the "
          "test accuracy climbs ‖W‖₁ falls sharply and ‖W‖₂ barely moves.", ("1",), (FIG1,),
          _norms_under_l1, R.all_of(R.needs("n", 1),
                                    R.at_most("median_l1_change_over_climb", -0.3),
                                    R.at_most("median_abs_l2_change_over_climb", 0.15)),
          note="the lead fractions and rank correlations of both norms with the test error over "
          "[t1, t2] (groklab.progress) are reported beside the rule's numbers"),
    Claim("modular.nuclear-ab-delay", "With a nuclear penalty a smaller αβ gives a longer delay "
          "(a larger α shortens it).", ("2",), (FIG2,), _ab_delay("fig2", ("nuclear",)),
          R.at_most("max_spearman_ab_t2", -0.5)),
    Claim("modular.l1-l2-ab-delay", "With ℓ1 and with ℓ2 as well, a smaller αβ gives a longer "
          "delay.", ("30",), (FIG30,), _ab_delay("fig30", ("l1", "l2")),
          R.at_most("max_spearman_ab_t2", -0.5)),
]
