"""Pass rules: small composable tests on a claim's measured numbers.

A :class:`Rule` has a ``text`` (printed in the report: the rule *and* its tolerance, in words) and
``decide(measured) -> (status, reason)``; ``decide_why`` also says why an inconclusive verdict is
one (:data:`groklab.claims.record.WHY_INCONCLUSIVE`).  A number that is missing, None or NaN
makes a rule *inconclusive* (the evidence did not say), never a pass.  :func:`needs` is a guard:
when it is inconclusive (too few runs detected, say) the whole :func:`all_of` is inconclusive,
whatever the other parts say -- a fit on two points is no evidence either way.  Otherwise any
failing part fails the claim, and the claim passes only when every part passes.
:func:`settled` makes a verdict that a longer horizon could still change inconclusive (horizon).

Every rule carries examples built with it: ``passing`` (a measured dict it passes), ``failing``
(the opposite result, one per part) and ``null`` (no effect at all: a rank correlation of 0, an
exponent of 0, a ratio of 1).  ``tests/test_claims.py`` feeds every registered rule its examples:
a rule that cannot fail, or that lets a null result pass, is a defect.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from .record import FAIL, HORIZON, INCONCLUSIVE, MISSING, PASS, TOO_FEW


@dataclass(frozen=True)
class Rule:
    """``check(measured)`` returns (status, reason) or (status, reason, why_inconclusive).
    ``passing`` / ``failing`` / ``null``: measured dicts this rule passes / fails / fails (see
    the module docstring), so a test can show that every registered rule can both pass and
    fail."""

    text: str
    check: Callable[[dict], tuple]
    guard: bool = False
    passing: dict = field(default_factory=dict)
    failing: tuple = ()
    null: tuple = ()

    def decide_why(self, measured: dict) -> tuple[str, str, str]:
        """(status, reason, why inconclusive: "" unless the status is inconclusive)."""
        out = self.check(measured)
        status, reason = out[0], out[1]
        why = (out[2] if len(out) > 2 else MISSING) if status == INCONCLUSIVE else ""
        return status, reason, why

    def decide(self, measured: dict) -> tuple[str, str]:
        return self.decide_why(measured)[:2]


def _num(measured: dict, key: str):
    """The number under ``key``, or None when missing / None / NaN / not a number."""
    v = measured.get(key)
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _g(x: float) -> str:
    return f"{x:.3g}"


def _compare(key: str, ok: Callable[[float], bool], text: str, good: float,
             bad: tuple, null=None) -> Rule:
    def check(m):
        v = _num(m, key)
        if v is None:
            return INCONCLUSIVE, f"{key} not measured", MISSING
        return (PASS if ok(v) else FAIL), f"{key} = {_g(v)} ({'' if ok(v) else 'not '}{text})"
    nulls = () if null is None else tuple({key: v} for v in (null if isinstance(null, tuple)
                                                             else (null,)))
    return Rule(f"{key} {text}", check, passing={key: good},
                failing=tuple({key: b} for b in bad), null=nulls)


def _off(x: float) -> float:
    return abs(x) * 0.5 + 1.0  # a step clearly past a bound, whatever its scale


def at_least(key: str, bound: float, null=None) -> Rule:
    """value >= bound.  ``null``: the value (or tuple of values) meaning "no effect", which must
    fail (see the module docstring)."""
    return _compare(key, lambda v: v >= bound, f">= {_g(bound)}", bound, (bound - _off(bound),),
                    null)


def at_most(key: str, bound: float, null=None) -> Rule:
    return _compare(key, lambda v: v <= bound, f"<= {_g(bound)}", bound, (bound + _off(bound),),
                    null)


def between(key: str, lo: float, hi: float, null=None) -> Rule:
    return _compare(key, lambda v: lo <= v <= hi, f"in [{_g(lo)}, {_g(hi)}]", (lo + hi) / 2,
                    (lo - _off(lo), hi + _off(hi)), null)


def within_factor(key: str, target: float, factor: float, null=None) -> Rule:
    """target / factor <= value <= target * factor (a positive ratio's tolerance)."""
    if factor < 1:
        raise ValueError("factor must be >= 1")
    return _compare(key, lambda v: target / factor <= v <= target * factor,
                    f"within a factor {_g(factor)} of {_g(target)}", target,
                    (target / factor / 2, target * factor * 2), null)


def contains(lo_key: str, hi_key: str, value: float, tol: float = 0.0,
             max_halfwidth: float | None = None, null: tuple | None = None) -> Rule:
    """The interval [measured lo - tol, measured hi + tol] contains ``value``.  With
    ``max_halfwidth``: an interval that contains ``value`` but is wider than that on each side
    cannot tell ``value`` from its neighbours -- inconclusive (too imprecise), not a pass; one
    that misses ``value`` fails however wide.  ``null``: the (lo, hi) of "no effect" (e.g. an
    exponent interval around 0), which must fail."""
    def check(m):
        lo, hi = _num(m, lo_key), _num(m, hi_key)
        if lo is None or hi is None:
            return INCONCLUSIVE, f"interval {lo_key}..{hi_key} not measured", TOO_FEW
        ok = lo - tol <= value <= hi + tol
        why = (f"[{_g(lo)}, {_g(hi)}] {'contains' if ok else 'misses'} {_g(value)}"
               + (f" (± {_g(tol)})" if tol else ""))
        if ok and max_halfwidth is not None and (hi - lo) / 2 > max_halfwidth:
            return (INCONCLUSIVE, f"{why}, but its half-width {_g((hi - lo) / 2)} > "
                    f"{_g(max_halfwidth)}: too imprecise to decide", TOO_FEW)
        return (PASS if ok else FAIL), why
    extra = f" widened by {_g(tol)} on each side" if tol else ""
    cap = f", half-width <= {_g(max_halfwidth)} (else inconclusive)" if max_halfwidth else ""
    d = tol + _off(value)
    h = 0.1 if max_halfwidth is None else min(0.1, max_halfwidth / 2)
    nulls = () if null is None else ({lo_key: null[0], hi_key: null[1]},)
    return Rule(f"[{lo_key}, {hi_key}]{extra} contains {_g(value)}{cap}", check,
                passing={lo_key: value - h, hi_key: value + h},
                failing=({lo_key: value + d, hi_key: value + 2 * d},
                         {lo_key: value - 2 * d, hi_key: value - d}), null=nulls)


def needs(key: str, n: int, kind: str = TOO_FEW) -> Rule:
    """Guard: at least ``n`` (e.g. runs detected, points for a fit); fewer makes the claim
    inconclusive -- for want of data only: never guard the claim's own outcome with it (when "no
    run groks" is the finding, that is a fail)."""
    def check(m):
        v = _num(m, key)
        if v is None or v < n:
            return INCONCLUSIVE, f"{key} = {'?' if v is None else int(v)} < {n} needed", kind
        return PASS, f"{key} = {int(v)}"
    # a guard cannot fail, only withhold the verdict: its 'failing' case is the rule's others'
    return Rule(f"{key} >= {n} (else inconclusive)", check, guard=True, passing={key: n})


def settled(rule: Rule, moving_key: str, open_to: tuple = (FAIL,)) -> Rule:
    """``rule``, except that while ``measured[moving_key]`` > 0 (runs the rule reads were still
    moving at the horizon: their error still falling, say) a verdict in ``open_to`` -- one a
    longer horizon could still turn -- is inconclusive (horizon) instead.  A verdict outside
    ``open_to`` stands: the rule is decided either way."""
    def check(m):
        status, why, kind = rule.decide_why(m)
        moving = _num(m, moving_key)
        if moving is None:
            return INCONCLUSIVE, f"{moving_key} not measured; {why}", MISSING
        if moving > 0 and status in open_to:
            return (INCONCLUSIVE, f"{int(moving)} run(s) still moving at the horizon, so "
                    f"'{status}' is not final: {why}", HORIZON)
        return (status, why, kind) if status == INCONCLUSIVE else (status, why)
    settled_case = {moving_key: 0}
    return Rule(f"{rule.text} (while {moving_key} > 0: a {'/'.join(open_to)} is inconclusive)",
                check, guard=rule.guard, passing=dict(rule.passing, **settled_case),
                failing=tuple(dict(f, **settled_case) for f in rule.failing),
                null=tuple(dict(f, **settled_case) for f in rule.null))


def all_of(*rules: Rule) -> Rule:
    if not rules:
        raise ValueError("all_of needs at least one rule")

    def check(m):
        res = [(r, *r.decide_why(m)) for r in rules]
        for r, status, why, kind in res:
            if r.guard and status == INCONCLUSIVE:
                return INCONCLUSIVE, why, kind
        fails = [why for _, status, why, _ in res if status == FAIL]
        if fails:
            return FAIL, "; ".join(fails)
        open_ = [(why, kind) for _, status, why, kind in res if status == INCONCLUSIVE]
        if open_:
            return INCONCLUSIVE, "; ".join(w for w, _ in open_), open_[0][1]
        return PASS, "; ".join(why for _, _, why, _ in res)
    passing = {}
    for r in rules:
        passing.update(r.passing)
    failing = tuple(dict(passing, **f) for r in rules for f in r.failing)
    null = tuple(dict(passing, **f) for r in rules for f in r.null)
    return Rule(" and ".join(r.text for r in rules), check, guard=any(r.guard for r in rules),
                passing=passing, failing=failing, null=null)


def any_of(*rules: Rule) -> Rule:
    """Passes when one part passes; fails when every part fails; else inconclusive."""
    if not rules:
        raise ValueError("any_of needs at least one rule")

    def check(m):
        res = [r.decide_why(m) for r in rules]
        if any(s == PASS for s, _, _ in res):
            return PASS, "; ".join(w for s, w, _ in res if s == PASS)
        if all(s == FAIL for s, _, _ in res):
            return FAIL, "; ".join(w for _, w, _ in res)
        open_ = [(w, k) for s, w, k in res if s == INCONCLUSIVE]
        return INCONCLUSIVE, "; ".join(w for w, _ in open_), open_[0][1]
    failing, null = {}, {}
    for r in rules:
        failing.update(r.failing[0] if r.failing else {})
        null.update(r.null[0] if r.null else {})
    return Rule("(" + " or ".join(r.text for r in rules) + ")", check,
                passing=dict(rules[0].passing), failing=(failing,) if failing else (),
                null=(null,) if null and all(r.null for r in rules) else ())


def groks(ratio: float = 10.0, error: float = 1e-2) -> Rule:
    """The rule of "it groks" on :func:`groklab.claims.measures.grokked_run`'s numbers: t2 comes
    at least ``ratio`` times later than t1, and the final test error is at most ``error``.  Null:
    generalization together with memorization (t2 = t1)."""
    return all_of(at_least("t2_over_t1", ratio, null=1.0), at_most("final_test_error", error))
