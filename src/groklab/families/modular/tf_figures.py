"""The modular transformer figure (docs/families/modular-transformer.md): ``groklab reproduce
transformer``.

A one-layer decoder-only transformer on "x1 x2 =" (``--architecture transformer``) with an l1
or a nuclear-norm penalty on every weight matrix, over an alpha (lr) x beta grid, next to the
same model without a penalty and with AdamW's weight decay (the published recipe).  Top row:
train (dashed) / test (solid) accuracy against the step, colour = beta, t1 (train accuracy 0.99)
a triangle, t2 (test accuracy 0.99) dotted -- l1, nuclear (at the grid's middle lr), and the
unpenalized / weight-decay runs of every lr.  Bottom row: t2 and Delta t against alpha * beta per
penalty with the least-squares power laws (groklab.theory_fit); the suptitle adds the
right-censored fit of Delta t (groklab.stats.fit_runs, docs/statistics.md), which keeps the runs
that had not generalized by the horizon.

The setting and the search that chose it are in docs/families/modular-transformer.md.  Quick:
one seed, the smaller grid; ``--full``: three seeds, a wider grid, a longer horizon.
"""
from __future__ import annotations

import numpy as np

from ... import figures
from ... import plotting as P
from ...figures import Figure, scale_note
from ...stats import fit_runs
from ..nets.netfigures import accuracy_panel, delay_panel

PROBLEM = "modular"
PENALTIES = ("l1", "l2", "nuclear")
NAMES = {"l1": "ℓ1", "nuclear": "nuclear ‖W‖_*"}
#: the setting of the search (docs/families/modular-transformer.md)
COMMON = dict(architecture="transformer", modulus=23, train_fraction=0.6, width=32, heads=4,
              mlp_width=128, layers=1, layer_norm="none", batch_size=0, optimizer="adamw",
              log_spacing="log", log_every=20, log_dense_until=10,
              l1=0.0, l2=0.0, nuclear=0.0, weight_decay=0.0)
SCALES = {
    "quick": dict(base=dict(COMMON, steps=10_000, seed=0), lrs=[3e-3, 1e-2], base_lrs=[1e-2],
                  l1=[1.5e-4, 2e-4], nuclear=[1e-3, 1.5e-3], weight_decay=1.0),
    "full": dict(base=dict(COMMON, steps=10_000, seed=0), lrs=[3e-3, 1e-2], base_lrs=[3e-3, 1e-2],
                 l1=[1e-4, 1.5e-4, 2e-4], nuclear=[1e-3, 1.5e-3, 2e-3], weight_decay=1.0),
}


def grids(full: bool) -> list[dict]:
    """The figure's sweep: the l1 and nuclear betas at every lr; no penalty and AdamW weight
    decay at the ``base_lrs``."""
    sc = SCALES["full" if full else "quick"]
    b, z = dict(sc["base"], lr=sc["lrs"]), dict(sc["base"], lr=sc["base_lrs"])
    return [z, dict(z, weight_decay=sc["weight_decay"]), dict(b, l1=sc["l1"]),
            dict(b, nuclear=sc["nuclear"])]


def _only(runs, kind):
    """Runs penalized by ``kind`` alone, without weight decay."""
    others = [k for k in PENALTIES if k != kind]
    sel = (runs[kind] > 0) & (runs[others] == 0).all(axis=1) & (runs.weight_decay == 0)
    return runs[sel].sort_values(kind)


def _unpenalized(runs):
    return runs[(runs[list(PENALTIES)] == 0).all(axis=1)]


def censored_text(runs, curves, kind: str) -> str:
    """The right-censored fit of Delta t against alpha * beta for the runs of ``kind``."""
    g = _only(runs, kind)
    if g.empty:
        return f"{kind}: no runs"
    _, _, cens, n_failed = fit_runs(g, curves, "delta_t")
    if isinstance(cens, ValueError):
        return f"{kind} Δt censored fit: not possible ({cens})"
    return (f"{kind}: Δt ~ (αβ)^k, k = {cens.exponent:.2f} [{cens.ci_low:.2f}, "
            f"{cens.ci_high:.2f}] (95%, censored fit: {cens.n} runs, {cens.n_censored} censored, "
            f"{n_failed} failed)")


def _baselines(ax, res, runs):
    base = _unpenalized(runs)
    lrs = sorted(base.lr.unique())
    for lr, colour in zip(lrs, P.palette(len(lrs))):
        for _, r in base[base.lr == lr].iterrows():
            c = P.positive_steps(res.curve(r.run_id))
            wd = float(r.weight_decay)
            ls = "-" if wd == 0 else "-."
            t2 = P.as_float(r.t2)
            ax.plot(c.step, c.test_accuracy, color=colour, ls=ls, lw=1.4,
                    label=f"test, lr={P.fmt(lr)}, " + ("no penalty" if wd == 0 else
                                                       f"AdamW wd {P.fmt(wd)}")
                    + (f", t2={P.fmt(int(t2))}" if np.isfinite(t2) else ", t2 never"))
            ax.plot(c.step, c.train_accuracy, color=colour, ls=":", lw=1.0)
    ax.axhline(1.0 / runs.modulus.iloc[0], color="0.7", lw=0.7, ls="-.")
    ax.plot([], [], "k:", lw=1.0, label="train")
    ax.set(xscale="log", xlabel="step t", ylabel="accuracy", ylim=(-0.02, 1.04))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6, loc="center left")
    ax.set_title("no penalty, and AdamW weight decay (the published recipe)", fontsize=9)


def _draw(out, full=False, quiet=True, batch_size=None):
    sc = SCALES["full" if full else "quick"]
    res = figures.run_grids(grids(full), out, problem=PROBLEM, quiet=quiet,
                            batch_size=batch_size)
    runs = res.runs
    lrs = sorted(sc["lrs"])
    lr_mid = lrs[len(lrs) // 2]
    fig, axes = P.new_figure(2, 3, 5.2, 3.8)
    fits = []
    for col, kind in enumerate(("l1", "nuclear")):
        g = _only(runs, kind)
        accuracy_panel(fig, axes[0][col], res, g[g.lr == lr_mid], kind,
                       f"{NAMES[kind]} penalty, α = lr = {P.fmt(lr_mid)}")
        fits.append(f"{kind} least squares: "
                    + delay_panel(axes[1][col], g, kind, f"{NAMES[kind]}: t2 and Δt against αβ"))
        fits.append(censored_text(runs, res.curves, kind))
    _baselines(axes[0][2], res, runs)
    axes[1][2].axis("off")
    axes[1][2].text(0.0, 0.95, "\n\n".join(_wrap(f) for f in fits), fontsize=7, va="top",
                    transform=axes[1][2].transAxes)
    fig.suptitle("Modular addition, one-layer transformer: memorize, then generalize under ℓ1 "
                 "or nuclear penalties; Δt against αβ\n"
                 + P.fixed_text(runs, skip=("lr", "seed", "weight_decay") + PENALTIES) + "\n"
                 + scale_note(full, _scale_text(SCALES["quick"]), _scale_text(SCALES["full"])),
                 fontsize=9)
    return P.save(fig, out / "transformer.png")


def _scale_text(sc: dict) -> str:
    b = sc["base"]
    seeds = b["seed"] if isinstance(b["seed"], list) else [b["seed"]]
    return (f"p={b['modulus']}, train {b['train_fraction']:.0%}, d={b['width']}, "
            f"{P.fmt(b['steps'])} steps, lr {', '.join(map(P.fmt, sc['lrs']))}, "
            f"{len(sc['l1'])} l1 and {len(sc['nuclear'])} nuclear betas, "
            f"seeds {', '.join(map(str, seeds))}")


def _wrap(text: str, width: int = 70) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])


FIGURES = {"transformer": Figure("transformer", "modular addition, one-layer transformer: l1 / "
                                 "nuclear alpha x beta grid, accuracy curves, t2 and delta t vs "
                                 "alpha*beta (naive and censored fits); no penalty / weight decay",
                                 _draw)}
