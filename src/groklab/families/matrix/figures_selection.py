"""Matrix-completion figures 8 and 23: data selection by leverage (tau), at N = 70 and over
(N, tau).  Drawn from the shared settings of :mod:`.figure_settings`."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm

from ... import plotting as P
from ...figures import scale_note
from .figure_settings import BASE, N_PAPER, SCALES, TAUS, run_grids, t_float, times


def _fig8_grid(full: bool) -> tuple[dict, str]:
    sc = SCALES["fig8"]["full" if full else "quick"]
    grid = dict(BASE, observed=N_PAPER, method="subgradient", tau=TAUS, **sc)
    f = SCALES["fig8"]["full"]
    note = scale_note(full, f"STAND-IN lr={P.fmt(sc['lr'])}, nuclear={P.fmt(sc['nuclear'])}, "
                      f"{P.fmt(sc['steps'])} steps",
                      f"the paper's lr={P.fmt(f['lr'])}, nuclear={P.fmt(f['nuclear'])}, "
                      f"{P.fmt(f['steps'])} steps")
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
    t1, t2, _ = times(runs)
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
    grid = dict(BASE, method="subgradient", **sc)
    note = scale_note(full, f"STAND-IN lr={P.fmt(sc['lr'])}, nuclear={P.fmt(sc['nuclear'])}, "
                      f"{P.fmt(sc['steps'])} steps, {len(sc['observed'])} x {len(sc['tau'])} grid",
                      "the paper's lr=0.1, nuclear=1e-5, 1e7 steps, N = 30..100 x τ = 0..1")
    res = run_grids([grid], out, quiet=quiet, batch_size=batch_size)
    runs = res.runs
    Ns, taus = sorted(runs.observed.unique()), sorted(runs.tau.unique())
    err = np.full((len(Ns), len(taus)), np.nan)
    t2m = np.full_like(err, np.nan)
    for _, r in runs.iterrows():
        i, j = Ns.index(r.observed), taus.index(r.tau)
        err[i, j] = r.final_test_error
        t2m[i, j] = t_float(r.t2)
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
        _, t2, _ = times(g)
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
