"""The convex basis-pursuit baseline over (s, N, tau) (figures 19b, 20).

* fig19b -- basis pursuit (cvxpy): N_min (the smallest N of the grid whose mean recovery error over
  the trials is <= 1e-6, the authors' rule) against s, one line per tau.
* fig20 -- basis pursuit: per tau in {0, 0.5, 1}, the error against N (one line per s), the
  (s, N) heat map of the error and N_min against s.

Grids and shared helpers: :mod:`.scaling`.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import LogNorm

from .... import plotting as P
from ....figures import Figure, scale_note
from ..theory import cs_sample_guide
from . import scaling as grid  # the (s, N) grids, read at draw time (tests shrink them)
from .curves import run_grids


def _nmin_panel(ax, nm: dict, taus, n: int, Nmax: int) -> None:
    tcol, sm = grid._colors(taus)
    for tau in taus:
        items = sorted((s, v) for (t, s), v in nm.items() if t == tau)
        ss = np.array([s for s, _ in items], float)
        vals = np.array([np.nan if v is None else v for _, v in items], float)
        ax.plot(ss, vals, "o-", ms=4, color=tcol[tau],  # many taus: the colour bar says which
                label=f"τ = {P.fmt(tau)}" if len(taus) <= 6 else None)
        miss = ~np.isfinite(vals)
        if miss.any():
            ax.plot(ss[miss], np.full(miss.sum(), Nmax), "o", mfc="none", color=tcol[tau])
    ss = np.linspace(1, n / math.e, 50)  # s ln(n/s) only rises up to s = n/e
    ax.plot(ss, cs_sample_guide(ss, n), "k--", lw=1,
            label="2 s ln(n/s), s ≤ n/e (classical order, not a fit)")
    ax.plot([], [], "o", mfc="none", color="k", ls="none", label="no N of the grid recovers")
    ax.axhline(n, color="0.5", ls=":", lw=1, label="N = n")
    ax.set(xlabel="sparsity s", ylabel="N_min for recovery")
    ax.grid(True, alpha=0.3)
    return sm


def _bp_runs(name, out, full, quiet, batch_size):
    """The basis-pursuit (s, N, tau, trial) sweep of figure ``name``: (taus, trials, runs)."""
    taus, trials = grid.SCALES[name]["full" if full else "quick"]
    with grid._quiet_solver():
        res = run_grids([grid.bp_grid(grid.BP_S, grid.BP_N, taus, trials)], out, quiet=quiet,
                        batch_size=batch_size)
    return taus, trials, res.runs


def _draw_fig19b(out, full=False, quiet=True, batch_size=None):
    taus, trials, runs = _bp_runs("fig19b", out, full, quiet, batch_size)
    nm = grid.n_min(runs)
    fig, axes = P.new_figure(1, 1, 8.6, 5.0)
    ax = axes[0, 0]
    sm = _nmin_panel(ax, nm, taus, int(runs.dim.iloc[0]), max(grid.BP_N))
    fig.colorbar(sm, ax=ax, label="τ (fraction of rows of M that are columns of Φ)")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.set_title(f"N_min: smallest N of the grid with mean error ≤ {grid.RECOVERED:g} over "
                 f"{trials} trials", fontsize=9)
    note = scale_note(full, f"τ ∈ {taus}, {trials} trials",
                      "τ ∈ {0, 0.05, ..., 1}, 10 trials")
    fig.suptitle("Fig. 19b — basis pursuit (cvxpy): measurements needed vs sparsity s and "
                 "coherence τ\n" + P.fixed_text(runs, skip=grid.BP_SKIP, width=110) + "\n"
                 + f"s ∈ {grid.BP_S[0]}, {grid.BP_S[1]}, …, {grid.BP_S[-1]}; N ∈ {grid.BP_N[0]}, {grid.BP_N[1]}, …, "
                 f"{grid.BP_N[-1]}\n" + note, fontsize=9)
    return P.save(fig, out / "fig19b.png")


def _draw_fig20(out, full=False, quiet=True, batch_size=None):
    taus, trials, runs = _bp_runs("fig20", out, full, quiet, batch_size)
    mean = runs.groupby(["tau", "sparsity", "measurements"]).final_test_error.mean()
    nm = grid.n_min(runs)
    n = int(runs.dim.iloc[0])
    fig, axes = P.new_figure(len(taus), 3, 4.6, 3.4)
    scol, ssm = grid._colors(grid.BP_S)
    pos = mean[mean > 0]
    norm = LogNorm(vmin=max(float(pos.min()), 1e-10), vmax=float(pos.max()))
    for row, tau in zip(axes, taus):
        a, b, c = row
        m = mean.loc[tau]
        for s in grid.BP_S:
            g = m.loc[s]
            a.plot(g.index, g.values.clip(1e-10), "-", color=scol[s])
        a.set(yscale="log", xlabel="number of measurements N", ylabel=f"error (τ = {P.fmt(tau)})")
        a.axhline(grid.RECOVERED, color="0.5", ls=":", lw=1)
        a.grid(True, alpha=0.3)
        fig.colorbar(ssm, ax=a, label="sparsity level s")
        img = m.unstack().reindex(index=grid.BP_S, columns=grid.BP_N).to_numpy(float)
        mesh = b.pcolormesh(np.arange(len(grid.BP_N) + 1), np.arange(len(grid.BP_S) + 1),
                            np.clip(img, 1e-10, None), cmap="viridis", norm=norm)
        b.set_xticks(np.arange(len(grid.BP_N)) + 0.5, [str(v) for v in grid.BP_N], fontsize=7, rotation=90)
        b.set_yticks(np.arange(len(grid.BP_S)) + 0.5, [str(v) for v in grid.BP_S], fontsize=7)
        b.set(xlabel="number of measurements N", ylabel="sparsity level s")
        fig.colorbar(mesh, ax=b, label="error")
        _nmin_panel(c, {k: v for k, v in nm.items() if k[0] == tau}, [tau], n, max(grid.BP_N))
        c.yaxis.tick_right()
        c.yaxis.set_label_position("right")
        c.legend(fontsize=6, loc="lower right")
    note = scale_note(full, f"{trials} trials per (s, N, τ)", "the authors' 4 trials")
    fig.suptitle("Fig. 20 — basis pursuit (cvxpy) relative recovery error over (N, s) for "
                 "τ ∈ {" + ", ".join(P.fmt(t) for t in taus) + "}: error vs N, heat map, N_min\n"
                 + P.fixed_text(runs, skip=grid.BP_SKIP) + "\n" + note
                 + f"; recovered: mean error ≤ {grid.RECOVERED:g} (dotted)", fontsize=9)
    return P.save(fig, out / "fig20.png")



FIGURES = {
    "fig19b": Figure("fig19b", "basis pursuit (cvxpy): N_min vs sparsity s for several tau",
                     _draw_fig19b),
    "fig20": Figure("fig20", "basis pursuit (cvxpy): error over (N, s) per tau, heat map, N_min",
                    _draw_fig20),
}
