"""Pass rules: small composable tests on a claim's measured numbers.

A :class:`Rule` has a ``text`` (printed in the report: the rule *and* its tolerance, in words) and
``decide(measured) -> (status, reason)``.  A number that is missing, None or NaN makes a rule
*inconclusive* (the evidence did not say), never a pass.  :func:`needs` is a guard: when it is
inconclusive (too few runs detected, say) the whole :func:`all_of` is inconclusive, whatever the
other parts say -- a fit on two points is no evidence either way.  Otherwise any failing part
fails the claim, and the claim passes only when every part passes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from .record import FAIL, INCONCLUSIVE, PASS


@dataclass(frozen=True)
class Rule:
    """``passing`` / ``failing``: measured dicts this rule passes / fails, built with the rule
    itself, so a test can show that every registered rule can both pass and fail."""

    text: str
    check: Callable[[dict], tuple[str, str]]
    guard: bool = False
    passing: dict = field(default_factory=dict)
    failing: tuple = ()

    def decide(self, measured: dict) -> tuple[str, str]:
        return self.check(measured)


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
             bad: tuple) -> Rule:
    def check(m):
        v = _num(m, key)
        if v is None:
            return INCONCLUSIVE, f"{key} not measured"
        return (PASS if ok(v) else FAIL), f"{key} = {_g(v)} ({'' if ok(v) else 'not '}{text})"
    return Rule(f"{key} {text}", check, passing={key: good},
                failing=tuple({key: b} for b in bad))


def _off(x: float) -> float:
    return abs(x) * 0.5 + 1.0  # a step clearly past a bound, whatever its scale


def at_least(key: str, bound: float) -> Rule:
    return _compare(key, lambda v: v >= bound, f">= {_g(bound)}", bound, (bound - _off(bound),))


def at_most(key: str, bound: float) -> Rule:
    return _compare(key, lambda v: v <= bound, f"<= {_g(bound)}", bound, (bound + _off(bound),))


def between(key: str, lo: float, hi: float) -> Rule:
    return _compare(key, lambda v: lo <= v <= hi, f"in [{_g(lo)}, {_g(hi)}]", (lo + hi) / 2,
                    (lo - _off(lo), hi + _off(hi)))


def within_factor(key: str, target: float, factor: float) -> Rule:
    """target / factor <= value <= target * factor (a positive ratio's tolerance)."""
    if factor < 1:
        raise ValueError("factor must be >= 1")
    return _compare(key, lambda v: target / factor <= v <= target * factor,
                    f"within a factor {_g(factor)} of {_g(target)}", target,
                    (target / factor / 2, target * factor * 2))


def contains(lo_key: str, hi_key: str, value: float, tol: float = 0.0) -> Rule:
    """The interval [measured lo - tol, measured hi + tol] contains ``value``."""
    def check(m):
        lo, hi = _num(m, lo_key), _num(m, hi_key)
        if lo is None or hi is None:
            return INCONCLUSIVE, f"interval {lo_key}..{hi_key} not measured"
        ok = lo - tol <= value <= hi + tol
        return (PASS if ok else FAIL), (f"[{_g(lo)}, {_g(hi)}] {'contains' if ok else 'misses'} "
                                        f"{_g(value)}" + (f" (± {_g(tol)})" if tol else ""))
    extra = f" widened by {_g(tol)} on each side" if tol else ""
    d = tol + _off(value)
    return Rule(f"[{lo_key}, {hi_key}]{extra} contains {_g(value)}", check,
                passing={lo_key: value - 0.1, hi_key: value + 0.1},
                failing=({lo_key: value + d, hi_key: value + 2 * d},
                         {lo_key: value - 2 * d, hi_key: value - d}))


def needs(key: str, n: int) -> Rule:
    """Guard: at least ``n`` (e.g. detected runs); fewer makes the claim inconclusive."""
    def check(m):
        v = _num(m, key)
        if v is None or v < n:
            return INCONCLUSIVE, f"{key} = {'?' if v is None else int(v)} < {n} needed"
        return PASS, f"{key} = {int(v)}"
    # a guard cannot fail, only withhold the verdict: its 'failing' case is the rule's others'
    return Rule(f"{key} >= {n} (else inconclusive)", check, guard=True, passing={key: n})


def all_of(*rules: Rule) -> Rule:
    if not rules:
        raise ValueError("all_of needs at least one rule")

    def check(m):
        res = [(r, *r.decide(m)) for r in rules]
        for r, status, why in res:
            if r.guard and status == INCONCLUSIVE:
                return INCONCLUSIVE, why
        fails = [why for _, status, why in res if status == FAIL]
        if fails:
            return FAIL, "; ".join(fails)
        open_ = [why for _, status, why in res if status == INCONCLUSIVE]
        if open_:
            return INCONCLUSIVE, "; ".join(open_)
        return PASS, "; ".join(why for _, _, why in res)
    passing = {}
    for r in rules:
        passing.update(r.passing)
    failing = tuple(dict(passing, **f) for r in rules for f in r.failing)
    return Rule(" and ".join(r.text for r in rules), check, guard=any(r.guard for r in rules),
                passing=passing, failing=failing)


def any_of(*rules: Rule) -> Rule:
    """Passes when one part passes; fails when every part fails; else inconclusive."""
    if not rules:
        raise ValueError("any_of needs at least one rule")

    def check(m):
        res = [r.decide(m) for r in rules]
        if any(s == PASS for s, _ in res):
            return PASS, "; ".join(w for s, w in res if s == PASS)
        if all(s == FAIL for s, _ in res):
            return FAIL, "; ".join(w for _, w in res)
        return INCONCLUSIVE, "; ".join(w for s, w in res if s == INCONCLUSIVE)
    failing = {}
    for r in rules:
        failing.update(r.failing[0] if r.failing else {})
    return Rule("(" + " or ".join(r.text for r in rules) + ")", check,
                passing=dict(rules[0].passing), failing=(failing,) if failing else ())


def groks(ratio: float = 10.0, error: float = 1e-2) -> Rule:
    """The rule of "it groks" on :func:`groklab.claims.measures.grokked_run`'s numbers: t2 comes
    at least ``ratio`` times later than t1, and the final test error is at most ``error``."""
    return all_of(at_least("t2_over_t1", ratio), at_most("final_test_error", error))
