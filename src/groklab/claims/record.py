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


class Inconclusive(Exception):
    """Raised by a measurement when the evidence cannot decide the claim (says why)."""


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

    def __post_init__(self):
        if (self.figure is None) == (self.problem is None):
            raise ValueError(f"recipe {self.name!r}: give exactly one of figure or problem")
        if self.problem is not None and not self.quick:
            raise ValueError(f"recipe {self.name!r}: a grid recipe needs quick grids")

    def grids(self, full: bool) -> list[dict]:
        """The grids of a grid recipe at this scale (full falls back to quick when not given)."""
        return [dict(g) for g in (self.full if full and self.full else self.quick)]


def figure_recipe(name: str, cost_s: float | None = None) -> Recipe:
    return Recipe(name=name, figure=name, cost_s=cost_s)


def grid_recipe(name: str, problem: str, quick, full=(), detection=None,
                cost_s: float | None = None, draw: bool = True) -> Recipe:
    return Recipe(name=name, problem=problem, quick=tuple(quick), full=tuple(full),
                  detection=detection, cost_s=cost_s, draw=draw)


@dataclass(frozen=True)
class Claim:
    """One claim of the paper (or of a user's file).

    ``statement``: the claim in the paper's words (closely paraphrased); ``figures``: the paper's
    figure(s) it rests on; ``recipes``: the sweeps that produce the evidence; ``measure``: the
    numbers from those sweeps; ``rule``: a :class:`groklab.claims.rules.Rule` that reads them and
    carries its own text and tolerance; ``note``: what a reader should know (e.g. quick-scale
    caveats)."""

    id: str
    statement: str
    figures: tuple[str, ...]
    recipes: tuple[Recipe, ...]
    measure: Callable[[Mapping], dict]
    rule: object
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not self.id or "," in self.id or self.id.strip() != self.id:
            raise ValueError(f"claim id {self.id!r}: non-empty, no comma, no surrounding space")
        if not self.recipes:
            raise ValueError(f"claim {self.id!r} names no recipe")
        if not hasattr(self.rule, "decide") or not hasattr(self.rule, "text"):
            raise ValueError(f"claim {self.id!r}: rule must be a groklab.claims.rules.Rule")

    @property
    def picture(self) -> str:
        """The recipe whose figure illustrates the claim (the first one)."""
        return self.recipes[0].name


@dataclass
class Verdict:
    """What checking one claim gave: status, the measured numbers, and why."""

    claim: Claim
    status: str
    measured: dict
    reason: str
    seconds: float = 0.0
    picture: str | None = None  # path of the PNG that illustrates it, when one was drawn
