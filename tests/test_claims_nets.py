"""The network families' claims (modular MLP and transformer, teacher-student) on synthetic
results: each claim's measurement and rule pass the paper's result, fail its opposite and a null
result, and are inconclusive only when the data cannot decide -- with the kind said (no run
generalized yet while runs still move: horizon; nothing to read: too few)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from groklab import Results
from groklab.claims import FAIL, HORIZON, INCONCLUSIVE, PASS, TOO_FEW
from groklab.claims.runner import judge
from groklab.families.modular import claims as modular
from groklab.families.nets.verdicts import delay_ranking, ranking_open
from groklab.families.teacher_student import claims as ts

MLP = modular.MLP.name
CLAIMS = {c.id: c for c in modular.CLAIMS + ts.CLAIMS}


def _verdict(cid, res, recipe=None):
    c = CLAIMS[cid]
    v = judge(c, {recipe or c.recipes[0].name: res}, {})
    return v.status, v.why_inconclusive, v


# ---- synthetic modular runs ---------------------------------------------------------------------
def _steps(horizon):
    return np.unique(np.r_[np.arange(0, 100), np.arange(100, horizon + 1, 100), horizon])


def _mlp_run(rid, *, l1=0.0, l2=0.0, nuclear=0.0, lr=1e-2, t1=90, t2=None, acc_t1=0.01,
             horizon=10_000, moving=False, l2_path=None, wd=0.0):
    """One run: train accuracy reaches 0.99 at t1; the test accuracy sits at ``acc_t1`` from t1
    and climbs to 1 over [t2 / 2, t2] (never when t2 is None; with ``moving`` its test loss
    still falls in the second half).  l1 norm: 9000 at t1, falling linearly to 3000 at t2.  l2
    norm: ``l2_path(step)`` (default flat 70)."""
    s = _steps(horizon).astype(float)
    acc = np.where(s < t1, 0.01 + (acc_t1 - 0.01) * s / t1, acc_t1)
    if t2 is not None:
        up = np.clip((s - t2 / 2) / (t2 / 2), 0, 1)
        acc = acc + (1.0 - acc) * up
    loss = np.where(s < t1, 4.6 + 20 * s / t1, 24.6)
    if moving:
        loss = loss * np.exp(-np.clip(s - horizon / 2, 0, None) / horizon)
    if t2 is not None:
        loss = loss * (1 - np.clip((s - t2 / 2) / (t2 / 2), 0, 0.9999))
    l1n = np.where(s < t1, 1500 + 7500 * s / t1,
                   9000 - 6000 * np.clip((s - t1) / max((t2 or 1e12) - t1, 1), 0, 1))
    l2n = (l2_path or (lambda x: 70.0 + 0 * x))(s)
    curves = pd.DataFrame({"run_id": rid, "step": s.astype(int), "test_accuracy": acc,
                           "test_error": 1 - acc, "test_loss": loss, "l1_norm": l1n,
                           "l2_norm": l2n})
    run = dict(run_id=rid, l1=l1, l2=l2, nuclear=nuclear, lr=lr, weight_decay=wd, t1=t1, t2=t2,
               status="done", steps=horizon, best_test_accuracy=float(acc.max()))
    return run, curves


def _results(*runs) -> Results:
    rows, curves = zip(*runs)
    df = pd.DataFrame(list(rows))
    for c in ("t1", "t2"):
        df[c] = df[c].astype("Int64")
    return Results(runs=df, curves=pd.concat(curves, ignore_index=True))


def _grid(t2_of_beta, *, name="l1", betas=(1e-6, 5e-6, 1e-5), moving=False, none=True, **kw):
    runs = [_mlp_run(f"{name}{i}", **{name: b}, t2=t2_of_beta(b), moving=moving, **kw)
            for i, b in enumerate(betas)]
    if none:
        runs.append(_mlp_run("none", t2=None))
    return _results(*runs)


# ---- "it groks" ---------------------------------------------------------------------------------
def test_groks_passes_a_delayed_jump_and_fails_no_jump():
    groks = lambda b: 5000 if b >= 5e-6 else None  # noqa: E731
    assert _verdict("modular.l1-groks", _grid(groks))[0] == PASS
    # the opposite: nothing generalizes and nothing moves -> a fail, not inconclusive
    status, kind, v = _verdict("modular.l1-groks", _grid(lambda b: None))
    assert status == FAIL, v.reason
    # the null: generalization together with memorization (t2 = t1) -> fail
    assert _verdict("modular.l1-groks", _grid(lambda b: 90, acc_t1=0.01))[0] == FAIL


def test_groks_still_moving_at_the_horizon_is_inconclusive_horizon():
    status, kind, v = _verdict("modular.l1-groks", _grid(lambda b: None, moving=True))
    assert (status, kind) == (INCONCLUSIVE, HORIZON), v.reason
    assert v.measured["n_moving"] == 3


def test_learning_while_memorizing_is_no_grokking_whatever_the_horizon():
    """The transformer case: test accuracy 0.7 at t1, 0.99 only much later, runs still moving:
    a fail (no horizon turns a run that already generalized at t1 into one that groks)."""
    res = _grid(lambda b: None, acc_t1=0.7, moving=True)
    status, _, v = _verdict("modular.l1-groks", res)
    assert status == FAIL and v.measured["n_quiet"] == 0, v.reason
    late = _grid(lambda b: 8000, acc_t1=0.7)
    assert _verdict("modular.l1-groks", late)[0] == FAIL


@pytest.mark.parametrize("cid", ["modular.transformer-l1-groks",
                                 "modular.transformer-nuclear-groks"])
def test_transformer_claims_can_fail(cid):
    name = "l1" if "l1" in cid else "nuclear"
    betas = (1e-4, 2e-4)
    ok = _grid(lambda b: 5000, name=name, betas=betas)
    assert _verdict(cid, ok)[0] == PASS
    learns = _grid(lambda b: None, name=name, betas=betas, acc_t1=0.7, moving=True)
    assert _verdict(cid, learns)[0] == FAIL
    # the control generalizes too: no claim that the penalty made it grok
    runs = [_mlp_run(f"{name}{i}", **{name: b}, t2=5000) for i, b in enumerate(betas)]
    control = _results(*runs, _mlp_run("none", t2=3000))
    assert _verdict(cid, control)[0] == FAIL


def test_no_penalty_control():
    assert _verdict("modular.no-penalty", _grid(lambda b: 5000))[0] == PASS
    learns = _results(_mlp_run("l1", l1=1e-5, t2=5000), _mlp_run("none", t2=3000))
    status, _, v = _verdict("modular.no-penalty", learns)
    assert status == FAIL and v.measured["best_test_accuracy"] == 1.0


# ---- the l2 norm's windows ----------------------------------------------------------------------
def _l2(t1=90, t2=5000, at_t1=70.8, at_t2=59.9, end=96.6, horizon=10_000):
    """The issue's measurement: 70.8 at t1, 59.9 at t2, 96.6 at the end (piecewise linear)."""
    return lambda s: np.interp(s, [0, t1, t2, horizon], [13.0, at_t1, at_t2, end])


def test_l2_window_claim_fails_the_measured_fall_and_passes_a_rise():
    fall = _results(_mlp_run("a", l1=1e-5, t2=5000, l2_path=_l2()), _mlp_run("n"))
    status, _, v = _verdict("modular.l2-norm-no-progress", fall)
    assert status == FAIL, v.reason
    m = v.measured
    assert m["median_l2_change_t1_t2"] == pytest.approx(59.9 / 70.8 - 1, rel=1e-3)
    assert m["median_l1_change_t1_t2"] == pytest.approx(3000 / 9000 - 1, rel=1e-3)
    assert m["median_l2_change_after_t2"] == pytest.approx(96.6 / 59.9 - 1, rel=1e-3)
    rise = _results(_mlp_run("a", l1=1e-5, t2=5000, l2_path=_l2(at_t2=80.0)), _mlp_run("n"))
    assert _verdict("modular.l2-norm-no-progress", rise)[0] == PASS
    flat = _results(_mlp_run("a", l1=1e-5, t2=5000, l2_path=_l2(at_t2=70.8)), _mlp_run("n"))
    assert _verdict("modular.l2-norm-no-progress", flat)[0] == FAIL  # the null: no change


def test_l2_after_t2_extension():
    fall_then_rise = _results(_mlp_run("a", l1=1e-5, t2=5000, l2_path=_l2()), _mlp_run("n"))
    assert _verdict("modular.l2-rises-after-t2", fall_then_rise)[0] == PASS
    flat = _results(_mlp_run("a", l1=1e-5, t2=5000, l2_path=_l2(end=59.9)), _mlp_run("n"))
    assert _verdict("modular.l2-rises-after-t2", flat)[0] == FAIL
    short = _results(_mlp_run("a", l1=1e-5, t2=8000, l2_path=_l2(t2=8000)), _mlp_run("n"))
    status, kind, _ = _verdict("modular.l2-rises-after-t2", short)  # 2000 steps after t2
    assert (status, kind) == (INCONCLUSIVE, HORIZON)


def test_no_l1_run_grokked_leaves_the_windows_unread():
    status, kind, _ = _verdict("modular.l2-norm-no-progress", _grid(lambda b: None))
    assert (status, kind) == (INCONCLUSIVE, TOO_FEW)


# ---- a smaller alpha beta, a longer delay -------------------------------------------------------
def _ab(t2_l1, t2_l2, betas=(1e-6, 5e-6, 1e-5), **kw):
    return _results(*[_mlp_run(f"a{i}", l1=b, t2=t2_l1(b), **kw) for i, b in enumerate(betas)],
                    *[_mlp_run(f"b{i}", l2=b, t2=t2_l2(b), **kw) for i, b in enumerate(betas)],
                    _mlp_run("none"))


def test_ab_delay_passes_the_trend_fails_its_opposite_and_no_trend():
    down = lambda b: None if b < 5e-6 else int(0.04 / b)  # noqa: E731  never, 8000, 4000
    assert _verdict("modular.l1-l2-ab-delay", _ab(down, down))[0] == PASS
    up = lambda b: {1e-6: 2000, 5e-6: 5000, 1e-5: 9000}[b]  # noqa: E731
    status, _, v = _verdict("modular.l1-l2-ab-delay", _ab(down, up))
    assert status == FAIL and v.measured["l2_spearman_ab_t2"] == pytest.approx(1.0), v.reason
    flat = lambda b: 5000  # noqa: E731  no effect: every beta the same t2
    status, _, v = _verdict("modular.l1-l2-ab-delay", _ab(flat, flat))
    assert status != PASS, v.reason


def test_ab_delay_nothing_generalized_fails_unless_moving():
    never = lambda b: None  # noqa: E731
    assert _verdict("modular.nuclear-ab-delay", _results(*[
        _mlp_run(f"n{i}", nuclear=b) for i, b in enumerate((1e-5, 5e-5, 1e-4))]))[0] == FAIL
    status, kind, _ = _verdict("modular.nuclear-ab-delay", _results(*[
        _mlp_run(f"n{i}", nuclear=b, moving=True) for i, b in enumerate((1e-5, 5e-5, 1e-4))]))
    assert (status, kind) == (INCONCLUSIVE, HORIZON)
    status, kind, _ = _verdict("modular.nuclear-ab-delay", _results(*[
        _mlp_run(f"n{i}", nuclear=b, t2=never(b)) for i, b in enumerate((1e-5, 5e-5))]))
    assert (status, kind) == (INCONCLUSIVE, TOO_FEW)  # two runs cannot be ranked


def test_delay_ranking_bounds_over_the_undetected_runs():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    moving = np.ones(4, bool)
    d = delay_ranking(x, np.array([np.nan, np.nan, 20.0, 10.0]), np.full(4, 100.0), moving)
    assert d["spearman_low"] == pytest.approx(-1.0)
    assert d["spearman_high"] == pytest.approx(-0.8)  # the two undetected runs in x's order
    assert ranking_open(d, -0.5) == 0
    # one detected run, three undetected and moving: their order decides (-1 or -0.2)
    t2 = np.array([np.nan, np.nan, np.nan, 10.0])
    d = delay_ranking(x, t2, np.full(4, 100.0), moving)
    assert (d["spearman_low"], d["spearman_high"]) == pytest.approx((-1.0, -0.2))
    assert ranking_open(d, -0.5) == 1 and d["n_open"] == 3
    # the same runs stopped (not moving): they stay last, tied -- decided
    d = delay_ranking(x, t2, np.full(4, 100.0))
    assert d["spearman_low"] == d["spearman_high"] == pytest.approx(d["spearman_ab_t2"])
    assert d["spearman_ab_t2"] == pytest.approx(-0.7746, abs=1e-4) and ranking_open(d, -0.5) == 0
    assert math.isnan(delay_ranking(x, np.full(4, np.nan), np.full(4, 100.0))["spearman_ab_t2"])


# ---- teacher-student ----------------------------------------------------------------------------
def _ts_run(rid, *, lr, beta, t1=60, t2=None, quiet=0.55, horizon=10_000, moving=False,
            kind="l1"):
    s = np.unique(np.r_[np.arange(0, 100), np.geomspace(100, horizon, 41).astype(int)])
    s = s.astype(float)
    err = np.where(s < t1, 1 - (1 - quiet) * s / t1, quiet)
    if t2 is not None:
        err = np.where(s >= t2, 0.01, err)
    elif moving:
        err = err * np.minimum(1.0, (horizon / 2 / np.maximum(s, 1.0)) ** 0.5)
    curves = pd.DataFrame({"run_id": rid, "step": s.astype(int), "test_error": err})
    run = dict(run_id=rid, lr=lr, l1=beta if kind == "l1" else 0.0,
               sobolev=beta if kind == "sobolev" else 0.0, t1=t1, t2=t2,
               delta_t=None if t2 is None else t2 - t1, status="done", steps=horizon)
    return run, curves


def _ts_grid(law, kind="l1", lrs=(1e-4, 1e-3, 5.5e-3), betas=(1e-4, 1e-3, 1e-2, 1e-1),
             **kw):
    runs = []
    for i, lr in enumerate(lrs):
        for j, b in enumerate(betas):
            t2 = law(lr * b)
            runs.append(_ts_run(f"r{i}{j}", lr=lr, beta=b, kind=kind,
                                t2=None if t2 is None or t2 > 10_000 else int(t2), **kw))
    rows, curves = zip(*runs)
    df = pd.DataFrame(list(rows))
    for c in ("t1", "t2", "delta_t"):
        df[c] = df[c].astype("Int64")
    return Results(runs=df, curves=pd.concat(curves, ignore_index=True))


@pytest.mark.parametrize("cid,kind", [("ts.l1-ab-delay", "l1"), ("ts.sobolev", "sobolev")])
def test_ts_delay_claims(cid, kind):
    inverse = lambda ab: 60 + 0.2 / ab  # noqa: E731  delta t = 0.2 / (alpha beta)
    assert _verdict(cid, _ts_grid(inverse, kind))[0] == PASS
    opposite = lambda ab: 60 + 2e6 * ab  # noqa: E731
    status, _, v = _verdict(cid, _ts_grid(opposite, kind))
    assert status == FAIL, v.reason
    nothing = lambda ab: None  # noqa: E731
    assert _verdict(cid, _ts_grid(nothing, kind))[0] == FAIL
    status, kind_, _ = _verdict(cid, _ts_grid(nothing, kind, moving=True))
    assert (status, kind_) == (INCONCLUSIVE, HORIZON)


def test_ts_exponent_extension():
    exact = lambda ab: 60 + 0.02 / ab  # noqa: E731  exponent -1, every run detected in 1e4
    status, _, v = _verdict("ts.l1-exponent", _ts_grid(exact, betas=(1e-3, 1e-2, 1e-1)))
    assert status == PASS, v.reason
    shallow = lambda ab: 60 + 20 / ab ** 0.5  # noqa: E731  exponent -0.5
    status, _, v = _verdict("ts.l1-exponent", _ts_grid(shallow, betas=(1e-3, 1e-2, 1e-1)))
    assert status == FAIL and v.measured["exponent"] == pytest.approx(-0.5, abs=0.1), v.reason


def test_ts_exponent_too_wide_to_decide_is_inconclusive():
    rule = CLAIMS["ts.l1-exponent"].rule
    status, _, kind = rule.decide_why({"exponent_n": 5, "exponent_low": -1.6,
                                       "exponent_high": -0.3})  # the example
    assert (status, kind) == (INCONCLUSIVE, TOO_FEW)
    assert rule.decide({"exponent_n": 5, "exponent_low": -1.2, "exponent_high": -0.85})[0] == PASS
    assert rule.decide({"exponent_n": 5, "exponent_low": -0.1, "exponent_high": 0.1})[0] == FAIL


def test_ts_a_student_that_generalizes_while_it_memorizes_does_not_grok():
    """Test MSE already at 0.05 x initial when the train MSE reaches its threshold: however late
    the test threshold is crossed, that is no delayed generalization."""
    inverse = lambda ab: 60 + 0.2 / ab  # noqa: E731
    status, _, v = _verdict("ts.l1-ab-delay", _ts_grid(inverse, quiet=0.05))
    assert status == FAIL and v.measured["n_quiet"] == 0, v.reason
