"""t1 / t2 / Delta t detection on synthetic curves whose answer is known by construction."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from groklab.fields import ConfigError
from groklab.detect import Detection
from groklab.detect import detect, detect_time, first_plateau_time, plateau_time, threshold_time
from groklab.schedule import log_steps

STEPS = log_steps(20_000, every=100, dense_until=1000)  # dense to 999, then every 100


def piecewise(steps, pieces):
    """pieces: [(start_step, value), ...] -> value of the last piece whose start <= step."""
    out = np.empty(len(steps))
    for i, s in enumerate(steps):
        out[i] = [v for start, v in pieces if start <= s][-1]
    return out


def test_schedule_used_here():
    assert STEPS[0] == 0 and STEPS[-1] == 20_000
    assert np.all(np.diff(STEPS) > 0)
    assert np.array_equal(STEPS[:1000], np.arange(1000))
    assert np.all(np.diff(STEPS[999:]) <= 100)


# ---------------------------------------------------------------------------------------------
# threshold rule
# ---------------------------------------------------------------------------------------------
@given(st.floats(1e-4, 0.5))
def test_threshold_rule_first_crossing(thr):
    steps = np.arange(0, 5000, 7)
    err = 1.0 / (1.0 + steps)  # decreasing: first step with 1/(1+t) <= thr
    t = threshold_time(steps, err, thr)
    expect = steps[np.argmax(err <= thr)] if (err <= thr).any() else None
    assert t == expect


def test_threshold_rule_takes_first_not_last_crossing():
    steps = np.arange(10)
    err = np.array([1, 1, 1e-4, 1, 1, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4])
    assert threshold_time(steps, err, 1e-3) == 2
    assert threshold_time(steps, np.ones(10), 1e-3) is None


def test_threshold_rule_reports_rule():
    err = piecewise(STEPS, [(0, 1.0), (300, 1e-5)])
    t = detect_time(STEPS, err, 1e-3, Detection())
    assert (t.step, t.rule) == (300, "threshold")


# ---------------------------------------------------------------------------------------------
# plateau rules
# ---------------------------------------------------------------------------------------------
# memorization at step 50 to an error of 3e-3 (above the 1e-3 threshold, below plateau_max), then
# a lower final plateau of 1.4e-3 from step 5000 on: the strongly penalized run's train curve.
MEM = [(0, 1.0), (50, 3e-3), (5000, 1.4e-3)]


def test_first_plateau_rule_finds_memorization():
    err = piecewise(STEPS, MEM)
    t = detect_time(STEPS, err, 1e-3, Detection(plateau_mode="first"))
    assert (t.step, t.rule) == (50, "plateau")


def test_final_plateau_rule_finds_final_plateau():
    """The authors' rule reads the time the *final* plateau is reached."""
    err = piecewise(STEPS, MEM)
    t = detect_time(STEPS, err, 1e-3, Detection(plateau_mode="final"))
    assert (t.step, t.rule) == (5000, "plateau")


def test_first_plateau_window_ratio():
    """err = 0.04 / (1 + t)^2 until step 1000, flat after.  Over [t, 2t] a power law falls by
    ((1 + 2t) / (1 + t))^2 > 2, so no window qualifies until it reaches the flat part: with
    2t >= 1000 the ratio is (1001 / (1 + t))^2 <= 2 iff 1 + t >= 1001 / sqrt(2), i.e. t = 707."""
    steps = np.arange(0, 4001)
    err = 0.04 / (1.0 + np.minimum(steps, 1000)) ** 2
    t = first_plateau_time(steps, err, factor=2.0, max_value=0.05)
    assert t == int(np.ceil(1001 / np.sqrt(2) - 1)) == 707
    # brute force over the definition agrees
    ok = [s for s in steps[1:2001] if err[s:2 * s + 1].max() <= 2.0 * err[s:2 * s + 1].min()]
    assert t == ok[0]
    # a stricter factor needs a flatter window: later
    assert first_plateau_time(steps, err, factor=1.2, max_value=0.05) > t


def test_first_plateau_needs_observed_window():
    """The window [t, 2t] must be logged: a drop in the last half of the run is not a plateau."""
    steps = np.arange(0, 1001)
    err = np.where(steps < 800, 1.0, 0.01)
    assert first_plateau_time(steps, err, factor=2.0, max_value=0.05) is None
    # the threshold rule still sees it
    assert detect_time(steps, err, 0.02, Detection()).step == 800


def test_final_rule_window_needs_consecutive_logs():
    steps = np.arange(20)
    err = np.array([1.0] * 5 + [0.01] + [1.0] * 4 + [0.01] * 10)  # one early touch, then stays
    assert plateau_time(steps, err, tol=0.05, window=2, tail=3, max_value=0.05) == 10
    assert plateau_time(steps, err, tol=0.05, window=1, tail=3, max_value=0.05) == 5


@pytest.mark.parametrize("mode", ["first", "final"])
def test_high_plateau_is_never(mode):
    """An l2-only run memorizes, but its test error flattens at ~0.8 forever: no t2."""
    err = piecewise(STEPS, [(0, 1.0), (60, 0.8)])
    det = Detection(plateau_mode=mode)
    t = detect_time(STEPS, err, det.test_threshold, det)
    assert (t.step, t.rule) == (None, "never")
    # the same curve does fire once plateau_max is above its plateau
    hi = Detection(plateau_mode=mode, plateau_max=0.9)
    assert detect_time(STEPS, err, hi.test_threshold, hi).rule == "plateau"


@pytest.mark.parametrize("mode", ["first", "final"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_curves_never(mode, bad):
    det = Detection(plateau_mode=mode)
    err = np.full(len(STEPS), bad)
    t = detect_time(STEPS, err, det.train_threshold, det)
    assert (t.step, t.rule) == (None, "never")


@pytest.mark.parametrize("mode", ["first", "final"])
def test_diverging_curve_never(mode):
    """A run that goes to inf/nan after a decent start never satisfies a rule on the bad part."""
    det = Detection(plateau_mode=mode)
    err = piecewise(STEPS, [(0, 1.0), (100, 0.5), (2000, np.inf), (3000, np.nan)])
    t = detect_time(STEPS, err, det.train_threshold, det)
    assert (t.step, t.rule) == (None, "never")


def test_minus_inf_is_not_below_threshold():
    steps = np.arange(5)
    assert threshold_time(steps, [1.0, -np.inf, np.nan, 1.0, 1e-6], 1e-3) == 4


# ---------------------------------------------------------------------------------------------
# detect(): both times, Delta t, None propagation
# ---------------------------------------------------------------------------------------------
def test_detect_grokking_curve():
    train = piecewise(STEPS, [(0, 1.0), (40, 1e-5)])
    test = piecewise(STEPS, [(0, 1.0), (40, 0.8), (12_300, 1e-5)])
    r = detect(STEPS, train, test)
    assert (r["t1"], r["t2"], r["delta_t"]) == (40, 12_300, 12_300 - 40)
    assert (r["t1_rule"], r["t2_rule"]) == ("threshold", "threshold")


def test_detect_none_propagates():
    train = piecewise(STEPS, [(0, 1.0), (40, 1e-5)])
    test = piecewise(STEPS, [(0, 1.0), (40, 0.8)])
    r = detect(STEPS, train, test)
    assert r["t1"] == 40 and r["t2"] is None and r["delta_t"] is None
    assert r["t2_rule"] == "never"
    r = detect(STEPS, test, train)  # no memorization but "generalization": delta_t still None
    assert r["t1"] is None and r["t2"] == 40 and r["delta_t"] is None


@given(t1=st.integers(1, 9000), gap=st.integers(0, 9000))
def test_delta_t_is_difference(t1, gap):
    steps = np.arange(0, 20_001)
    train = np.where(steps >= t1, 1e-6, 1.0)
    test = np.where(steps >= t1 + gap, 1e-6, 1.0)
    r = detect(steps, train, test)
    assert (r["t1"], r["t2"], r["delta_t"]) == (t1, t1 + gap, gap)


def test_detect_thresholds_are_separate():
    steps = np.arange(100)
    err = 1.0 / (1.0 + steps)
    r = detect(steps, err, err, Detection(train_threshold=0.1, test_threshold=0.02))
    assert r["t1"] == 9 and r["t2"] == 49  # 1/(1+t) <= 0.1 at t = 9; <= 0.02 at t = 49


@pytest.mark.parametrize("kw", [dict(train_threshold=0.0), dict(test_threshold=-1.0),
                                dict(plateau_mode="median"), dict(plateau_tol=0.0),
                                dict(plateau_factor=1.0), dict(plateau_window=0),
                                dict(plateau_max=float("nan"))])
def test_detection_validates(kw):
    with pytest.raises(ConfigError) as e:
        Detection(**kw)
    assert ("--" + next(iter(kw)).replace("_", "-")) in str(e.value)
