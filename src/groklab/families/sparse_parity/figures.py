"""Sparse-parity figure (docs/families/sparse-parity.md): ``groklab reproduce sparse-parity``.

Top row, under an l1 penalty (one colour per beta, the unpenalized run grey): train (dashed) /
test (solid) accuracy with t1 (triangle) and t2 (dotted); the relevant mass -- the fraction of
the first layer's l1 mass on the k relevant inputs (k/n at init); t2 and Delta t against
alpha * beta with the fitted exponents.  Bottom row: the same accuracy curves under l2 and
nuclear penalties, and the final test accuracy of every run against its beta.

Quick scale: n = 20, k = 3, 500 train examples, width 128, AdamW lr 1e-3, full batch, 3000
steps (about two minutes on one core); ``--full``: n = 40, k = 3, 1000 examples, width 1000, as
the finite-data sparse-parity experiments of the literature, 20 000 steps.
"""
from __future__ import annotations


from ... import figures
from ... import plotting as P
from ...figures import Figure, scale_note
from ..nets.netfigures import accuracy_panel, column_panel, delay_panel

PROBLEM = "sparse-parity"
PENALTIES = ("l1", "l2", "nuclear")
COMMON = dict(relevant_bits=3, optimizer="adamw", lr=1e-3, batch_size=0, log_spacing="log",
              log_every=20, log_dense_until=10, l1=0.0, l2=0.0, nuclear=0.0)
SCALES = {
    "quick": dict(base=dict(COMMON, bits=20, n_train=500, n_test=1000, width=128, steps=3000),
                  betas={"l1": [3e-5, 1e-4, 3e-4, 1e-3], "l2": [1e-3, 1e-2],
                         "nuclear": [1e-3, 1e-2]}),
    "full": dict(base=dict(COMMON, bits=40, n_train=1000, n_test=2000, width=1000,
                           steps=20_000),
                 betas={"l1": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3], "l2": [1e-3, 3e-3, 1e-2],
                        "nuclear": [1e-3, 3e-3, 1e-2]}),
}


def grids(full: bool) -> list[dict]:
    sc = SCALES["full" if full else "quick"]
    return [dict(sc["base"])] + [dict(sc["base"], **{k: list(v)}) for k, v in sc["betas"].items()]


def _only(runs, kind):
    others = [k for k in PENALTIES if k != kind]
    return runs[(runs[kind] > 0) & (runs[others] == 0).all(axis=1)].sort_values(kind)


def _draw(out, full=False, quiet=True, batch_size=None):
    res = figures.run_grids(grids(full), out, problem=PROBLEM, quiet=quiet,
                            batch_size=batch_size)
    runs = res.runs
    zero = runs[(runs[list(PENALTIES)] == 0).all(axis=1)]
    base = zero.iloc[0] if len(zero) else None
    fig, axes = P.new_figure(2, 3, 5.0, 3.7)
    l1 = _only(runs, "l1")
    accuracy_panel(fig, axes[0][0], res, l1, "l1", "ℓ1 penalty: memorize (t1), then generalize "
                   "(t2)", base)
    column_panel(fig, axes[0][1], res, l1, "l1", "relevant_mass", "fraction of |W1| on the k "
                 "relevant inputs", "the first layer concentrates on the hidden bits", base)
    chance = float(runs.relevant_bits.iloc[0]) / float(runs.bits.iloc[0])
    axes[0][1].axhline(chance, color="0.7", ls="-.", lw=0.8)
    fit = delay_panel(axes[0][2], l1, "l1", "ℓ1: t2 and Δt against αβ")
    for ax, kind in zip(axes[1][:2], ("l2", "nuclear")):
        accuracy_panel(fig, ax, res, _only(runs, kind), kind, f"{kind} penalty", base)
    ax = axes[1][2]
    for kind, colour in zip(PENALTIES, ("C0", "C1", "C2")):
        g = _only(runs, kind)
        ax.plot(g[kind], g.final_test_accuracy, "o-", color=colour, label=kind)
    if base is not None:
        ax.axhline(float(base.final_test_accuracy), color="0.6", lw=1.2, label="no penalty")
    ax.set(xscale="log", xlabel="β", ylabel="final test accuracy", ylim=(0.4, 1.04))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("final test accuracy against the penalty strength", fontsize=9)
    sc = SCALES["full" if full else "quick"]["base"]
    txt = (f"n={sc['bits']}, k=3, {sc['n_train']} train, width {sc['width']}, "
           f"{P.fmt(sc['steps'])} steps")
    fig.suptitle(f"(n, k)-sparse parity with an MLP: penalties make it grok\n{fit}\n"
                 + P.fixed_text(runs, skip=PENALTIES) + "\n"
                 + scale_note(full, txt, "n=40, k=3, 1000 train, width 1000, 20k steps"),
                 fontsize=9)
    return P.save(fig, out / "sparse-parity.png")


FIGURES = {"sparse-parity": Figure("sparse-parity", "sparse parity MLP: grokking under l1 / l2 "
                                   "/ nuclear, the first layer's mass on the relevant bits, "
                                   "t2 and delta t vs alpha*beta", _draw)}
