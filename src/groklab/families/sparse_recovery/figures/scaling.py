"""Sparse recovery against the number of measurements N and the sparsity s (figures 12, 13, 24, 27,
28), next to the convex basis-pursuit baseline on the same data (its own figures 19b, 20:
:mod:`.basis_pursuit`, which shares the grids below).

* fig12 / fig13 / fig27 -- projected subgradient / ISTA / subgradient over s in {1, 5, 10, 15} x
  N in {10, ..., 100}: one panel of error curves per s (colour = N), then t2 against N with the
  paper's predictor t1 + |a_hat - a*|_inf / (alpha beta) and the final test error against N next to
  basis pursuit on the same data.
* fig28 -- the subgradient (s, N) grid summarized (the authors' 2 x 2 layout): minimum train and
  test error against N, t1 against N with eq. (78), t2 against N with t1 + the Delta t predictor,
  one line per s; basis pursuit's error on the same data dotted.
* fig24 -- N in {10, ..., 100} at SNR 1e8 (s = 5): the landscape u(t) = |a_I|, v(t) = |a_{I^c}|
  (I = supp a*) from the initialization through the least-squares fit a_hat to a*, the error
  curves, t1 and t2 against N with the theory, measured against predicted Delta t with the fitted
  exponent and its 95% interval (theory: 1), and the final error against the least-squares error.
* fig19b -- basis pursuit (cvxpy): N_min (the smallest N of the grid whose mean recovery error over
  the trials is <= 1e-6, the authors' rule) against s, one line per tau.
* fig20 -- basis pursuit: per tau in {0, 0.5, 1}, the error against N (one line per s), the
  (s, N) heat map of the error and N_min against s.

Hyperparameters are the paper's (docs/families/sparse-recovery.md#figures): n = 100, alpha = 0.1, beta1 = 1e-5, init
1e-6 * 1, noiseless unless said, data seed 1 for every (s, N) as in the authors' notebook (so a
GD run and the basis-pursuit run of the same (s, N) see the same a*, M); basis-pursuit trials are
seeds 1, 2, ...  Quick scale shortens the horizon (3e5 steps instead of 1e6) or
the number of basis-pursuit trials; ``--full`` runs the paper's grid.  Registered into
``FIGURES_SPARSE`` by :mod:`.sparse`.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from .... import plotting as P
from ....figures import Figure, scale_note
from ....theory_fit import fit_power_law, format_power_law
from .. import FAMILY
from ..rows import a_star_of, data_of, iterates_of
from .curves import run_grids

#: the paper's GD settings for the (s, N) and N figures (noiseless, seed 1, a0 = 1e-6 * 1)
BASE = dict(dim=100, seed=1, snr=float("inf"), lr=0.1, l1=1e-5, l2=0.0, init="constant",
            init_scale=1e-6, log_spacing="log", log_every=50)
NS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
SPARSITIES = [1, 5, 10, 15]
#: basis pursuit: the authors' grid s, N in {1, 11, ...} (cells 11-15 of their notebook)
BP_S = list(range(1, 100, 10))
BP_N = list(range(1, 111, 10))
#: a run "recovers" a* when its (mean) relative recovery error is at most this (authors: 1e-6)
RECOVERED = 1e-6
SCALES = {
    # Delta t ~ |a_hat - a*|_inf / (alpha beta) reaches ~1e5 for s = 15 near N = 30-50: 3e5 steps
    # show almost every click; the paper runs 1e6
    "sn": {"quick": (300_000, SPARSITIES, NS), "full": (1_000_000, SPARSITIES, NS)},
    "fig24": {"quick": (300_000, NS), "full": (1_000_000, NS)},
    # (taus, trials): the solves take ~15 ms each, so quick keeps the s x N grid and cuts trials
    "fig19b": {"quick": ([0.0, 0.25, 0.5, 0.75, 1.0], 2),
               "full": ([round(0.05 * k, 2) for k in range(21)], 10)},
    "fig20": {"quick": ([0.0, 0.5, 1.0], 2), "full": ([0.0, 0.5, 1.0], 4)},
}
#: fields that do not enter a basis-pursuit solution: left out of its titles
BP_SKIP = ("seed", "steps", "lr", "l1", "l2", "init", "init_scale", "depth")
#: the method of each (s, N) figure (the authors' notebook cells 50-58)
SN_METHODS = {"fig12": "projected", "fig13": "ista", "fig27": "subgradient",
              "fig28": "subgradient"}
METHOD_NAME = {"projected": "projected subgradient", "ista": "proximal gradient (ISTA)",
               "subgradient": "subgradient descent"}


@contextlib.contextmanager
def _quiet_solver():
    """cvxpy warns 'Solution may be inaccurate' for some far-below-threshold programs; their
    (large) recovery error is what the figure shows, so the warning is noise here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        yield


# ---- grids ------------------------------------------------------------------------------------
def sn_grid(method: str, full: bool) -> tuple[dict, str]:
    steps, ss, Ns = SCALES["sn"]["full" if full else "quick"]
    grid = dict(BASE, method=method, sparsity=ss, measurements=Ns, steps=steps)
    note = scale_note(full, f"{P.fmt(steps)} steps", "the paper's 1e6 steps")
    return grid, note


def bp_grid(sparsities, Ns, taus, trials: int, **extra) -> dict:
    """Basis-pursuit runs (one cvxpy solve each; lr, l1, init and steps do not enter)."""
    return dict(dim=BASE["dim"], snr=float("inf"), method="basis-pursuit", steps=1,
                log_dense_until=1,
                sparsity=list(sparsities), measurements=list(Ns), tau=list(taus),
                seed=list(range(1, trials + 1)), **extra)


def fig24_grid(full: bool) -> tuple[dict, str]:
    steps, Ns = SCALES["fig24"]["full" if full else "quick"]
    grid = dict(BASE, method="subgradient", sparsity=5, snr=1e8, measurements=Ns, steps=steps)
    return grid, scale_note(full, f"{P.fmt(steps)} steps", "the paper's 1e6 steps")


def n_min(runs, threshold: float = RECOVERED) -> dict:
    """{(tau, s): smallest N whose mean recovery error over the seeds is <= threshold (None if no
    N of the grid recovers)}."""
    mean = runs.groupby(["tau", "sparsity", "measurements"]).final_test_error.mean()
    out = {}
    for (tau, s), g in mean.groupby(level=[0, 1]):
        ok = g[g <= threshold]
        out[(float(tau), int(s))] = int(ok.index.get_level_values(2).min()) if len(ok) else None
    return out


# ---- drawing helpers ----------------------------------------------------------------------------
def _colors(values, cmap="viridis"):
    from matplotlib import colormaps
    values = list(values)
    norm = Normalize(vmin=min(values), vmax=max(values) if max(values) > min(values)
                     else min(values) + 1)
    cm = colormaps[cmap]
    return {v: cm(norm(v)) for v in values}, ScalarMappable(norm=norm, cmap=cm)


def _discrete(values) -> dict:
    """One tab colour per value (few lines: s in {1, 5, 10, 15})."""
    return {v: f"C{i % 10}" for i, v in enumerate(sorted(values))}


def _curves(ax, res, runs, field: str, colors) -> None:
    """Train (dashed) and test (solid) error curves of ``runs``, one colour per ``field`` value."""
    for _, r in runs.sort_values(field).iterrows():
        c = P.positive_steps(res.curve(r.run_id))
        col = colors[r[field]]
        ax.plot(c.step, c.train_error.clip(lower=P.FLOOR), color=col, **{**P.TRAIN_STYLE, "lw": 0.9})
        ax.plot(c.step, c.test_error.clip(lower=P.FLOOR), color=col, **{**P.TEST_STYLE, "lw": 1.2})
    ax.set(xscale="log", yscale="log", xlabel="step t", ylabel="relative error")
    ax.grid(True, alpha=0.3)


def _style_legend(ax, **kw):
    ax.plot([], [], "k", **P.TRAIN_STYLE, label="train ‖Xa − y*‖/‖y*‖ (dashed)")
    ax.plot([], [], "k", **P.TEST_STYLE, label="test ‖a − a*‖/‖a*‖ (solid)")
    ax.legend(**{"fontsize": 7, **kw})


def _bp_samedata_of(grid: dict, out, quiet, batch_size):
    """Basis pursuit on exactly the data of a GD grid (same data fields, seed)."""
    bp = bp_grid(np.atleast_1d(grid["sparsity"]).tolist(),
                 np.atleast_1d(grid["measurements"]).tolist(), [0.0], 1)
    bp["seed"] = grid["seed"]
    bp["snr"] = grid["snr"]
    with _quiet_solver():
        return run_grids([bp], out, quiet=quiet, batch_size=batch_size).runs


def _t_vs_N(ax, runs, which: str, colors, censored=False) -> bool:
    """Measured t1 or t2 against N (filled; hollow at the horizon when never detected) with the
    paper's predictor dashed: eq. (78) for t1, predicted t1 + |a_hat - a*|_inf/(alpha beta) for
    t2."""
    for s, g in runs.groupby("sparsity"):
        g = g.sort_values("measurements")
        t1, t2, _ = P.times_of(g)
        y = t1 if which == "t1" else t2
        censored |= P.measured(ax, g.measurements, y, g.steps, colors[s], P.label("sparsity", s))
        pred = g.pred_t1.to_numpy(float) if which == "t1" else \
            g.pred_t1.to_numpy(float) + g.pred_delta_t.to_numpy(float)
        ax.plot(g.measurements, pred, ls="--", color=colors[s], lw=1)
    ax.plot([], [], "k--", lw=1, label="theory: eq. (78)" if which == "t1"
            else "theory: t1 + |â − a*|∞/(αβ)")
    ax.set(yscale="log", xlabel="N (measurements)",
           ylabel="t1 (memorization)" if which == "t1" else "t2 (generalization)")
    ax.grid(True, alpha=0.3)
    return censored


def _min_error(res, runs, col: str) -> np.ndarray:
    return np.array([float(res.curve(r)[col].min()) for r in runs.run_id])


# ---- figures 12, 13, 27: curves over (s, N) -----------------------------------------------------
def _draw_sn_curves(name: str):
    method, number = SN_METHODS[name], name[3:]

    def draw(out, full=False, quiet=True, batch_size=None):
        grid, note = sn_grid(method, full)
        res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
        runs = res.runs
        bp = _bp_samedata_of(grid, out, quiet, batch_size)
        ss = sorted(runs.sparsity.unique())
        Ns = sorted(runs.measurements.unique())
        fig, axes = P.new_figure(3, 2, 5.2, 3.5)
        ncols, sm = _colors(Ns)
        for ax, s in zip(axes[:2].flat, ss):
            _curves(ax, res, runs[runs.sparsity == s], "measurements", ncols)
            ax.set_title(f"s = {s}", fontsize=9)
        fig.colorbar(sm, ax=axes[:2, 1], label="N (measurements)", shrink=0.9)
        _style_legend(axes[0, 0], loc="lower left")
        scol = _discrete(ss)
        e, f = axes[2]
        cens = _t_vs_N(e, runs, "t2", scol)
        P.legend(e, cens, "t2 beyond the horizon (hollow)", ncol=2)
        e.set_title("(e) t2 vs N with the paper's predictor (dashed)", fontsize=9)
        for s, g in runs.groupby("sparsity"):
            g = g.sort_values("measurements")
            f.plot(g.measurements, g.final_test_error.clip(lower=P.FLOOR), "o-", ms=4,
                   color=scol[s], label=P.label("sparsity", s))
            b = bp[bp.sparsity == s].sort_values("measurements")
            f.plot(b.measurements, b.final_test_error.clip(lower=1e-10), ":", color=scol[s],
                   lw=1.2)
        f.plot([], [], "k:", lw=1.2, label="basis pursuit (cvxpy), same data")
        f.set(yscale="log", xlabel="N (measurements)", ylabel="final test error")
        f.grid(True, alpha=0.3)
        f.legend(fontsize=7, ncol=2)
        f.set_title("(f) final error vs N: GD with l1 against the convex baseline", fontsize=9)
        fig.suptitle(f"Fig. {number} — {METHOD_NAME[method]} over (s, N): error curves per s "
                     "(colour = N)\n" + P.fixed_text(runs) + "\n" + note, fontsize=9)
        return P.save(fig, out / f"{name}.png")
    return draw


# ---- figure 28: summaries over (s, N), subgradient ----------------------------------------------
def _draw_fig28(out, full=False, quiet=True, batch_size=None):
    grid, note = sn_grid(SN_METHODS["fig28"], full)
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
    runs = res.runs.sort_values(["sparsity", "measurements"]).reset_index(drop=True)
    bp = _bp_samedata_of(grid, out, quiet, batch_size)
    runs["min_train"] = _min_error(res, runs, "train_error")
    runs["min_test"] = _min_error(res, runs, "test_error")
    ss = sorted(runs.sparsity.unique())
    scol = _discrete(ss)
    fig, axes = P.new_figure(2, 2, 5.2, 3.7)
    a, b, c, d = axes.flat
    for s, g in runs.groupby("sparsity"):
        lbl = P.label("sparsity", s)
        a.plot(g.measurements, g.min_train.clip(lower=P.FLOOR), "o-", ms=4, color=scol[s], label=lbl)
        b.plot(g.measurements, g.min_test.clip(lower=P.FLOOR), "o-", ms=4, color=scol[s], label=lbl)
        bb = bp[bp.sparsity == s].sort_values("measurements")
        b.plot(bb.measurements, bb.final_test_error.clip(lower=1e-10), ":", color=scol[s], lw=1.2)
    b.plot([], [], "k:", lw=1.2, label="basis pursuit, same data")
    a.set(yscale="log", xlabel="N", ylabel="min_t ‖Xa(t) − y*‖ / ‖y*‖")
    b.set(yscale="log", xlabel="N", ylabel="min_t ‖a(t) − a*‖ / ‖a*‖")
    cens = _t_vs_N(c, runs, "t1", scol)
    cens |= _t_vs_N(d, runs, "t2", scol)
    for ax, t in zip(axes.flat, ("(a) best train error", "(b) best test (recovery) error",
                                 "(c) t1 vs N (dashed: eq. 78); s=1: the train error floors\n"
                                 "near the 1e-3 threshold (bias ~αβ vs a small ‖y*‖), so t1 is "
                                 "late (authors: 1e-2 for s=1)",
                                 "(d) t2 vs N (dashed: t1 + |â − a*|∞/(αβ))")):
        ax.grid(True, alpha=0.3)
        ax.set_title(t, fontsize=9)
    a.legend(fontsize=7)
    b.legend(fontsize=7, ncol=2)
    P.legend(c, False, ncol=2)
    P.legend(d, cens, "t2 beyond the horizon (hollow)", ncol=2)
    fig.suptitle("Fig. 28 — subgradient descent over (s, N): errors, t1 and t2 against N per s\n"
                 + P.fixed_text(runs) + "\n" + note, fontsize=9)
    return P.save(fig, out / "fig28.png")


# ---- figure 24: scaling with N and the (u, v) landscape ----------------------------------------
def _draw_fig24(out, full=False, quiet=True, batch_size=None):
    least_squares = FAMILY.runtime_module().least_squares
    grid, note = fig24_grid(full)
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size, save_iterates=True)
    runs = res.runs.sort_values("measurements").reset_index(drop=True)
    Ns = list(runs.measurements)
    ncol, sm = _colors(Ns)
    fig, axes = P.new_figure(2, 3, 5.0, 3.8)
    a, b, c, d, e, f = axes.flat
    # (a) landscape u = |a_I|, v = |a_{I^c}| for N in {20, ..., 70} (the paper's panel)
    astar = a_star_of(runs.iloc[0])
    on, off = np.flatnonzero(astar), np.flatnonzero(astar == 0)
    marks = ["^", "o", "s", "8", "*", "d"]
    times = [10 ** k for k in range(1, 7)]
    for _, r in runs[(runs.measurements >= 20) & (runs.measurements <= 70)].iterrows():
        steps, A = iterates_of(res, r.run_id)
        u, v = np.linalg.norm(A[:, on], axis=1), np.linalg.norm(A[:, off], axis=1)
        a.plot(u, v, ".", ms=1.5, color=ncol[r.measurements])
        for k, t in enumerate(times):
            if t <= steps[-1]:
                i = int(np.argmin(np.abs(steps - t)))
                a.plot(u[i], v[i], marks[k], ms=5, mfc="none", color=ncol[r.measurements])
        data = data_of(r)
        ah = least_squares(data.X, data.y).numpy()
        a.plot(np.linalg.norm(ah[on]), np.linalg.norm(ah[off]), "X", color="red", ms=7)
    a.plot(np.linalg.norm(astar[on]), 0.0, "o", color="red", ms=7)
    a.plot([], [], "X", color="red", ls="none", label="â (least squares), one per N")
    a.plot([], [], "o", color="red", ls="none", label="a* (u = ‖a*‖, v = 0)")
    for k, t in enumerate(times):
        a.plot([], [], marks[k], mfc="none", color="k", ls="none", label=f"t = {P.fmt(t)}")
    a.set(xlabel="u(t) = ‖a_I(t)‖ (I = supp a*)", ylabel="v(t) = ‖a_{I^c}(t)‖")
    a.legend(fontsize=6, ncol=2)
    a.set_title("(a) landscape for N ∈ {20, …, 70}: init → â → a*", fontsize=9)
    # (b) error curves, colour = N
    _curves(b, res, runs, "measurements", ncol)
    fig.colorbar(sm, ax=b, label="N")
    _style_legend(b, loc="lower left")
    b.set_title("(b) error curves", fontsize=9)
    # (c) t1 and t2 against N with the theory
    cens = False
    for which, col in (("t1", "C0"), ("t2", "C3")):
        t1, t2, _ = P.times_of(runs)
        y = t1 if which == "t1" else t2
        cens |= P.measured(c, runs.measurements, y, runs.steps, col, f"{which} (measured)")
    pt1 = runs.pred_t1.to_numpy(float)
    c.plot(runs.measurements, pt1, "--", color="C0", lw=1, label="t1 theory: eq. (78)")
    c.plot(runs.measurements, pt1 + runs.pred_delta_t.to_numpy(float), "--", color="C3", lw=1,
           label="t2 theory: t1 + |â − a*|∞/(αβ)")
    c.set(yscale="log", xlabel="N (measurements)", ylabel="step")
    c.grid(True, alpha=0.3)
    P.legend(c, cens, "never detected (hollow, at the horizon)")
    c.set_title("(c) t1, t2 vs N: measured and predicted", fontsize=9)
    # (d) measured vs predicted Delta t, with the fitted exponent
    _, _, dt = P.times_of(runs)
    pred = runs.pred_delta_t.to_numpy(float)
    ok = np.isfinite(dt) & (dt > 0) & np.isfinite(pred) & (pred > 0)
    for i in np.flatnonzero(ok):
        d.plot(pred[i], dt[i], "o", color=ncol[Ns[i]])
    # the fit covers N < n: at N = n the least-squares fit is a* up to the noise, no grokking
    below = ok & (runs.measurements < runs.dim).to_numpy()
    fit = None
    if below.sum() >= 3:
        fit = fit_power_law(pred[below], dt[below])
        xs = np.sort(pred[below])
        d.plot(xs, fit["prefactor"] * xs ** fit["exponent"], "-.", color="0.3",
               label=f"fit Δt ∝ pred^k over N < n: k = {P.fit_text(fit)}\n(95% CI, n={fit['n']}; "
               "theory k = 1)")
    if ok.any():
        lo, hi = min(pred[ok].min(), dt[ok].min()), max(pred[ok].max(), dt[ok].max())
        d.plot([lo, hi], [lo, hi], "k--", lw=1, label="measured = predicted")
    d.set(xscale="log", yscale="log", xlabel="predicted Δt = |â − a*|∞ / (αβ)",
          ylabel="measured Δt = t2 − t1")
    d.grid(True, alpha=0.3)
    if ok.any():
        d.legend(fontsize=7)
    d.set_title("(d) Δt: measured vs predicted (colour = N)", fontsize=9)
    # (e) Delta t against N
    cens_e = P.measured(e, runs.measurements, dt, runs.steps - np.nan_to_num(P.times_of(runs)[0]),
                        "C2", "Δt measured")
    e.plot(runs.measurements, pred, "--", color="C2", lw=1, label="|â − a*|∞ / (αβ)")
    e.set(yscale="log", xlabel="N (measurements)", ylabel="Δt = t2 − t1")
    e.grid(True, alpha=0.3)
    P.legend(e, cens_e)
    e.set_title("(e) the delay shrinks as N grows (â → a* at N = n)", fontsize=9)
    # (f) errors against N: train at t1, final test, least squares
    tr_t1 = []
    for _, r in runs.iterrows():
        cv = res.curve(r.run_id)
        t1 = P.time_or_none(r.t1)
        tr_t1.append(float(cv.train_error[cv.step >= t1].iloc[0]) if t1 is not None else np.nan)
    f.plot(runs.measurements, np.clip(tr_t1, P.FLOOR, None), "o-", color="C0",
           label="train error at t1")
    f.plot(runs.measurements, runs.final_test_error, "s-", color="C3", label="final test error")
    f.plot(runs.measurements, runs.ls_test_error.clip(lower=P.FLOOR), "k:",
           label="least-squares â test error (memorizes)")
    f.set(yscale="log", xlabel="N (measurements)", ylabel="relative error")
    f.grid(True, alpha=0.3)
    f.legend(fontsize=7)
    f.set_title("(f) errors vs N", fontsize=9)
    head = "Fig. 24 — subgradient descent against N (SNR 1e8): landscape, times and theory"
    if fit:
        ratio = np.median(dt[below] / pred[below])
        head += ("\nfitted exponent of measured vs predicted Δt over N < n: "
                 f"{format_power_law(fit)} (theory: 1); median measured / predicted {ratio:.2g}")
    fig.suptitle(head + "\n" + P.fixed_text(runs) + "\n" + note, fontsize=9)
    return P.save(fig, out / "fig24.png")


FIGURES = {
    "fig12": Figure("fig12", "projected subgradient over (s, N): error curves per s, t2 vs N "
                    "with the predictor, final error vs basis pursuit",
                    _draw_sn_curves("fig12")),
    "fig13": Figure("fig13", "ISTA (proximal) over (s, N): error curves per s, t2 vs N with the "
                    "predictor, final error vs basis pursuit", _draw_sn_curves("fig13")),
    "fig24": Figure("fig24", "subgradient vs N at SNR 1e8: (u, v) landscape, t1/t2 vs N with "
                    "theory, measured vs predicted Delta t (fitted exponent)", _draw_fig24),
    "fig27": Figure("fig27", "subgradient over (s, N): error curves per s, t2 vs N with the "
                    "predictor, final error vs basis pursuit",
                    _draw_sn_curves("fig27")),
    "fig28": Figure("fig28", "subgradient over (s, N): best errors, t1 and t2 vs N per s with "
                    "the theory", _draw_fig28),
}
