"""Drawing helpers the generic-engine families' figures share (matplotlib, no torch):
accuracy curves coloured by a penalty strength with t1 / t2 marked, a curve column per run, and
t2 / Delta t against alpha * beta with the fitted power law (groklab.theory_fit)."""
from __future__ import annotations

import numpy as np

from ... import plotting as P
from ...theory_fit import fit_power_law, format_power_law


def times(g, name: str) -> np.ndarray:
    return g[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def accuracy_panel(fig, ax, res, g, beta: str, title: str, base=None,
                   t2_text: str = "test acc. 0.99") -> None:
    """Train (dashed) / test (solid) accuracy against the step of the runs ``g`` (rows of the
    runs table), colour = their ``beta``; t1 as a triangle on the train curve, t2 dotted;
    ``base``: an unpenalized run drawn grey; ``t2_text``: the family's t2 rule, for the legend."""
    betas = sorted(float(b) for b in g[beta].unique())
    if base is not None:
        c = P.positive_steps(res.curve(base.run_id))
        ax.plot(c.step, c.train_accuracy, color="0.6", **P.TRAIN_STYLE)
        ax.plot(c.step, c.test_accuracy, color="0.6", lw=1.2, label="no penalty")
    if betas:
        cmap, norm, col = P.beta_colors(betas)
        for _, r in g.iterrows():
            c = P.positive_steps(res.curve(r.run_id))
            colour = col(float(r[beta]))
            ax.plot(c.step, c.train_accuracy, color=colour, **P.TRAIN_STYLE)
            ax.plot(c.step, c.test_accuracy, color=colour, **P.TEST_STYLE)
            t1, t2 = P.as_float(r.t1), P.as_float(r.t2)
            if np.isfinite(t1):
                ax.plot([t1], [1.0], marker="v", color=colour, ms=6)
            if np.isfinite(t2):
                ax.axvline(t2, color=colour, ls=":", lw=1.1)
        P.colorbar(fig, ax, cmap, norm, betas, f"β ({beta})")
    ax.plot([], [], "k", **P.TRAIN_STYLE, label="train")
    ax.plot([], [], "k", **P.TEST_STYLE, label="test")
    ax.plot([], [], "kv", ls="none", label="t1 (train acc. 0.99)")
    ax.plot([], [], "k:", lw=1.1, label=f"t2 ({t2_text})")
    ax.set(xscale="log", xlabel="step t", ylabel="accuracy", ylim=(-0.02, 1.04))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=9)


def column_panel(fig, ax, res, g, beta: str, column: str, ylabel: str, title: str,
                 base=None, log_y: bool = False) -> None:
    """A curve column against the step, one line per run, colour = ``beta``, t2 dotted."""
    betas = sorted(float(b) for b in g[beta].unique())
    if base is not None:
        c = P.positive_steps(res.curve(base.run_id))
        ax.plot(c.step, c[column], color="0.6", lw=1.2, label="no penalty")
        ax.legend(fontsize=7)
    if betas:
        cmap, norm, col = P.beta_colors(betas)
        for _, r in g.iterrows():
            c = P.positive_steps(res.curve(r.run_id))
            ax.plot(c.step, c[column], color=col(float(r[beta])), lw=1.5)
            if np.isfinite(P.as_float(r.t2)):
                ax.axvline(P.as_float(r.t2), color=col(float(r[beta])), ls=":", lw=1.0)
        P.colorbar(fig, ax, cmap, norm, betas, f"β ({beta})")
    ax.set(xscale="log", xlabel="step t", ylabel=ylabel)
    if log_y:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=9)


def delay_panel(ax, g, beta: str, title: str) -> str:
    """t2 (circles) and Delta t (squares) against alpha * beta (log-log), one colour per lr,
    hollow at the horizon when never detected, with the power laws fitted over all runs.
    Returns the fit lines (for a title)."""
    lrs = sorted(g.lr.unique())
    cens = False
    for lr, colour in zip(lrs, P.palette(len(lrs))):
        h = g[g.lr == lr]
        ab, hz = (h.lr * h[beta]).to_numpy(float), h.steps.to_numpy(float)
        cens |= P.measured(ax, ab, times(h, "t2"), hz, colour, f"t2, lr={P.fmt(lr)}", "o")
        cens |= P.measured(ax, ab, times(h, "delta_t"), hz, colour, f"Δt, lr={P.fmt(lr)}", "s")
    ab = (g.lr * g[beta]).to_numpy(float)
    lines = []
    for name, style in (("t2", "k--"), ("delta_t", "k:")):
        y = times(g, name)
        try:
            fit = fit_power_law(ab, y)
        except ValueError as e:
            lines.append(f"{name}: no fit ({e})")
            continue
        xs = np.array([ab[np.isfinite(y)].min(), ab[np.isfinite(y)].max()])
        ax.plot(xs, fit["prefactor"] * xs ** fit["exponent"], style, lw=1.0,
                label=f"fit {name} ~ (αβ)^{fit['exponent']:.2f}")
        lines.append(f"{name} ~ (αβ)^k, k = {format_power_law(fit)}")
    ax.set(xscale="log", yscale="log", xlabel=f"αβ = lr · {beta}", ylabel="steps")
    ax.grid(True, alpha=0.3)
    P.legend(ax, cens)
    ax.set_title(title, fontsize=9)
    return "; ".join(lines)
