"""MNIST figure 35 of the paper (docs/families/mnist.md): ``groklab reproduce fig35``.

A two-layer ReLU MLP y = B relu(A x) on N = 1000 MNIST images with an l1 penalty on A and B,
over an alpha (lr) x beta grid, from a large initialization (every initial weight x 8, the lever
that makes MNIST memorize first).  Top row, one panel per alpha: train (dashed) / test (solid)
accuracy against the step, colour = beta, t1 (train accuracy 0.99) as a triangle, t2 (test
accuracy 0.85) dotted, the unpenalized run grey.  Bottom row: t2 and Delta t against
alpha * beta with the fitted exponents; the l1 norm of (A, B) against the step (smallest
alpha); the l2 and nuclear variants' accuracy curves (smallest alpha).

The paper gives no hyperparameters for this figure; the setting and the search that chose it
are in docs/families/mnist.md.  Quick scale: 1000 of the test images for the curves, 8000
steps, one l2 and one nuclear beta (the nuclear run's SVDs of A every step cost most); ``--full``: all 4000 remaining images, a wider beta grid, 20 000 steps.
"""
from __future__ import annotations

from ... import figures
from ... import plotting as P
from ...figures import Figure, scale_note
from ..nets.netfigures import accuracy_panel, column_panel, delay_panel

PROBLEM = "mnist"
PENALTIES = ("l1", "l2", "nuclear")
COMMON = dict(n_train=1000, width=200, init_scale=8.0, optimizer="adamw", loss="mse",
              batch_size=200, log_spacing="log", log_every=10, log_dense_until=10,
              l1=0.0, l2=0.0, nuclear=0.0)
SCALES = {
    "quick": dict(base=dict(COMMON, n_test=1000, steps=8000), lrs=[1e-3, 3e-3],
                  l1=[3e-4, 1e-3, 3e-3], l2=[0.1], nuclear=[3e-2]),
    "full": dict(base=dict(COMMON, n_test=0, steps=20_000), lrs=[5e-4, 1e-3, 3e-3],
                 l1=[1e-4, 3e-4, 1e-3, 3e-3], l2=[0.03, 0.1, 0.2],
                 nuclear=[1e-2, 3e-2, 0.1]),
}


def grids(full: bool) -> list[dict]:
    sc = SCALES["full" if full else "quick"]
    lr0 = min(sc["lrs"])
    return [dict(sc["base"], lr=sc["lrs"]), dict(sc["base"], lr=sc["lrs"], l1=sc["l1"]),
            dict(sc["base"], lr=lr0, l2=sc["l2"]), dict(sc["base"], lr=lr0, nuclear=sc["nuclear"])]


def _only(runs, kind):
    others = [k for k in PENALTIES if k != kind]
    return runs[(runs[kind] > 0) & (runs[others] == 0).all(axis=1)].sort_values(kind)


def _base(runs, lr):
    z = runs[(runs[list(PENALTIES)] == 0).all(axis=1) & (runs.lr == lr)]
    return z.iloc[0] if len(z) else None


def _draw(out, full=False, quiet=True, batch_size=None):
    sc = SCALES["full" if full else "quick"]
    res = figures.run_grids(grids(full), out, problem=PROBLEM, quiet=quiet,
                            batch_size=batch_size)
    runs = res.runs
    lrs = sorted(sc["lrs"])
    ncol = max(len(lrs), 3)
    fig, axes = P.new_figure(2, ncol, 5.0, 3.7)
    l1 = _only(runs, "l1")
    for ax, lr in zip(axes[0], lrs):
        accuracy_panel(fig, ax, res, l1[l1.lr == lr], "l1", f"ℓ1 on A and B, α = lr = {P.fmt(lr)}",
                       _base(runs, lr), t2_text="test acc. 0.85")
    for ax in axes[0][len(lrs):]:
        ax.axis("off")
    fit = delay_panel(axes[1][0], l1, "l1", "ℓ1: t2 and Δt against αβ")
    lr0 = lrs[0]
    column_panel(fig, axes[1][1], res, l1[l1.lr == lr0], "l1", "l1_norm", "‖A‖₁ + ‖B‖₁",
                 f"weight norm under ℓ1 (α = {P.fmt(lr0)})", _base(runs, lr0), log_y=True)
    ax = axes[1][2]
    for kind, colour in (("l2", "C1"), ("nuclear", "C2")):
        g = _only(runs, kind)
        for _, r in g.iterrows():
            c = P.positive_steps(res.curve(r.run_id))
            ax.plot(c.step, c.test_accuracy, color=colour,
                    lw=1.0 + 1.5 * (r[kind] == g[kind].max()),
                    label=f"{kind} β={P.fmt(r[kind])}")
    b = _base(runs, lr0)
    if b is not None:
        c = P.positive_steps(res.curve(b.run_id))
        ax.plot(c.step, c.test_accuracy, color="0.6", lw=1.2, label="no penalty")
    ax.set(xscale="log", xlabel="step t", ylabel="test accuracy", ylim=(-0.02, 1.02))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"ℓ2 (‖W‖_F) and nuclear variants: test accuracy (α = {P.fmt(lr0)})", fontsize=9)
    for ax in axes[1][3:]:
        ax.axis("off")
    base = sc["base"]
    txt = f"{base['n_test'] or 4000} test images, {P.fmt(base['steps'])} steps"
    fig.suptitle("Fig. 35 — MNIST, N = 1000, y = B relu(A x) from a large init (x8): memorize, "
                 "then generalize under ℓ1\n" + fit + "\n" + P.fixed_text(runs, skip=("lr",) + PENALTIES)
                 + "\n" + scale_note(full, txt, "4000 test images, 20k steps, a wider grid"),
                 fontsize=9)
    return P.save(fig, out / "fig35.png")


FIGURES = {"fig35": Figure("fig35", "MNIST (N = 1000), two-layer ReLU MLP from a large init: "
                           "l1 alpha x beta grid, t2 and delta t vs alpha*beta, weight norms; "
                           "l2 / nuclear variants", _draw)}
