"""Nonlinear teacher-student and Sobolev figures of the paper
(docs/families/teacher-student.md#figures).

* fig10 -- l1 penalty, alpha in {1e-4, 1e-3, 5.5e-3}: train (dashed) / test (solid) MSE against
           the step (log x), one panel per alpha, one colour per beta, t2 (the detector's) dotted;
           last panel: Delta t = t2 - t1 against alpha*beta (a smaller alpha*beta, a longer delay).
* fig11 -- the same for Sobolev training (beta = strength of the input-Jacobian term): a larger
           alpha*beta, a faster generalization.
* fig31 / fig32 / fig33 -- l1 / l2 (unsquared Frobenius) / nuclear penalty over the whole
           alpha x beta grid: one MSE panel per alpha, then a summary row: Delta t and t2 against
           alpha*beta (slope -1 guide), best and final test MSE against beta, and the penalized
           norm against the step at one alpha.
* fig34 -- the Sobolev alpha x beta grid, same layout (norm row: the test Jacobian error).

``--full`` runs the paper's setting (d = 100, h = 500, c = 2, N = 100, 1000 test points, Adam,
full batch; 6 alphas x 7 betas 1e-7..1e-1; 1e6 steps, Sobolev 1e5; the authors' eighth beta is a
duplicate of 1e-1).  The quick scale keeps the paper's network and data but runs 1e4 steps with
the betas that grok inside that window (Delta t ~ 1/(alpha beta): the paper's smallest betas
need the full horizon), and fewer alphas; it says so in every title.  Scales are in ``SCALES``;
each ``_draw_*`` runs its (resumable) sweep and writes OUT/<name>.png.

t1 / t2 are the family's defaults (problems.teacher_student): train MSE <= 1e-3 x its value at
step 0, test MSE <= 3e-2 x its value at step 0; the authors' best-value t2 is in the runs table
(``t2_best``).
"""
from __future__ import annotations

import numpy as np

from ... import figures
from ... import plotting as P
from ...figures import Figure, scale_note
from .claims import CLAIMS  # noqa: F401 -- the claims `groklab check` judges (docs/claims.md)

TS = "teacher-student"
NAMES = {"l1": "ℓ1", "l2": "ℓ2 (‖W‖_F, unsquared)", "nuclear": "nuclear ‖W‖_*",
         "sobolev": "Sobolev ‖J − J*‖_F"}
NORM_OF = {"l1": ("l1_norm", "ℓ1 norm |W|₁ + |V|₁"), "l2": ("l2_norm", "ℓ2 norm ‖(W, V)‖"),
           "nuclear": ("nuclear_norm", "nuclear norm ‖W‖_* + ‖V‖_*"),
           "sobolev": ("test_jac_error", "test Jacobian error ‖J − J*‖/‖J*‖")}
PAPER_LRS = [1e-4, 5.5e-4, 1e-3, 5.5e-3, 1e-2, 5.5e-2]
PAPER_BETAS = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
FIG10_LRS = [1e-4, 1e-3, 5.5e-3]
#: the authors' setting (docs/families/teacher-student.md#figures); log-spaced logging, 20 points per decade
FULL_BASE = dict(input_dim=100, hidden=500, outputs=2, train_size=100, test_size=1000,
                 steps=1_000_000, log_every=20, log_dense_until=100, log_spacing="log")
FULL_SOBOLEV = dict(FULL_BASE, steps=100_000)
#: the same network and data, 1e4 steps
QUICK_BASE = dict(FULL_BASE, steps=10_000, log_every=20, log_dense_until=50)
QUICK_LRS = [1e-3, 5.5e-3, 1e-2]
QUICK_BETAS = {"l1": [1e-4, 1e-3, 1e-2, 1e-1], "l2": [1e-4, 1e-3, 1e-2, 1e-1],
               "nuclear": [1e-3, 3e-3, 1e-2], "sobolev": [1e-3, 1e-2, 1e-1]}
#: a Sobolev step costs ~4x an l1 step (three more GEMMs of the forward's size): 3 betas
#: a nuclear step costs ~4x an l1 step on the CPU (an SVD of every member's W per step)
QUICK_NUCLEAR = dict(QUICK_BASE, steps=6000)


def _sc(kind, lrs, betas, base):
    return dict(kind=kind, lr=lrs, betas=betas, base=base)


SCALES = {
    "fig10": {"quick": _sc("l1", FIG10_LRS, QUICK_BETAS["l1"], QUICK_BASE),
              "full": _sc("l1", FIG10_LRS, PAPER_BETAS, FULL_BASE)},
    "fig11": {"quick": _sc("sobolev", FIG10_LRS, QUICK_BETAS["sobolev"], QUICK_BASE),
              "full": _sc("sobolev", FIG10_LRS, PAPER_BETAS, FULL_SOBOLEV)},
    **{name: {"quick": _sc(kind, QUICK_LRS, QUICK_BETAS[kind],
                           QUICK_NUCLEAR if kind == "nuclear" else QUICK_BASE),
              "full": _sc(kind, PAPER_LRS, PAPER_BETAS, FULL_BASE)}
       for name, kind in (("fig31", "l1"), ("fig32", "l2"), ("fig33", "nuclear"))},
    "fig34": {"quick": _sc("sobolev", QUICK_LRS, QUICK_BETAS["sobolev"], QUICK_BASE),
              "full": _sc("sobolev", PAPER_LRS, PAPER_BETAS, FULL_SOBOLEV)},
}
KINDS = ("l1", "l2", "nuclear", "sobolev")


def _scale(name, full):
    return SCALES[name]["full" if full else "quick"]


def _grid(sc) -> dict:
    zero = {k: 0.0 for k in KINDS}
    return dict(sc["base"], lr=list(sc["lr"]), **{**zero, sc["kind"]: list(sc["betas"])})


def _note(name, full):
    q, f = SCALES[name]["quick"], SCALES[name]["full"]

    def txt(sc):
        b = sc["base"]
        return (f"d={b['input_dim']}, h={b['hidden']}, N={b['train_size']}, "
                f"{len(sc['lr'])} lr × {len(sc['betas'])} β, {P.fmt(b['steps'])} steps")
    return scale_note(full, txt(q) + ", betas that grok within it", "the paper's " + txt(f))


def _run(name, out, full, quiet, batch_size):
    sc = _scale(name, full)
    res = figures.run_grids([_grid(sc)], out, problem=TS, quiet=quiet, batch_size=batch_size)
    return sc, res


def _f(v) -> float:
    import pandas as pd
    return float("nan") if v is None or pd.isna(v) else float(v)


def _curves_panel(fig, ax, res, runs, kind, lr):
    g = runs[runs.lr == lr].sort_values(kind)
    betas = sorted(runs[kind].unique())
    cmap, norm, col = P.beta_colors(betas)
    for _, r in g.iterrows():
        c = P.positive_steps(res.curve(r.run_id))
        ax.plot(c.step, c.train_mse.clip(lower=P.FLOOR), color=col(r[kind]), **P.TRAIN_STYLE)
        ax.plot(c.step, c.test_mse.clip(lower=P.FLOOR), color=col(r[kind]), **P.TEST_STYLE)
        if np.isfinite(_f(r.t2)):
            ax.axvline(_f(r.t2), color=col(r[kind]), ls=":", lw=1.1)
    ax.axhline(float(runs.target_mse_zero.iloc[0]), color="0.6", lw=0.8, ls="-.")
    ax.plot([], [], "k", **P.TRAIN_STYLE, label="train MSE")
    ax.plot([], [], "k", **P.TEST_STYLE, label="test MSE")
    ax.plot([], [], "k:", lw=1.1, label="t2 (test ≤ 3e-2 × initial)")
    ax.plot([], [], color="0.6", lw=0.8, ls="-.", label="MSE of predicting 0")
    ax.set(xscale="log", yscale="log", xlabel="step t", ylabel="MSE (no penalty)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6.5, loc="lower left")
    ax.set_title(f"{NAMES[kind]}, lr α = {P.fmt(lr)}", fontsize=9)
    P.colorbar(fig, ax, cmap, norm, betas, f"β ({kind})")


def _times_vs_ab(ax, runs, kind, what=("delta_t",)):
    # a student that never memorizes (beta too large: it collapses towards 0) can get a plateau
    # t1 after its t2: no delay to draw on a log axis; said in the title instead
    dt_all = runs.delta_t.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    no_delay = np.isfinite(dt_all) & (dt_all <= 0)
    runs = runs[~no_delay]
    lrs = sorted(runs.lr.unique())
    cols = P.palette(len(lrs))
    censored = False
    names = {"delta_t": "Δt = t2 − t1", "t2": "t2"}
    for w, mk in zip(what, ("o", "s")):
        for lr, c in zip(lrs, cols):
            h = runs[runs.lr == lr].sort_values(kind)
            ab = (h.lr * h[kind]).to_numpy(float)
            t = h[w].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            lbl = P.label("lr", lr) if w == what[0] else None
            censored |= P.measured(ax, ab, t, h.steps.to_numpy(float), c, lbl, marker=mk)
    ab = (runs.lr * runs[kind]).to_numpy(float)
    dt = runs[what[0]].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(dt) & (dt > 0)
    if ok.sum() >= 2:
        c = float(np.exp(np.mean(np.log(dt[ok] * ab[ok]))))
        xs = np.array([ab[ok].min(), ab[ok].max()])
        ax.plot(xs, c / xs, "k--", lw=1.0, label=f"{c:.2g} / (αβ): slope −1 guide")
        fit = P.fit_delta_t(ab[ok], dt[ok])
        if fit is not None:
            ax.plot([], [], " ", label="fitted exponent " + P.fit_text(fit))
    ax.set(xscale="log", yscale="log", xlabel=f"αβ = lr · {kind}",
           ylabel=" / ".join(names[w] for w in what) + " (steps)")
    ax.grid(True, alpha=0.3)
    P.legend(ax, censored, "never detected: hollow, at the horizon", loc="best")
    mk = "" if len(what) == 1 else " (circles Δt, squares t2)"
    extra = f"\n{int(no_delay.sum())} run(s) with t2 ≤ t1 (no memorization phase) left out" \
        if no_delay.any() else ""
    ax.set_title(f"{NAMES[kind]}: grokking delay against αβ{mk}{extra}", fontsize=9)


def _mse_vs_beta(ax, runs, kind):
    lrs = sorted(runs.lr.unique())
    for lr, c in zip(lrs, P.palette(len(lrs))):
        h = runs[runs.lr == lr].sort_values(kind)
        ax.plot(h[kind], h.final_test_mse, "o-", color=c, ms=5, lw=1.3, label=P.label("lr", lr))
        ax.plot(h[kind], h.best_test_mse, "s", mfc="none", mec=c, ms=6)
        ax.plot(h[kind], h.final_train_mse.clip(lower=P.FLOOR), "x", color=c, ms=5)
    ax.axhline(float(runs.target_mse_zero.iloc[0]), color="0.6", lw=0.8, ls="-.",
               label="MSE of predicting 0")
    ax.plot([], [], "ks", mfc="none", label="best test MSE")
    ax.plot([], [], "kx", label="final train MSE")
    ax.set(xscale="log", yscale="log", xlabel=f"β ({kind})", ylabel="MSE")
    P.log_ticks(ax, runs[kind])
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6.5, loc="best")
    ax.set_title(f"{NAMES[kind]}: final test MSE (filled), best (hollow), final train (x)",
                 fontsize=9)


def _norm_panel(fig, ax, res, runs, kind, lr):
    col_name, lbl = NORM_OF[kind]
    g = runs[runs.lr == lr].sort_values(kind)
    betas = sorted(runs[kind].unique())
    cmap, norm, col = P.beta_colors(betas)
    for _, r in g.iterrows():
        c = P.positive_steps(res.curve(r.run_id))
        ax.plot(c.step, c[col_name], color=col(r[kind]), lw=1.5)
        if np.isfinite(_f(r.t2)):
            ax.axvline(_f(r.t2), color=col(r[kind]), ls=":", lw=1.1)
    ax.set(xscale="log", yscale="log", xlabel="step t", ylabel=lbl)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{lbl} at lr {P.fmt(lr)} (t2 dotted)", fontsize=9)
    P.colorbar(fig, ax, cmap, norm, betas, f"β ({kind})")


def _claim(kind):
    if kind == "sobolev":
        return "a larger αβ, a faster generalization"
    return "a smaller αβ, a longer delay"


def _draw_curves_fig(name, title, out, full, quiet, batch_size):
    """fig10 / fig11: one curve panel per lr, then Delta t against alpha*beta."""
    sc, res = _run(name, out, full, quiet, batch_size)
    runs, kind = res.runs, sc["kind"]
    lrs = sorted(runs.lr.unique())
    fig, axes = P.new_figure(1, len(lrs) + 1, 5.0, 3.8)
    for ax, lr in zip(axes[0], lrs):
        _curves_panel(fig, ax, res, runs, kind, lr)
    _times_vs_ab(axes[0, -1], runs, kind)
    fig.suptitle(f"{title} — {_claim(kind)}\n"
                 + P.fixed_text(runs, skip=("lr",) + KINDS) + "\n" + _note(name, full), fontsize=9)
    return P.save(fig, out / f"{name}.png")


def _draw_grid_fig(name, title, out, full, quiet, batch_size):
    """fig31-34: one curve panel per lr (3 per row), then a summary row."""
    sc, res = _run(name, out, full, quiet, batch_size)
    runs, kind = res.runs, sc["kind"]
    lrs = sorted(runs.lr.unique())
    ncurve = -(-len(lrs) // 3)
    fig, axes = P.new_figure(ncurve + 1, 3, 5.0, 3.7)
    for k, lr in enumerate(lrs):
        _curves_panel(fig, axes[k // 3, k % 3], res, runs, kind, lr)
    for ax in list(axes[:ncurve].flat)[len(lrs):]:
        ax.set_visible(False)
    last = axes[ncurve]
    _times_vs_ab(last[0], runs, kind, what=("delta_t", "t2"))
    _mse_vs_beta(last[1], runs, kind)
    _norm_panel(fig, last[2], res, runs, kind, lrs[len(lrs) // 2])
    fig.suptitle(f"{title} — {_claim(kind)}\n"
                 + P.fixed_text(runs, skip=("lr",) + KINDS) + "\n" + _note(name, full), fontsize=9)
    return P.save(fig, out / f"{name}.png")


def _curves(name, title):
    return lambda out, full=False, quiet=True, batch_size=None: _draw_curves_fig(
        name, title, out, full, quiet, batch_size)


def _grid_fig(name, title):
    return lambda out, full=False, quiet=True, batch_size=None: _draw_grid_fig(
        name, title, out, full, quiet, batch_size)


FIGURES = {
    "fig10": Figure("fig10", "teacher-student, l1: MSE curves for 3 lrs, Delta t vs lr*beta",
                    _curves("fig10", "Fig. 10 — two-layer ReLU student of a ReLU teacher, ℓ1 penalty")),
    "fig11": Figure("fig11", "teacher-student, Sobolev training: MSE curves for 3 lrs, "
                    "Delta t vs lr*beta",
                    _curves("fig11", "Fig. 11 — Sobolev training (input-Jacobian matching)")),
    "fig31": Figure("fig31", "teacher-student, l1: the lr x beta grid",
                    _grid_fig("fig31", "Fig. 31 — teacher-student, ℓ1 penalty, lr × β grid")),
    "fig32": Figure("fig32", "teacher-student, l2 (unsquared): the lr x beta grid",
                    _grid_fig("fig32", "Fig. 32 — teacher-student, ℓ2 penalty, lr × β grid")),
    "fig33": Figure("fig33", "teacher-student, nuclear norm: the lr x beta grid",
                    _grid_fig("fig33", "Fig. 33 — teacher-student, nuclear-norm penalty, lr × β grid")),
    "fig34": Figure("fig34", "teacher-student, Sobolev training: the lr x beta grid",
                    _grid_fig("fig34", "Fig. 34 — Sobolev training, lr × β grid")),
}
