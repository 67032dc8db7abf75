"""Matrix-completion figures of the paper (10 x 10, rank 2, seed 0, identity init 1e-6).

* fig5  -- subgradient descent with a small nuclear penalty groks: train/test errors with t1, t2
           and Delta t (no-penalty and l2-only runs as contrast) and the gradient ratio
           |beta H| / |G|; |A|_* against |A*|_* (and |A|_F, which is *not* a progress measure);
           every singular value against the step (the spurious ones die one after another).
* fig14 -- the same with projected subgradient (observed entries reset after every step).
* fig15 -- the same with proximal gradient (singular value thresholding).
* fig6  -- grid lr x nuclear: t2 against alpha*beta with the predictor |A_LS - A*|_2/(alpha beta),
           the final error against alpha*beta, and measured / predicted Delta t.
* fig29 -- the error curves of the fig6 grid, one panel per lr, one colour per nuclear.
* fig8  -- data selection at N = 70: error curves per tau, t1 and t2 against tau, final errors.
* fig23 -- data selection over (N, tau): final test error and t2 on the grid, t2 against tau.

The dynamics depend (after the first steps) only on lr*t and lr*nuclear, so the quick scale uses
lr = 1.0 and a larger nuclear penalty than the paper, which brings the click from ~1e6-1e7 steps
down to ~1e4-1e5; ``--full`` runs the paper's settings (1e7 steps).  Both scales log every step
below 1000 (as the authors) and then 100 log-spaced points per decade (the authors: every 1e4).
Each ``_draw_*`` runs its sweep (resumable) and writes OUT/<name>.png.  Scales are in ``SCALES``.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import LogNorm

from ... import figures
from ... import plotting as P
from ...figures import Figure, scale_note
from .claims import CLAIMS  # noqa: F401 -- the claims `groklab check` judges (docs/claims.md)

MC = "matrix-completion"
#: the data and optimizer every figure here shares (docs/families/matrix.md#figures)
BASE = dict(rows=10, cols=10, rank=2, seed=0, init="identity", init_scale=1e-6, l1=0.0, l2=0.0,
            log_dense_until=1000, log_spacing="log", log_every=100)
LRS = [0.0825, 0.1, 0.75, 0.825, 1.0, 1.5]
NUCS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
TAUS = [round(0.1 * k, 1) for k in range(11)]
SCALES = {
    # fig5/14/15 (N = 80): the paper's lr 0.1, nuclear 1e-4 (alpha beta = 1e-5) click near 1e6;
    # quick: lr 1, nuclear 1e-4 (alpha beta = 1e-4) clicks near 1e5
    "fig5": {"quick": dict(lr=1.0, nuclear=1e-4, steps=300_000),
             "full": dict(lr=0.1, nuclear=1e-4, steps=10_000_000)},
    # fig6/29 (N = 80): t2 ~ 10 / (alpha beta); quick runs the whole grid for 1e6 steps, so the
    # runs with alpha beta < ~1e-5 are censored (drawn hollow at the horizon)
    "fig6": {"quick": 1_000_000, "full": 10_000_000},
    # fig8 (N = 70) and fig23 (N x tau): the authors' lr 1 with nuclear 1e-5; quick: 1e-4 / 1e-3
    "fig8": {"quick": dict(nuclear=1e-4, steps=1_000_000), "full": dict(nuclear=1e-5,
                                                                         steps=10_000_000)},
    "fig23": {"quick": dict(nuclear=1e-3, steps=100_000, observed=[40, 50, 60, 70, 80],
                            tau=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
              "full": dict(nuclear=1e-5, steps=10_000_000,
                           observed=[30, 40, 50, 60, 70, 80, 90, 100], tau=TAUS)},
}


def run_grids(grids: list[dict], out, **kw):
    """One resumable sweep over the union of ``grids`` for matrix completion."""
    return figures.run_grids(grids, out, problem=MC, **kw)


def _t(v) -> float:
    """A detected time as a float, NaN for None / pd.NA ('never')."""
    import pandas as pd
    return float("nan") if v is None or pd.isna(v) else float(v)


def _times(runs):
    f = lambda c: runs[c].astype("Float64").to_numpy(dtype=float, na_value=np.nan)  # noqa: E731
    return f("t1"), f("t2"), f("delta_t")


def _sigma_cols(c):
    return sorted((k for k in c.columns if k.startswith("sigma_")), key=lambda k: int(k[6:]))


# ---- figures 5, 14, 15 -------------------------------------------------------------------------
def _fig5_grids(full: bool, method: str) -> list[dict]:
    sc = SCALES["fig5"]["full" if full else "quick"]
    run = dict(BASE, observed=80, method=method, **sc)
    grids = [run]
    if method == "subgradient":  # contrast: no penalty, and l2 only, never generalize
        grids += [dict(run, nuclear=0.0), dict(run, nuclear=0.0, l2=sc["nuclear"])]
    return grids


def _draw_curves(out, full, quiet, batch_size, method: str, name: str, title: str):
    grids = _fig5_grids(full, method)
    res = run_grids(grids, out, quiet=quiet, batch_size=batch_size)
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
    a.axhline(main.ls_test_error, color="0.7", lw=0.8, ls="--",
              label=f"|P_Ωᶜ(A*)|/|A*| = {main.ls_test_error:.3f}")
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
           label="error on unobserved entries")
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
    sc = SCALES["fig5"]
    q = sc["quick"]
    note = scale_note(full, f"lr={P.fmt(q['lr'])}, nuclear={P.fmt(q['nuclear'])}, "
                      f"{P.fmt(q['steps'])} steps (αβ 10x the paper's)",
                      "the paper's lr=0.1, nuclear=1e-4, 1e7 steps")
    fig.suptitle(f"{title}\n" + P.fixed_text(runs[runs.nuclear > 0]) + "\n" + note, fontsize=9)
    return P.save(fig, out / f"{name}.png")


def _draw_fig5(out, full=False, quiet=True, batch_size=None):
    return _draw_curves(out, full, quiet, batch_size, "subgradient", "fig5",
                        "Fig. 5 — matrix completion groks with a small nuclear-norm penalty "
                        "(subgradient descent)")


def _draw_fig14(out, full=False, quiet=True, batch_size=None):
    return _draw_curves(out, full, quiet, batch_size, "projected", "fig14",
                        "Fig. 14 — the same with projected subgradient descent (observed entries "
                        "reset every step)")


def _draw_fig15(out, full=False, quiet=True, batch_size=None):
    return _draw_curves(out, full, quiet, batch_size, "svt", "fig15",
                        "Fig. 15 — the same with proximal gradient (singular value thresholding)")


# ---- figures 6 and 29 --------------------------------------------------------------------------
def _fig6_grid(full: bool) -> tuple[dict, str]:
    steps = SCALES["fig6"]["full" if full else "quick"]
    grid = dict(BASE, observed=80, method="subgradient", lr=LRS, nuclear=NUCS, steps=steps)
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
        t1, t2, dt = _times(g)
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
            if not np.isnan(_t(r.t2)):
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


# ---- figures 8 and 23: data selection ---------------------------------------------------------
def _fig8_grid(full: bool) -> tuple[dict, str]:
    sc = SCALES["fig8"]["full" if full else "quick"]
    grid = dict(BASE, observed=70, method="subgradient", lr=1.0, tau=TAUS, **sc)
    note = scale_note(full, f"nuclear={P.fmt(sc['nuclear'])}, {P.fmt(sc['steps'])} steps",
                      "the authors' nuclear=1e-5, 1e7 steps")
    return grid, note


def _draw_fig8(out, full=False, quiet=True, batch_size=None):
    grid, note = _fig8_grid(full)
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
    runs = res.runs.sort_values("tau")
    fig, axes = P.new_figure(1, 3, 5.0, 3.9)
    a, b, d = axes[0]
    cols = P.palette(len(runs))
    for (_, r), col in zip(runs.iterrows(), cols):
        c = P.positive_steps(res.curve(r.run_id))
        a.plot(c.step, c.train_error.clip(lower=P.FLOOR), color=col, **P.TRAIN_STYLE)
        a.plot(c.step, c.test_error.clip(lower=P.FLOOR), color=col, label=f"τ={r.tau:g}",
               **P.TEST_STYLE)
    a.set(xscale="log", yscale="log", xlabel="step t", ylabel="relative error")
    a.grid(True, alpha=0.3)
    a.legend(fontsize=6, ncol=2, loc="lower left", title="train dashed, test solid",
             title_fontsize=6)
    t1, t2, _ = _times(runs)
    hz = runs.steps.to_numpy(float)
    tau = runs.tau.to_numpy(float)
    cen = P.measured(b, tau, t1, hz, "C0", "t1 (memorization)")
    cen |= P.measured(b, tau, t2, hz, "C3", "t2 (generalization)")
    b.set(yscale="log", xlabel="τ (fraction of entries chosen by leverage)", ylabel="step")
    b.grid(True, alpha=0.3)
    P.legend(b, cen, "never within the horizon (hollow)")
    d.plot(tau, runs.final_test_error, "s-", color="C3", label="final test error")
    d.plot(tau, runs.final_unobserved_error, "^-", color="C1", lw=1,
           label="final error, unobserved")
    d.plot(tau, runs.ls_test_error, ":", color="0.4", label="least squares |P_Ωᶜ(A*)|/|A*|")
    d.set(yscale="log", xlabel="τ", ylabel="relative error")
    d.grid(True, alpha=0.3)
    d2 = d.twinx()
    d2.plot(tau, runs.mean_leverage_observed, "--", color="C2", lw=1)
    d2.set_ylabel("mean leverage μ_i + ν_j of Ω", color="C2")
    d.legend(fontsize=7, loc="lower left")
    a.set_title("(a) error curves, one colour per τ", fontsize=9)
    b.set_title("(b) t1 and t2 against τ", fontsize=9)
    d.set_title("(c) final errors against τ", fontsize=9)
    fig.suptitle("Fig. 8 — choosing high-leverage entries (τ → 1) makes 70 entries enough and "
                 "generalization faster\n" + P.fixed_text(runs) + "\n" + note, fontsize=9)
    return P.save(fig, out / "fig8.png")


def _draw_fig23(out, full=False, quiet=True, batch_size=None):
    sc = SCALES["fig23"]["full" if full else "quick"]
    grid = dict(BASE, method="subgradient", lr=1.0, **sc)
    note = scale_note(full, f"nuclear={P.fmt(sc['nuclear'])}, {P.fmt(sc['steps'])} steps, "
                      f"{len(sc['observed'])} x {len(sc['tau'])} grid",
                      "the authors' nuclear=1e-5, 1e7 steps, N = 30..100 x τ = 0..1")
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
    runs = res.runs
    Ns, taus = sorted(runs.observed.unique()), sorted(runs.tau.unique())
    err = np.full((len(Ns), len(taus)), np.nan)
    t2m = np.full_like(err, np.nan)
    for _, r in runs.iterrows():
        i, j = Ns.index(r.observed), taus.index(r.tau)
        err[i, j] = r.final_test_error
        t2m[i, j] = _t(r.t2)
    fig, axes = P.new_figure(1, 3, 5.0, 3.9)
    a, b, d = axes[0]
    m = a.imshow(np.clip(err, 1e-6, None), origin="lower", aspect="auto", cmap="magma_r",
                 norm=LogNorm(vmin=max(np.nanmin(err), 1e-6), vmax=max(np.nanmax(err), 1e-5)))
    fig.colorbar(m, ax=a, label="final test error")
    ok = np.isfinite(t2m)
    m2 = b.imshow(np.where(ok, t2m, np.nan), origin="lower", aspect="auto", cmap="viridis",
                  norm=LogNorm(vmin=np.nanmin(t2m) if ok.any() else 1,
                               vmax=np.nanmax(t2m) if ok.any() else 10))
    fig.colorbar(m2, ax=b, label="t2")
    for i, j in zip(*np.nonzero(~ok)):
        b.text(j, i, "never", ha="center", va="center", fontsize=6, color="0.3")
    for ax in (a, b):
        ax.set_xticks(range(len(taus)), [f"{t:g}" for t in taus])
        ax.set_yticks(range(len(Ns)), [str(n) for n in Ns])
        ax.set(xlabel="τ", ylabel="observed entries N")
    cols = P.palette(len(Ns))
    cen = False
    for n, col in zip(Ns, cols):
        g = runs[runs.observed == n].sort_values("tau")
        _, t2, _ = _times(g)
        cen |= P.measured(d, g.tau.to_numpy(float), t2, g.steps.to_numpy(float), col, f"N={n}")
    d.set(yscale="log", xlabel="τ", ylabel="t2")
    d.grid(True, alpha=0.3)
    P.legend(d, cen, "never (hollow, at the horizon)")
    dof = int(runs.degrees_of_freedom.iloc[0])
    a.set_title(f"(a) final test error (r(n1+n2−r) = {dof} degrees of freedom)", fontsize=9)
    b.set_title("(b) generalization step t2", fontsize=9)
    d.set_title("(c) t2 against τ, one line per N", fontsize=9)
    fig.suptitle("Fig. 23 — data selection over (N, τ): leverage-chosen entries need fewer "
                 "samples and less time\n" + P.fixed_text(runs) + "\n" + note, fontsize=9)
    return P.save(fig, out / "fig23.png")


FIGURES = {
    "fig5": Figure("fig5", "matrix completion groks with a nuclear penalty (errors, gradient "
                   "ratio, |A|_*, singular values); no-penalty and l2-only contrast", _draw_fig5),
    "fig6": Figure("fig6", "lr x nuclear grid: t2 and the final error vs alpha*beta with the "
                   "predictor |A_LS - A*|_2/(alpha beta)", _draw_fig6),
    "fig8": Figure("fig8", "data selection at N=70: curves, t1/t2 and final errors vs tau",
                   _draw_fig8),
    "fig14": Figure("fig14", "fig5 with projected subgradient descent", _draw_fig14),
    "fig15": Figure("fig15", "fig5 with proximal gradient (singular value thresholding)",
                    _draw_fig15),
    "fig23": Figure("fig23", "data selection over (N, tau): final error and t2", _draw_fig23),
    "fig29": Figure("fig29", "error curves of the fig6 lr x nuclear grid", _draw_fig29),
}
