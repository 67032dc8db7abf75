"""The claim registry says whose claim each one is, at what setting it is checked, and its rules
can fail: every registered claim is the paper's (with where it says it and what, faithfully) or
an extension (with why groklab asks); every rule fails on the opposite result and on a null
result; inconclusive means "the data cannot decide", and says why."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from groklab.claims import (EXTENSION, FAIL, FAITHFUL, HORIZON, INCONCLUSIVE, MISSING, OWN,
                            PAPER, PASS, STAND_IN, TOO_FEW, USER, Claim, Inconclusive,
                            figure_recipe, grid_recipe, listing, paper_claims, print_table,
                            rules as R, table)
from groklab.claims.runner import judge
from groklab.cli import main

REG = paper_claims()


def _claim(**kw):
    base = dict(id="x.c", statement="s", figures=("1",),
                recipes=(grid_recipe("g", "toy", quick=[{}]),), measure=lambda ev: {"x": 1.0},
                rule=R.at_least("x", 1.0, null=0.0))
    return Claim(**{**base, **kw})


# ---- whose claim, and at what setting -----------------------------------------------------------
@pytest.mark.parametrize("claim", REG, ids=lambda c: c.id)
def test_every_registered_claim_is_the_papers_or_an_extension(claim):
    assert claim.source in (PAPER, EXTENSION), claim.source
    if claim.source == PAPER:
        assert claim.section.startswith("§") and claim.where and len(claim.paper_says) > 20
    else:
        assert len(claim.why) > 20
    for full in (False, True):
        setting, differs = claim.setting(full)
        if claim.source == PAPER:
            # a stand-in says what differs from the paper; a faithful setting says nothing
            assert (setting == STAND_IN) == bool(differs) and setting in (FAITHFUL, STAND_IN)
        else:
            assert setting == OWN


def test_a_paper_claim_must_say_where_and_what_and_an_extension_why():
    with pytest.raises(ValueError, match="where"):
        _claim(source=PAPER, paper_says="the paper says so", section="§3.1")
    with pytest.raises(ValueError, match="why"):
        _claim(source=EXTENSION)
    with pytest.raises(ValueError, match="source"):
        _claim(source="blog")
    assert _claim().source == USER  # a user's claims file needs none of it


def test_a_stand_in_recipe_makes_the_claim_a_stand_in_at_that_scale_only():
    quick_only = grid_recipe("g", "toy", quick=[{}], stand_in_quick="p = 31 instead of 97")
    c = _claim(source=PAPER, section="§2", where="Fig. 1", paper_says="it groks with l1",
               recipes=(quick_only, figure_recipe("fig3")))
    assert c.setting(False) == (STAND_IN, "g: p = 31 instead of 97")
    assert c.setting(True) == (FAITHFUL, "")
    row = listing([c]).iloc[0]
    assert (row.setting_quick, row.setting_full) == (STAND_IN, FAITHFUL)


# ---- rules that can fail ------------------------------------------------------------------------
@pytest.mark.parametrize("claim", REG, ids=lambda c: c.id)
def test_every_rule_fails_on_the_opposite_and_on_a_null_result(claim):
    """passing -> pass; each failing case (the opposite result) -> fail; each null case (no
    effect: Spearman 0, exponent 0, ratio 1) -> fail, never inconclusive or pass."""
    rule = claim.rule
    assert rule.decide(rule.passing)[0] == PASS
    assert rule.failing and rule.null, "a rule needs failing and null examples"
    for case in (*rule.failing, *rule.null):
        assert rule.decide(case)[0] == FAIL, case


def test_an_exponent_interval_too_wide_to_decide_is_inconclusive_not_a_pass():
    r = R.contains("lo", "hi", -1.0, max_halfwidth=0.3, null=(-0.1, 0.1))
    assert r.decide_why({"lo": -1.2, "hi": -0.9})[0] == PASS
    status, why, kind = r.decide_why({"lo": -1.6, "hi": -0.3})  # the example
    assert (status, kind) == (INCONCLUSIVE, TOO_FEW) and "half-width" in why
    assert r.decide({"lo": 0.2, "hi": 1.5})[0] == FAIL  # misses -1: fails however wide
    assert r.decide({"lo": -0.1, "hi": 0.1})[0] == FAIL  # the null result


def test_a_verdict_a_longer_horizon_could_turn_is_inconclusive_horizon():
    r = R.settled(R.at_most("final_error", 1e-2), "n_moving")
    assert r.decide_why({"final_error": 0.5, "n_moving": 2})[::2] == (INCONCLUSIVE, HORIZON)
    assert r.decide({"final_error": 0.5, "n_moving": 0})[0] == FAIL
    assert r.decide({"final_error": 1e-3, "n_moving": 2})[0] == PASS  # decided either way
    either = R.settled(R.at_most("x", 1.0), "n_moving", open_to=(PASS, FAIL))
    assert either.decide_why({"x": 0.0, "n_moving": 1})[2] == HORIZON


def test_a_guard_withholds_only_for_want_of_data():
    rule = R.all_of(R.needs("n", 5), R.at_most("x", 1.0))
    assert rule.decide_why({"n": 2, "x": 0.0})[::2] == (INCONCLUSIVE, TOO_FEW)
    assert rule.decide_why({"n": 9})[::2] == (INCONCLUSIVE, MISSING)


# ---- verdicts say why they are inconclusive ---------------------------------------------------
def test_inconclusive_verdicts_carry_their_kind_into_the_table():
    def too_short(ev):
        raise Inconclusive("runs still falling at step 1e4", kind=HORIZON)
    c = _claim(measure=too_short)
    v = judge(c, {"g": None}, {})
    assert (v.status, v.why_inconclusive) == (INCONCLUSIVE, HORIZON)
    assert judge(c, {}, {"g": "boom"}).why_inconclusive == MISSING
    t = table([v, judge(_claim(), {"g": None}, {})])
    assert list(t.why_inconclusive) == [HORIZON, ""] and list(t.status) == [INCONCLUSIVE, PASS]
    assert {"source", "section", "where", "paper_says", "setting", "stand_in"} <= set(t.columns)
    with pytest.raises(ValueError):
        Inconclusive("x", kind="unsure")


def test_print_table_counts_the_papers_faithful_verdicts_apart():
    stand = grid_recipe("g", "toy", quick=[{}], stand_in_quick="other beta")
    paper = dict(source=PAPER, section="§3", where="Fig. 3", paper_says="it groks with l1")
    vs = [judge(_claim(id="a", **paper), {"g": None}, {}),
          judge(_claim(id="b", recipes=(stand,), **paper), {"g": None}, {}),
          judge(_claim(id="c", source=EXTENSION, why="our own question about depth"),
                {"g": None}, {})]
    buf = io.StringIO()
    print_table(vs, buf)
    last = buf.getvalue().splitlines()[-1]
    assert "paper's settings: 1 pass, 0 fail, 0 inconclusive of 1; 1 at stand-in" in last


def test_check_list_formats(capsys):
    assert main(["check", "--list", "--format", "csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(df.id) == [c.id for c in REG]
    assert {"source", "where", "paper_says", "statement", "setting_quick",
            "setting_full"} <= set(df.columns)
    assert main(["check", "--list"]) == 0
    heads = [ln for ln in capsys.readouterr().out.splitlines() if not ln.startswith(" ")]
    assert [h.split()[0] for h in heads] == [c.id for c in REG]
