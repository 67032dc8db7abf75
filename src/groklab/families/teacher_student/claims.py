"""The paper's nonlinear teacher-student claims that ``groklab check`` gives a verdict, with
penalties and with Sobolev training (figures 10, 11); exported as ``CLAIMS`` by the figures
module."""
from __future__ import annotations

import numpy as np

from ...claims import measures as M
from ...claims import rules as R
from ...claims.record import Claim, figure_recipe

FIG10 = figure_recipe("fig10", 94)
FIG11 = figure_recipe("fig11", 249)


def _ts_delay(name, penalty):
    def measure(ev):
        runs = M.done(M.evidence(ev, name).runs)
        g = runs[(runs[penalty] > 0) & np.isfinite(M.col(runs, "t1"))]
        ab = (g.lr * g[penalty]).to_numpy(float)
        fit = M.delay_fit(ab, M.col(g, "delta_t"), g.steps.to_numpy(float), M.col(g, "t1"))
        return dict(fit, spearman_ab_t2=M.spearman(ab, M.never_as_inf(M.col(g, "t2"))))
    return measure


CLAIMS = [
    Claim("ts.l1-ab-delay", "The nonlinear teacher-student groks with ℓ1, and a smaller αβ gives "
          "a longer delay.", ("10", "31"), (FIG10,), _ts_delay("fig10", "l1"),
          R.all_of(R.needs("n", 3), R.at_most("spearman_ab_t2", -0.5))),
    Claim("ts.l1-exponent", "The teacher-student delay follows the theory's Δt ∝ 1/(αβ) "
          "(fitted exponent −1).", ("10",), (FIG10,), _ts_delay("fig10", "l1"),
          R.all_of(R.needs("n", 3), R.contains("exponent_low", "exponent_high", -1.0, tol=0.05))),
    Claim("ts.sobolev", "Sobolev training (matching the teacher's input Jacobian) groks, and a "
          "larger αβ gives faster grokking.", ("11", "34"), (FIG11,),
          _ts_delay("fig11", "sobolev"),
          R.all_of(R.needs("n", 3), R.at_most("spearman_ab_t2", -0.5))),
]
