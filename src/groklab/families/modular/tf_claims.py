"""The modular transformer claims: groklab's extensions (the paper has no transformer), read
from ``groklab reproduce transformer`` (docs/families/modular-transformer.md)."""
from __future__ import annotations

import numpy as np

from ...claims import measures as M
from ...claims import rules as R
from ...claims.record import EXTENSION, TOO_FEW, Claim, Inconclusive, figure_recipe
from .claimkit import QUIET_ACCURACY, groks_measure, groks_rule, unpenalized

#: the quick transformer figure (one seed, p = 23; docs/families/modular-transformer.md)
TRANSFORMER = figure_recipe("transformer", 297)  # s, one core, nearly idle


def _with_control(name):
    """The penalized runs' grokking numbers and whether the unpenalized runs (no weight
    decay) ever exceeded test accuracy 0.2."""
    groks = groks_measure(TRANSFORMER.name, name)

    def measure(ev):
        out = groks(ev)
        none = unpenalized(M.done(M.evidence(ev, TRANSFORMER.name).runs))
        if none.empty:
            raise Inconclusive("no transformer run without a penalty", kind=TOO_FEW)
        out["no_penalty_best_test_accuracy"] = float(np.max(M.col(none, "best_test_accuracy")))
        return out
    return measure


def _rule():
    return R.all_of(groks_rule(), R.at_most("no_penalty_best_test_accuracy", QUIET_ACCURACY,
                                            null=1.0))


_WHY = ("The paper has no transformer; the field's standard grokking model is one, so groklab "
        "asks whether the paper's mechanism (a small ℓ1 / nuclear penalty, no weight decay) "
        "makes it grok as it makes the MLP grok.  Setting: p = 23, 60 % train, d = 32, one "
        "layer, AdamW without decay, full batch, one seed (quick)")
_SAYS = ("memorizes while its test accuracy is still <= 0.2, reaches test accuracy 0.99 at "
         "t2 >= 10·t1, and the same transformer without a penalty never exceeds test accuracy "
         "0.2 (a run that learns while it memorizes does not grok, whatever the horizon).")
CLAIMS = [
    Claim("modular.transformer-l1-groks", "Under an ℓ1 penalty the one-layer transformer "
          + _SAYS, (), (TRANSFORMER,), _with_control("l1"), _rule(), source=EXTENSION,
          why=_WHY + "."),
    Claim("modular.transformer-nuclear-groks", "Under a nuclear-norm penalty the one-layer "
          "transformer " + _SAYS, (), (TRANSFORMER,), _with_control("nuclear"), _rule(),
          source=EXTENSION, why=_WHY + "."),
]
