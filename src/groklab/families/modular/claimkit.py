"""What the modular claims share (:mod:`.claims`, the MLP's; :mod:`.tf_claims`, the
transformer's): which runs a claim reads, and "it groks" as a measurement and a rule."""
from __future__ import annotations

from ...claims import measures as M
from ...claims import rules as R
from ...claims.record import TOO_FEW, Inconclusive
from ..nets.verdicts import grokking, value_at_t1
from .paper import PENALTIES

#: "memorized without generalizing": test accuracy at t1 at most this (chance is 1/97)
QUIET_ACCURACY = 0.2
#: "generalization comes much later": t2 >= this x t1 (as groklab.claims.rules.groks)
RATIO = 10.0
#: a norm "rises" / "falls": a relative change of at least this (the l2 norm wanders by 1-2 %
#: over flat stretches, docs/families/modular.md)
RISE = 0.05
FALL = -0.3
#: the rank-correlation bound of "a smaller alpha beta, a longer delay"
RHO = -0.5
#: the curves whose fall at the horizon marks a run as still moving (the test accuracy of a
#: grokking MLP sits near chance until the jump; its test loss falls before it does)
MOVING = ("test_error", "test_loss")
SECTION = "§2.1 Modular arithmetic (MLP)"


def only(runs, name):
    """Runs penalized by ``name`` alone (the others 0, no weight decay)."""
    sel = runs[name] > 0
    for other in PENALTIES:
        if other != name and other in runs.columns:
            sel &= runs[other] == 0
    if "weight_decay" in runs.columns:
        sel &= runs.weight_decay == 0
    return runs[sel]


def unpenalized(runs):
    sel = (runs[list(PENALTIES)] == 0).all(axis=1)
    if "weight_decay" in runs.columns:
        sel &= runs.weight_decay == 0
    return runs[sel]


def quiet_at_t1(res, row) -> bool:
    """Memorized while the test accuracy is still low (<= QUIET_ACCURACY at t1)."""
    return value_at_t1(res, row, "test_accuracy") <= QUIET_ACCURACY


def groks_measure(recipe: str, name: str):
    """The numbers of "it groks with ``name``" over that penalty's runs of ``recipe``
    (:func:`groklab.families.nets.verdicts.grokking`)."""
    def measure(ev):
        res = M.evidence(ev, recipe)
        g = only(M.done(res.runs), name)
        if g.empty:
            raise Inconclusive(f"no run with {name} alone", kind=TOO_FEW)
        return grokking(res, g, ratio=RATIO, quiet=quiet_at_t1, moving_columns=MOVING)
    return measure


def groks_rule() -> R.Rule:
    """A run memorized with test accuracy <= 0.2 at t1, and one such run reached test accuracy
    0.99 at t2 >= 10 t1; while quiet runs still move at the horizon and none has, inconclusive."""
    return R.all_of(R.at_least("n_quiet", 1, null=0),
                    R.settled(R.at_least("max_t2_over_t1", RATIO, null=1.0), "n_moving"))
