"""Matrix completion and sensing figures of the paper (10 x 10, rank 2, seed 0, identity init
1e-6): fig5 (completion, subgradient, with no-penalty and l2-only contrasts: errors and gradient
ratio, |A|_* and |A|_F, every singular value), fig14 / fig15 (matrix *sensing* by projected
subgradient / SVT), fig6 and fig29 (the lr x nuclear grid: t2 and the final error against
alpha beta with the predictor |A_LS - A*|_2/(alpha beta); the curves), fig8 and fig23 (data
selection over tau, and over (N, tau)).

Settings are the paper's (docs/families/matrix.md#figures): N = 70 (the authors' notebook: 80),
alpha = 0.1, beta* = 1e-4 for 5, 6/29, 14/15 (14/15 are sensing in the paper; the notebook reruns
completion); alpha = 0.1, beta* = 1e-5 for 8/23 (the notebook: alpha = 1).  Quick scale keeps
them with a shorter horizon, except 8 and 23 (a click near 1e7 steps): there it stands in the
notebook's alpha = 1 and a larger beta*, and says so on the figure.  Logs: every step below 1000,
then 100 log-spaced points per decade.  Each ``_draw_*`` runs its sweep (resumable) and writes
OUT/<name>.png.  Scales are in ``SCALES``.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import LogNorm

from ... import plotting as P
from ...figures import Figure, scale_note
from .claims import CLAIMS  # noqa: F401 -- the claims `groklab check` judges (docs/claims.md)
# BASE and SCALES are the figures' settings, re-exported (tests shrink them in place)
from .figure_settings import (BASE, LRS, MC, MS, N_PAPER, NUCS, PREMISE_SEED, SCALES,  # noqa: F401
                              run_grids, t_float, times)
from .figures_selection import _draw_fig8, _draw_fig23

def _sigma_cols(c):
    return sorted((k for k in c.columns if k.startswith("sigma_")), key=lambda k: int(k[6:]))


# ---- figures 5, 14, 15 -------------------------------------------------------------------------
def _fig5_grids(full: bool, method: str) -> tuple[str, list[dict]]:
    """(problem, grids): completion by subgradient (fig5, with its contrasts), or sensing by the
    projected method or SVT (figs 14 / 15)."""
    if method == "subgradient":
        sc = SCALES["fig5"]["full" if full else "quick"]
        run = dict(BASE, observed=N_PAPER, seed=PREMISE_SEED, method=method, **sc)
        # contrast: no penalty, and l2 only, never generalize
        return MC, [run, dict(run, nuclear=0.0), dict(run, nuclear=0.0, l2=sc["nuclear"])]
    sc = SCALES["fig14"]["full" if full else "quick"]
    return MS, [dict(BASE, measurements=N_PAPER, method=method, **sc)]


def _draw_curves(out, full, quiet, batch_size, method: str, name: str, title: str):
    problem, grids = _fig5_grids(full, method)
    res = run_grids(grids, out, problem, quiet=quiet, batch_size=batch_size)
    runs = res.runs
    main = runs[runs.nuclear > 0].iloc[0]
    ab = main.lr * main.nuclear
    c = P.positive_steps(res.curve(main.run_id))
    fig, axes = P.new_figure(3, 1, 9.0, 3.3)
    a, b, d = axes[:, 0]

    P.error_panel(a, c, name="")
    for nm, sel, ls in (("no penalty", (runs.nuclear == 0) & (runs.l2 == 0), ":"),
                        ("l2 only", (runs.nuclear == 0) & (runs.l2 > 0), "-.")):
        if sel.any():
            k = P.positive_steps(res.curve(runs[sel].run_id.iloc[0]))
            a.plot(k.step, k.test_error, color="0.55", ls=ls, lw=1.4, label=f"test, {nm}")
    ls = "|P_Ωᶜ(A*)|/|A*|" if problem == MC else "|A_LS − A*|/|A*|"
    a.axhline(main.ls_test_error, color="0.7", lw=0.8, ls="--",
              label=f"{ls} = {main.ls_test_error:.3f}")
    P.mark_times(a, main.t1, main.t2, main.steps, (main.t1_rule, main.t2_rule), arrow_y=0.55)
    h2, l2 = [], []
    if method != "projected":  # after a projection the fit gradient is 0: no ratio to draw
        a2 = a.twinx()
        a2.plot(c.step, c.grad_ratio, color="C2", lw=1.0, label="‖βH‖ / ‖G‖")
        a2.set_yscale("log")
        a2.set_ylabel("gradient ratio ‖βH‖ / ‖∇g‖", color="C2")
        h2, l2 = a2.get_legend_handles_labels()
    else:
        a.text(0.99, 0.97, "no gradient ratio: the fit gradient is 0 after every projection",
               transform=a.transAxes, ha="right", va="top", fontsize=7, color="C2")
    h1, l1 = a.get_legend_handles_labels()
    a.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left", ncol=2)
    a.set_title("(a) relative train (dashed) / test (solid) error; gradient ratio", fontsize=9)

    b.plot(c.step, c.train_error.clip(lower=P.FLOOR), color="C0", label="train", **P.TRAIN_STYLE)
    b.plot(c.step, c.test_error.clip(lower=P.FLOOR), color="C3", label="test (all entries)",
           **P.TEST_STYLE)
    b.plot(c.step, c.unobserved_error.clip(lower=P.FLOOR), color="C1", lw=1.0,
           label="error on unobserved entries" if problem == MC else
           "error in the null space of X")
    b.set(xscale="log", yscale="log", xlabel="step t", ylabel="relative error")
    b.grid(True, alpha=0.3)
    P.mark_times(b, main.t1, main.t2)
    b2 = b.twinx()
    b2.plot(c.step, c.nuclear_norm, color="k", lw=1.3, label="‖A_t‖_*")
    b2.axhline(main.a_star_nuclear_norm, color="k", ls="--", lw=1, label="‖A*‖_*")
    b2.plot(c.step, c.fro_norm, color="0.5", lw=1.0, label="‖A_t‖_F")
    b2.axhline(math.sqrt(main.rows * main.cols), color="0.5", ls="--", lw=0.8, label="‖A*‖_F")
    b2.set_ylabel("norm of A_t")
    h1, l1 = b.get_legend_handles_labels()
    h2, l2 = b2.get_legend_handles_labels()
    b.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left", ncol=2)
    b.set_title("(b) ‖A_t‖_* falls to ‖A*‖_* as the model generalizes", fontsize=9)

    sig = _sigma_cols(c)
    cols = P.palette(len(sig))
    for k, s in enumerate(sig):
        d.plot(c.step, c[s], color=cols[k], lw=1.1, label=f"σ_{k + 1}" if k in (0, len(sig) - 1)
               else None)
    d.axhline(ab, color="C3", ls="--", lw=0.9, label=f"αβ = {ab:g}")
    d.set_xscale("log")
    d.set_yscale("symlog", linthresh=ab / 10)
    d.set_ylim(bottom=0)
    d.set(xlabel="step t", ylabel="singular values of A_t")
    d.grid(True, alpha=0.3)
    P.mark_times(d, main.t1, main.t2, arrow_y=0.5)
    d.legend(fontsize=7, loc="center left")
    tail = np.asarray(main.final_sigma)[int(main["rank"]):]
    how = "exact zeros, read back" if method == "svt" else "≈ αβ"
    d.set_title(f"(c) singular values (viridis by index): the spurious ones die one after another; "
                f"final tail max {tail.max():.2g} ({how})", fontsize=9)
    q = SCALES["fig5" if method == "subgradient" else "fig14"]["quick"]
    note = scale_note(full, f"the paper's setting, {P.fmt(q['steps'])} steps",
                      "the paper's setting, 1e7 steps")
    fig.suptitle(f"{title}\n" + P.fixed_text(runs[runs.nuclear > 0]) + "\n" + note, fontsize=9)
    return P.save(fig, out / f"{name}.png")


def _draw_fig5(out, full=False, quiet=True, batch_size=None):
    return _draw_curves(out, full, quiet, batch_size, "subgradient", "fig5",
                        "Fig. 5 — matrix completion groks with a small nuclear-norm penalty "
                        "(subgradient descent)")


def _draw_fig14(out, full=False, quiet=True, batch_size=None):
    return _draw_curves(out, full, quiet, batch_size, "projected", "fig14",
                        "Fig. 14 — matrix sensing groks with projected subgradient descent (back "
                        "onto {X vec A = y} after every step)")


def _draw_fig15(out, full=False, quiet=True, batch_size=None):
    return _draw_curves(out, full, quiet, batch_size, "svt", "fig15",
                        "Fig. 15 — matrix sensing groks with proximal gradient (singular value "
                        "thresholding)")


# ---- figures 6 and 29 --------------------------------------------------------------------------
def _fig6_grid(full: bool) -> tuple[dict, str]:
    steps = SCALES["fig6"]["full" if full else "quick"]
    grid = dict(BASE, observed=N_PAPER, seed=PREMISE_SEED, method="subgradient", lr=LRS,
                nuclear=NUCS, steps=steps)
    note = scale_note(full, f"the paper's grid, {P.fmt(steps)} steps: αβ ≲ 1e-5 censored",
                      "the paper's 1e7 steps")
    return grid, note


def _value_at(res, run_id, step, col):
    c = res.curve(run_id)
    if step is None or np.isnan(step):
        return float("nan")
    row = c[c.step == int(step)]
    return float(row[col].iloc[0]) if len(row) else float("nan")


def _draw_fig6(out, full=False, quiet=True, batch_size=None):
    grid, note = _fig6_grid(full)
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
    runs = res.runs
    fig, axes = P.new_figure(1, 3, 5.0, 3.9)
    a, b, d = axes[0]
    cols = P.palette(len(LRS))
    censored = False
    for lr, col in zip(sorted(runs.lr.unique()), cols):
        g = runs[runs.lr == lr].sort_values("nuclear")
        x = (g.lr * g.nuclear).to_numpy(float)
        t1, t2, dt = times(g)
        hz = g.steps.to_numpy(float)
        censored |= P.measured(a, x, t2, hz, col, P.label("lr", lr))
        # the paper plots |A(t2) - A*|_* / sqrt(n1 n2) with its plateau-rule t2, i.e. the final
        # plateau; with a threshold t2 the error at t2 is the threshold, so the final value it is
        err = g.final_nuclear_error.to_numpy(float) / math.sqrt(g.rows.iloc[0] * g.cols.iloc[0])
        ok = np.isfinite(err) & np.isfinite(t2)
        P.measured(b, x[ok], err[ok], err[ok], col, P.label("lr", lr), marker="o")
        fe = g.final_test_error.to_numpy(float)
        b.plot(x, fe, "s", mfc="none", mec=col, ms=5)
        pred = g.pred_delta_t.to_numpy(float)
        bound = (hz - np.nan_to_num(t1)) / pred
        censored |= P.measured(d, x, dt / pred, bound, col, P.label("lr", lr))
    ab = np.sort((runs.lr * runs.nuclear).to_numpy(float))
    gap = float(runs.ls_gap_spectral.iloc[0])
    a.plot(ab, gap / ab, "k--", lw=1.2, label="‖A_LS − A*‖₂ / (αβ)")
    b.plot(ab, ab, "k:", lw=1.2, label="αβ")
    b.plot([], [], "s", mfc="none", mec="k", label="final ‖A − A*‖_F/‖A*‖_F")
    b.plot([], [], "o", color="k", label="final ‖A − A*‖_* / √(n1 n2) (generalized runs)")
    d.axhline(1.0, color="k", ls="--", lw=1)
    for ax, yl in ((a, "t2 (generalization step)"), (b, "error"),
                   (d, "Δt / (‖A_LS − A*‖₂ / (αβ))")):
        ax.set(xscale="log", yscale="log", xlabel="αβ = lr · nuclear", ylabel=yl)
        ax.grid(True, alpha=0.3)
    P.legend(a, censored, "not generalized by the horizon (hollow)")
    b.legend(fontsize=7)
    a.set_title("(a) t2 ∝ 1/(αβ), with the paper's predictor", fontsize=9)
    b.set_title("(b) the final error ∝ αβ", fontsize=9)
    d.set_title("(c) measured / predicted delay (hollow: lower bound)", fontsize=9)
    fig.suptitle("Fig. 6 — grokking delay and final error against αβ (lr × nuclear grid)\n"
                 + P.fixed_text(runs) + "\n" + note, fontsize=9)
    return P.save(fig, out / "fig6.png")


def _draw_fig29(out, full=False, quiet=True, batch_size=None):
    grid, note = _fig6_grid(full)
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
    runs = res.runs
    lrs, nucs = sorted(runs.lr.unique()), sorted(runs.nuclear.unique())
    from matplotlib import colormaps
    cmap = colormaps["viridis"]
    norm = LogNorm(vmin=min(nucs), vmax=max(nucs))
    fig, axes = P.new_figure(2, 3, 4.8, 3.4)
    for ax, lr in zip(axes.flat, lrs):
        for b in nucs:
            r = runs[(runs.lr == lr) & (runs.nuclear == b)].iloc[0]
            c = P.positive_steps(res.curve(r.run_id))
            col = cmap(0.9 * norm(b))
            ax.plot(c.step, c.train_error.clip(lower=P.FLOOR), color=col, **P.TRAIN_STYLE)
            ax.plot(c.step, c.test_error.clip(lower=P.FLOOR), color=col, **P.TEST_STYLE)
            if not np.isnan(t_float(r.t2)):
                ax.plot([r.t2], [max(_value_at(res, r.run_id, r.t2, "test_error"), P.FLOOR)], "o",
                        color=col, mec="k", ms=5)
        ax.set(xscale="log", yscale="log", xlabel="step t", ylabel="relative error")
        ax.grid(True, alpha=0.3)
        ax.set_title(P.label("lr", lr), fontsize=9)
    from matplotlib.cm import ScalarMappable
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="nuclear β", shrink=0.8)
    axes.flat[0].plot([], [], "k", **P.TRAIN_STYLE, label="train")
    axes.flat[0].plot([], [], "k", **P.TEST_STYLE, label="test")
    axes.flat[0].plot([], [], "o", color="w", mec="k", label="t2")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Fig. 29 — error curves of the fig. 6 grid (one panel per lr, colour = "
                 "nuclear)\n" + P.fixed_text(runs) + "\n" + note, fontsize=9)
    return P.save(fig, out / "fig29.png")


FIGURES = {
    "fig5": Figure("fig5", "matrix completion groks with a nuclear penalty (errors, gradient "
                   "ratio, |A|_*, singular values); no-penalty and l2-only contrast", _draw_fig5),
    "fig6": Figure("fig6", "lr x nuclear grid: t2 and the final error vs alpha*beta with the "
                   "predictor |A_LS - A*|_2/(alpha beta)", _draw_fig6),
    "fig8": Figure("fig8", "data selection at N=70: curves, t1/t2 and final errors vs tau",
                   _draw_fig8),
    "fig14": Figure("fig14", "matrix sensing (N=70) by projected subgradient descent",
                    _draw_fig14),
    "fig15": Figure("fig15", "matrix sensing (N=70) by proximal gradient (singular value "
                    "thresholding)", _draw_fig15),
    "fig23": Figure("fig23", "data selection over (N, tau): final error and t2", _draw_fig23),
    "fig29": Figure("fig29", "error curves of the fig6 lr x nuclear grid", _draw_fig29),
}
