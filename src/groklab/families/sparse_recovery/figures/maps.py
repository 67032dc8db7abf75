"""Sparse-recovery maps: depth (figures 9, 17, 18) and data selection (figures 19a, 21, 22).

* fig9  -- recovery (test) error against N for depth L in {1, 2, 3}, no penalty (beta = 0).
* fig17 -- error curves over (N, L): one panel per L, one colour per N.
* fig18 -- t1, t2, Delta t and the final test error against N, one line per L.
* fig19a -- coherence mu(M, Phi) against tau for several N (the runs-table column; 1 step).
* fig21 -- error curves over (N, tau) with a small l1 penalty: one panel per N, one colour per tau.
* fig22 -- t1, t2, Delta t and the final test error against tau, one line per N.

Depth (docs/families/sparse-recovery.md#objective-and-methods): factors are independent, init
``random`` (init_scale * N(0, 1/n) each) at the paper's scale 1e-2 for every L > 1 (DEPTH_SCALE);
L = 1 starts at 1e-6 * 1 as in the paper.  With such factors the product starts near 1e-3^L, so
L = 3 leaves the saddle at 0 only after ~1.5e5 steps and L = 4 not within 1e6 (the paper notes
its L = 4 runs were too short): the quick figures show L >= 3 still at the init.  Registered
into ``FIGURES_SPARSE`` by :mod:`.sparse`.
"""
from __future__ import annotations

import numpy as np

from .... import plotting as P
from ....detect import Detection
from ....figures import Figure, scale_note
from .curves import run_grids

#: the paper's data (n = 100, s = 5, noiseless, seed 1), lr 0.1 (< 2/lambda_max for every N >= 10)
BASE = dict(dim=100, sparsity=5, seed=1, snr=float("inf"), method="subgradient", lr=0.1,
            log_spacing="log", log_every=20)
#: per-factor init scale of the random factors, by depth: the paper's (figure 9: 1e-6 for L = 1,
#: 1e-2 for L > 1; see the module docstring)
DEPTH_SCALE = {1: 1e-6, 2: 1e-2, 3: 1e-2, 4: 1e-2}
#: the deep runs' train error settles near 1e-3 - 1e-2 within the quick horizon (no penalty, slow
#: tail), so t1 / t2 of the depth figures use 1e-2 thresholds (stated in the figures)
DEPTH_DETECTION = Detection(train_threshold=1e-2, test_threshold=1e-2)
SCALES = {
    # depth: the paper runs 1e6 steps; quick 2e5 (L = 3, 4 have not left the init there)
    "depth": {"quick": (200_000, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100], [1, 2, 3, 4]),
              "full": (1_000_000, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100], [1, 2, 3, 4])},
    # tau: the paper's l1 = 1e-5 (Delta t ~ 3e4-3e5 up to tau = 0.8); quick: 1e6 steps (the
    # paper 1e7) and fewer (N, tau)
    "tau": {"quick": (1_000_000, 1e-5, [40, 60], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
            "full": (10_000_000, 1e-5, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
                     [round(0.1 * k, 1) for k in range(11)])},
    # coherence: data only (1 step); seeds = trials (the paper's 10 at full scale)
    "coherence": {"quick": ([10, 30, 50, 70, 90], [round(0.1 * k, 1) for k in range(11)], 3),
                  "full": (list(range(1, 100, 7)), [round(0.05 * k, 2) for k in range(21)], 10)},
}


def _depth_grids(full: bool, depths=None) -> tuple[list[dict], str]:
    steps, Ns, Ls = SCALES["depth"]["full" if full else "quick"]
    Ls = depths or Ls
    grids = [dict(BASE, l1=0.0, l2=0.0, steps=steps, measurements=Ns, depth=L,
                  init="constant" if L == 1 else "random", init_scale=DEPTH_SCALE[L]) for L in Ls]
    note = scale_note(full, f"{P.fmt(steps)} steps", "the paper's 1e6 steps")
    note += "; init: L=1 1e-6·1, L≥2 independent factors " + ", ".join(
        f"L={L}: {DEPTH_SCALE[L]:g}·N(0,1/n)" for L in Ls if L > 1)
    return grids, note


def _draw_fig9(out, full=False, quiet=True, batch_size=None):
    grids, note = _depth_grids(full, [1, 2, 3])
    res = run_grids(grids, out, quiet=quiet, batch_size=batch_size, detection=DEPTH_DETECTION)
    runs = res.runs
    fig, axes = P.new_figure(1, 2, 5.4, 3.9)
    a, b = axes[0]
    Ls = sorted(runs.depth.unique())
    for L, col in zip(Ls, P.palette(len(Ls))):
        g = runs[runs.depth == L].sort_values("measurements")
        ok = (g.status == "done").to_numpy()
        a.plot(g.measurements[ok], g.final_test_error[ok], "o-", color=col, label=f"L={L}")
        b.plot(g.measurements[ok], g.final_train_error[ok].clip(lower=P.FLOOR), "o-", color=col,
               label=f"L={L}")
        if (~ok).any():
            a.plot(g.measurements[~ok], np.full((~ok).sum(), 1.0), "x", color="red")
    ls = runs[runs.depth == Ls[0]].sort_values("measurements")
    a.plot(ls.measurements, ls.ls_test_error, "k:", lw=1, label="least squares (memorizes)")
    errs = runs.final_test_error[runs.status == "done"].to_numpy(float)
    a.set(yscale="log", xlabel="N (measurements)", ylabel="final test (recovery) error",
          ylim=(max(1e-6, 0.3 * np.nanmin(errs)) if errs.size else None, 3.0))  # (LS is 0 at N=n)
    b.set(yscale="log", xlabel="N (measurements)", ylabel="final train error")
    for ax, t in zip((a, b), ("(a) recovery error: depth compensates for fewer measurements",
                              "(b) train error")):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title(t, fontsize=9)
    fig.suptitle("Fig. 9 — deep diagonal sparse recovery without penalty (β = 0)\n"
                 + P.fixed_text(runs, skip=("init", "init_scale")) + "\n" + note, fontsize=9)
    return P.save(fig, out / "fig9.png")


def _curve_grid(res, runs, panel: str, color: str, panel_label, title: str, out, name):
    """One panel per value of ``panel``, one colour per value of ``color``: train dashed, test
    solid, on log-log axes."""
    pv = sorted(runs[panel].unique())
    cv = sorted(runs[color].unique())
    cols = P.palette(len(cv))
    ncols = min(4, len(pv))
    fig, axes = P.new_figure(int(np.ceil(len(pv) / ncols)), ncols, 4.2, 3.3)
    for ax, p in zip(axes.flat, pv):
        for c, col in zip(cv, cols):
            sel = runs[(runs[panel] == p) & (runs[color] == c)]
            if sel.empty:
                continue
            k = P.positive_steps(res.curve(sel.iloc[0].run_id))
            ax.plot(k.step, k.train_error.clip(lower=P.FLOOR), color=col, lw=0.9, **{"ls": "--"})
            ax.plot(k.step, k.test_error.clip(lower=P.FLOOR), color=col, lw=1.4,
                    label=P.label(color, c))
        ax.set(xscale="log", yscale="log", xlabel="step t", ylabel="relative error")
        ax.grid(True, alpha=0.3)
        ax.set_title(panel_label(p), fontsize=9)
    for ax in list(axes.flat)[len(pv):]:
        ax.set_visible(False)
    first = axes.flat[0]
    first.plot([], [], "k--", lw=0.9, label="train (dashed)")
    first.plot([], [], "k-", lw=1.4, label="test (solid)")
    first.legend(fontsize=6, ncol=2, loc="lower left")
    fig.suptitle(title, fontsize=9)
    return P.save(fig, out / name)


def _draw_fig17(out, full=False, quiet=True, batch_size=None):
    grids, note = _depth_grids(full)
    res = run_grids(grids, out, quiet=quiet, batch_size=batch_size, detection=DEPTH_DETECTION)
    runs = res.runs
    title = ("Fig. 17 — deep sparse recovery (β = 0): error curves over (N, L)\n"
             + P.fixed_text(runs, skip=("init", "init_scale")) + "\n" + note)
    return _curve_grid(res, runs, "depth", "measurements",
                       lambda L: f"L={L} (init {DEPTH_SCALE[L]:g})", title, out, "fig17.png")


def _draw_fig18(out, full=False, quiet=True, batch_size=None):
    grids, note = _depth_grids(full)
    res = run_grids(grids, out, quiet=quiet, batch_size=batch_size, detection=DEPTH_DETECTION)
    runs = res.runs
    fig, axes = P.new_figure(1, 4, 4.3, 3.3)
    P.summary_row(axes[0], runs, "measurements", "depth",
                  note="t1, t2: train / test error ≤ 1e-2 (or the first low plateau)")
    fig.suptitle("Fig. 18 — t1, t2, Δt and final test error against N for each depth L (β = 0)\n"
                 + P.fixed_text(runs, skip=("init", "init_scale")) + "\n" + note, fontsize=9)
    return P.save(fig, out / "fig18.png")


def _draw_fig19a(out, full=False, quiet=True, batch_size=None):
    Ns, taus, trials = SCALES["coherence"]["full" if full else "quick"]
    # data only (one step): the step size does not enter the coherence, but it is still
    # checked against 2/lambda_max, which N = 1 (full grid) brings down to ~0.02
    grid = dict(BASE, lr=1e-3, l1=0.0, steps=1, log_dense_until=1, measurements=Ns, tau=taus,
                seed=list(range(1, trials + 1)))
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
    runs = res.runs
    fig, axes = P.new_figure(1, 2, 5.4, 3.9)
    a, b = axes[0]
    cols = P.palette(len(Ns))
    n = int(runs.dim.iloc[0])
    for N, col in zip(Ns, cols):
        g = runs[runs.measurements == N].groupby("tau").coherence
        m, lo, hi = g.mean(), g.min(), g.max()
        a.plot(m.index, m.values, "o-", ms=3, color=col, label=f"N={N}")
        a.fill_between(m.index, lo.values, hi.values, color=col, alpha=0.15)
    a.set(xlabel="τ (fraction of rows of M taken from Φ)", ylabel="coherence μ(M, Φ)")
    a.set_title(f"(a) coherence vs τ (mean, min–max over {trials} seeds)", fontsize=9)
    g0 = runs[runs.tau == 0].groupby("measurements").coherence
    Ng = np.array(sorted(runs.measurements.unique()), float)
    b.plot(g0.mean().index, g0.mean().values, "o-", color="C0", label="τ = 0 (Gaussian M), mean")
    b.plot(Ng, np.sqrt(2 * np.log(Ng * n) / n), "k--", lw=1, label="√(2 ln(N n) / n)")
    b.axhline(1.0, color="C3", ls=":", lw=1, label="any τ ≥ 1/N: μ = 1 (a row is a column of Φ)")
    b.set(xlabel="N (measurements)", ylabel="coherence μ(M, Φ)", ylim=(0, 1.05))
    b.set_title("(b) Gaussian M is incoherent; one selected row makes μ = 1", fontsize=9)
    for ax in (a, b):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    note = scale_note(full, f"N ∈ {Ns}, {trials} seeds", "N ∈ {1, 8, ..., 99}, 10 seeds")
    fig.suptitle("Fig. 19a — coherence of the measurements vs data selection τ (identity Φ)\n"
                 + P.fixed_text(runs, skip=("seed", "steps", "lr", "l1")) + "\n" + note,
                 fontsize=9)
    return P.save(fig, out / "fig19a.png")


def _tau_grid(full: bool) -> tuple[dict, str]:
    steps, l1, Ns, taus = SCALES["tau"]["full" if full else "quick"]
    grid = dict(BASE, l1=l1, l2=0.0, init="constant", init_scale=1e-6, steps=steps,
                measurements=Ns, tau=taus)
    note = scale_note(full, f"l1={l1:g}, {P.fmt(steps)} steps, N ∈ {Ns}, τ ∈ {taus}",
                      "the paper's l1=1e-5 over 1e7 steps, N ∈ {10..100}, τ ∈ {0, 0.1, ..., 1}")
    return grid, note


def _draw_fig21(out, full=False, quiet=True, batch_size=None):
    grid, note = _tau_grid(full)
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
    runs = res.runs
    title = ("Fig. 21 — sparse recovery with l1 over (N, τ): error curves\n"
             + P.fixed_text(runs) + "\n" + note)
    return _curve_grid(res, runs, "measurements", "tau", lambda N: f"N={N}", title, out,
                       "fig21.png")


def _draw_fig22(out, full=False, quiet=True, batch_size=None):
    grid, note = _tau_grid(full)
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
    runs = res.runs
    fig, axes = P.new_figure(1, 4, 4.3, 3.3)
    P.summary_row(axes[0], runs, "tau", "measurements",
                  note="τ changes the delay with everything else fixed")
    fig.suptitle("Fig. 22 — t1, t2, Δt and final test error against τ for several N\n"
                 + P.fixed_text(runs) + "\n" + note, fontsize=9)
    return P.save(fig, out / "fig22.png")


FIGURES = {
    "fig9": Figure("fig9", "deep diagonal model, beta = 0: recovery error vs N for L = 1, 2, 3",
                   _draw_fig9),
    "fig17": Figure("fig17", "deep diagonal model: error curves over (N, L)", _draw_fig17),
    "fig18": Figure("fig18", "deep diagonal model: t1, t2, Delta t, final error vs N per depth",
                    _draw_fig18),
    "fig19a": Figure("fig19a", "coherence mu(M, Phi) vs data selection tau for several N",
                     _draw_fig19a),
    "fig21": Figure("fig21", "l1 sparse recovery: error curves over (N, tau)", _draw_fig21),
    "fig22": Figure("fig22", "t1, t2, Delta t, final error vs tau for several N", _draw_fig22),
}
