"""The claim record: one statement of the paper as data -- what it says, which figure shows it,
which sweep produces the evidence, what is measured from that sweep and the rule that turns the
measured numbers into a verdict.

A :class:`Recipe` names the evidence.  Either a paper figure (``groklab reproduce NAME``: its quick
or full grid, drawn as usual, its PNG becomes the claim's picture) or a grid of its own (a problem
and grid dicts as for :func:`groklab.sweep.expand_grid`, one list for quick mode and one for
``--full``).  Every recipe runs into ``DIR/<recipe name>`` through the normal results store, so a
rerun resumes, and two claims that name the same recipe share one sweep.

A measurement is a plain function ``measure(evidence) -> dict`` where ``evidence[name]`` is the
:class:`groklab.store.Results` of the recipe ``name``; the dict holds numbers (floats, ints,
strings, None).  The rule (:mod:`groklab.claims.rules`) reads that dict.  Measurements raise
:class:`Inconclusive` when the evidence cannot say (e.g. a run the claim needs is missing).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
STATUSES = (PASS, FAIL, INCONCLUSIVE)
#: whose claim it is: the paper's (stated where and how in the paper), groklab's own question
#: (an extension, never counted as the paper's), or a user's (``--claims-file``)
PAPER, EXTENSION, USER = "paper", "extension", "user"
SOURCES = (PAPER, EXTENSION, USER)
#: a paper claim's setting at one scale: the paper's hyperparameters for that figure (a smaller
#: scale -- fewer grid points, fewer seeds, a shorter horizon -- is still faithful), or other
#: hyperparameters standing in for them (labelled, and not counted among the paper's verdicts)
FAITHFUL, STAND_IN, OWN = "faithful", "stand-in", "own"
#: why a verdict is inconclusive: the data cannot decide.  ``horizon``: the runs the rule reads
#: were still moving when the sweep stopped; ``too-few``: too few runs detected (or too few
#: points for a fit, or a fit too imprecise to decide); ``missing``: evidence absent (a recipe
#: failed, a run or column is missing, a measurement raised)
HORIZON, TOO_FEW, MISSING = "horizon", "too-few", "missing"
WHY_INCONCLUSIVE = (HORIZON, TOO_FEW, MISSING)


class Inconclusive(Exception):
    """Raised by a measurement when the evidence cannot decide the claim (says why).  ``kind``:
    one of WHY_INCONCLUSIVE -- never the way to report a negative result (that is a fail)."""

    def __init__(self, why: str, kind: str = MISSING):
        if kind not in WHY_INCONCLUSIVE:
            raise ValueError(f"Inconclusive kind {kind!r}: one of {WHY_INCONCLUSIVE}")
        super().__init__(why)
        self.kind = kind


@dataclass(frozen=True)
class Recipe:
    """The sweep behind a claim.  ``figure``: a figure name of ``groklab reproduce list`` (the
    recipe's name is then the figure's).  Otherwise ``problem`` and ``quick`` / ``full`` grids."""

    name: str
    figure: str | None = None
    problem: str | None = None
    quick: tuple[Mapping, ...] = ()
    full: tuple[Mapping, ...] = ()
    #: t1 / t2 detection for a grid recipe (None: the family's default)
    detection: object | None = None
    #: wall time of the quick recipe from an empty directory, measured on 2 cores (seconds)
    cost_s: float | None = None
    #: draw a grid recipe's picture (``groklab plot``'s) for the HTML report
    draw: bool = True
    #: what differs from the paper's hyperparameters for this figure at each scale, in words
    #: ("" = the paper's setting: fewer grid points or seeds and a shorter horizon are a smaller
    #: scale, not a stand-in).  Read only for claims whose source is the paper.
    stand_in_quick: str = ""
    stand_in_full: str = ""

    def __post_init__(self):
        if (self.figure is None) == (self.problem is None):
            raise ValueError(f"recipe {self.name!r}: give exactly one of figure or problem")
        if self.problem is not None and not self.quick:
            raise ValueError(f"recipe {self.name!r}: a grid recipe needs quick grids")

    def stand_in(self, full: bool) -> str:
        return self.stand_in_full if full else self.stand_in_quick

    def grids(self, full: bool) -> list[dict]:
        """The grids of a grid recipe at this scale (full falls back to quick when not given)."""
        return [dict(g) for g in (self.full if full and self.full else self.quick)]


def figure_recipe(name: str, cost_s: float | None = None, stand_in_quick: str = "",
                  stand_in_full: str = "") -> Recipe:
    return Recipe(name=name, figure=name, cost_s=cost_s, stand_in_quick=stand_in_quick,
                  stand_in_full=stand_in_full)


def grid_recipe(name: str, problem: str, quick, full=(), detection=None,
                cost_s: float | None = None, draw: bool = True, stand_in_quick: str = "",
                stand_in_full: str = "") -> Recipe:
    return Recipe(name=name, problem=problem, quick=tuple(quick), full=tuple(full),
                  detection=detection, cost_s=cost_s, draw=draw, stand_in_quick=stand_in_quick,
                  stand_in_full=stand_in_full)


@dataclass(frozen=True)
class Claim:
    """One claim: the paper's (``source=PAPER``), groklab's own question (``EXTENSION``), or a
    user's (``USER``, the default for ``--claims-file``).

    ``paper_says``: for a paper claim, what the paper claims, stated faithfully in our words with
    its exact scope ("the final error is O(alpha beta)", not "proportional to beta"); ``where``:
    where it says it (figure, section, theorem); ``section``: the part of the paper it belongs to
    (the report groups the paper's claims by it).  ``why``: for an extension, why groklab asks.
    ``statement``: what groklab tests (the measurable form of the claim); ``figures``: the
    paper's figure(s) it rests on; ``recipes``: the sweeps that produce the evidence;
    ``measure``: the numbers from those sweeps; ``rule``: a
    :class:`groklab.claims.rules.Rule` that reads them and carries its own text and tolerance;
    ``note``: what a reader should know (e.g. why a quick setting is a stand-in)."""

    id: str
    statement: str
    figures: tuple[str, ...]
    recipes: tuple[Recipe, ...]
    measure: Callable[[Mapping], dict]
    rule: object
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    source: str = USER
    section: str = ""
    where: str = ""
    paper_says: str = ""
    why: str = ""

    def __post_init__(self):
        if not self.id or "," in self.id or self.id.strip() != self.id:
            raise ValueError(f"claim id {self.id!r}: non-empty, no comma, no surrounding space")
        if not self.recipes:
            raise ValueError(f"claim {self.id!r} names no recipe")
        if not hasattr(self.rule, "decide") or not hasattr(self.rule, "text"):
            raise ValueError(f"claim {self.id!r}: rule must be a groklab.claims.rules.Rule")
        if self.source not in SOURCES:
            raise ValueError(f"claim {self.id!r}: source {self.source!r}, one of {SOURCES}")
        if self.source == PAPER and not (self.where and self.paper_says and self.section):
            raise ValueError(f"claim {self.id!r}: a paper claim says where (section, where) "
                             "and what the paper says (paper_says)")
        if self.source == EXTENSION and not self.why:
            raise ValueError(f"claim {self.id!r}: an extension says why groklab asks (why)")

    @property
    def picture(self) -> str:
        """The recipe whose figure illustrates the claim (the first one)."""
        return self.recipes[0].name

    def setting(self, full: bool) -> tuple[str, str]:
        """(FAITHFUL | STAND_IN | OWN, what differs from the paper) at this scale: a paper claim
        is faithful only when every recipe it reads runs the paper's hyperparameters."""
        if self.source != PAPER:
            return OWN, ""
        diffs = [f"{r.name}: {r.stand_in(full)}" for r in self.recipes if r.stand_in(full)]
        return (STAND_IN, "; ".join(diffs)) if diffs else (FAITHFUL, "")


@dataclass
class Verdict:
    """What checking one claim gave: status, the measured numbers, and why."""

    claim: Claim
    status: str
    measured: dict
    reason: str
    seconds: float = 0.0
    picture: str | None = None  # path of the PNG that illustrates it, when one was drawn
    #: for an inconclusive verdict, why (one of WHY_INCONCLUSIVE); "" otherwise
    why_inconclusive: str = ""
