"""Figures over (s, N) and N (12, 13, 24, 27, 28), basis pursuit (19b, 20), coherence and the
basis-pursuit closed form on a fully coherent design."""
from __future__ import annotations

import math

import numpy as np
import pytest

import groklab

import groklab.families.sparse_recovery.figures.scaling as S
from groklab.families.sparse_recovery.config import SparseRecoveryConfig
from groklab.families.sparse_recovery.data import make_data
from groklab.families.sparse_recovery.theory import cs_sample_guide, predicted_t2
from groklab.figures import all_figures

from conftest import assert_png

FIGURES = all_figures()

PAPER_N = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]




# ---- the grids are the paper's ------------------------------------------------------------------
@pytest.mark.parametrize("name,method", [("fig12", "projected"), ("fig13", "ista"),
                                         ("fig27", "subgradient"), ("fig28", "subgradient")])
@pytest.mark.parametrize("full", [False, True])
def test_sn_grids_are_the_papers(name, method, full):
    assert name in FIGURES and S.SN_METHODS[name] == method
    grid, note = S.sn_grid(method, full)
    # the paper's figs 12/13/27/28 (docs/families/sparse-recovery.md#figures): (n, zeta, alpha, beta) = (100, 1e-6, 0.1, 1e-5), noiseless
    assert grid["sparsity"] == [1, 5, 10, 15] and grid["measurements"] == PAPER_N
    assert (grid["dim"], grid["init_scale"], grid["lr"], grid["l1"], grid["l2"]) == \
        (100, 1e-6, 0.1, 1e-5, 0.0)
    assert grid["method"] == method and math.isinf(grid["snr"]) and grid["init"] == "constant"
    assert grid["steps"] == (1_000_000 if full else 300_000)
    assert ("QUICK" in note) != full


@pytest.mark.parametrize("full", [False, True])
def test_fig24_grid_is_the_papers(full):
    grid, _ = S.fig24_grid(full)
    assert grid["measurements"] == PAPER_N and grid["snr"] == 1e8 and grid["sparsity"] == 5
    assert (grid["dim"], grid["lr"], grid["l1"], grid["method"]) == (100, 0.1, 1e-5, "subgradient")
    assert grid["steps"] == (1_000_000 if full else 300_000)


def test_basis_pursuit_grids_are_the_authors():
    assert S.BP_S == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91]
    assert S.BP_N == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 101]
    taus, trials = S.SCALES["fig19b"]["full"]
    assert taus == [round(0.05 * k, 2) for k in range(21)] and trials == 10  # fig 19b
    assert S.SCALES["fig20"]["full"] == ([0.0, 0.5, 1.0], 4)  # fig 20: 4 trials
    g = S.bp_grid(S.BP_S, S.BP_N, [0.0, 1.0], 3)
    assert g["method"] == "basis-pursuit" and g["seed"] == [1, 2, 3] and g["dim"] == 100


# ---- tiny draws ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fig12", "fig13", "fig24", "fig27", "fig28", "fig19b", "fig20"])
def test_scaling_figures_draw_at_tiny_scale(name, tmp_path, monkeypatch):
    import pandas as pd
    monkeypatch.setitem(S.BASE, "dim", 30)
    monkeypatch.setitem(S.SCALES, "sn", {"quick": (3000, [1, 3], [10, 20]),
                                         "full": (3000, [1, 3], [10, 20])})
    monkeypatch.setitem(S.SCALES, "fig24", {"quick": (3000, [10, 20, 30]),
                                            "full": (3000, [10, 20, 30])})
    for k in ("fig19b", "fig20"):
        monkeypatch.setitem(S.SCALES, k, {"quick": ([0.0, 1.0], 1), "full": ([0.0, 1.0], 1)})
    monkeypatch.setattr(S, "BP_S", [1, 6])
    monkeypatch.setattr(S, "BP_N", [1, 16, 31])
    out = tmp_path / "out"
    assert_png(FIGURES[name].reproduce(out))
    runs = groklab.load(out).runs
    methods = set(runs.method)
    if name in ("fig19b", "fig20"):
        assert methods == {"basis-pursuit"} and len(runs) == 2 * 3 * 2
        # N = 31 > n = 30 rows: the design has full column rank, a* is recovered for any tau
        assert (runs[runs.measurements == 31].final_test_error < 1e-6).all()
    elif name == "fig24":
        assert methods == {"subgradient"} and sorted(runs.measurements) == [10, 20, 30]
    else:
        # the GD runs plus basis pursuit on the same data (s, N, seed 1, tau 0)
        assert methods == {S.SN_METHODS[name], "basis-pursuit"} and len(runs) == 2 * 4
        gd = runs[runs.method != "basis-pursuit"].set_index(["sparsity", "measurements"])
        bp = runs[runs.method == "basis-pursuit"].set_index(["sparsity", "measurements"])
        assert np.allclose(gd.a_star_l1_norm.sort_index(), bp.a_star_l1_norm.sort_index())


# ---- N_min --------------------------------------------------------------------------------------
def test_n_min_is_the_first_recovering_N_of_the_mean():
    import pandas as pd
    rows = [dict(tau=0.0, sparsity=1, measurements=N, seed=k, final_test_error=e)
            for N, errs in ((5, (0.5, 0.4)), (10, (1e-8, 0.3)), (15, (1e-8, 1e-7)), (20, (0, 0)))
            for k, e in enumerate(errs)]
    rows += [dict(tau=1.0, sparsity=1, measurements=N, seed=0, final_test_error=0.2)
             for N in (5, 10)]
    nm = S.n_min(pd.DataFrame(rows))
    assert nm == {(0.0, 1): 15, (1.0, 1): None}


# ---- coherence ----------------------------------------------------------------------------------
@pytest.mark.parametrize("N", [10, 50, 90])
def test_gaussian_coherence_is_close_to_sqrt_2_ln_Nn_over_n(N):
    """Phi = I, M Gaussian: mu = max_ij |M_ij| / |m_i|, the largest of N n (nearly) independent
    |N(0, 1/n)|, which concentrates near sqrt(2 ln(N n) / n) (the paper's Thm G.4; docs/families/sparse-recovery.md#theory)."""
    n = 100
    mus = [make_data(SparseRecoveryConfig(dim=n, sparsity=5, measurements=N, seed=k)).coherence
           for k in range(1, 9)]
    ref = math.sqrt(2 * math.log(N * n) / n)
    assert max(mus) < 0.75  # well below the coherence 1 of a selected row
    assert 0.8 * ref < float(np.mean(mus)) < 1.25 * ref


def test_coherence_is_one_when_one_row_is_a_column_of_phi():
    # tau = 1/N: exactly one row of M is a (rescaled) column of Phi, the rest Gaussian
    for basis in ("identity", "orthonormal"):
        d = make_data(SparseRecoveryConfig(dim=40, sparsity=3, measurements=20, tau=0.05,
                                           basis=basis))
        assert d.coherence == pytest.approx(1.0, abs=1e-12)
        d0 = make_data(SparseRecoveryConfig(dim=40, sparsity=3, measurements=20, tau=0.0,
                                            basis=basis))
        assert d0.coherence < 0.9


# ---- basis pursuit on a fully coherent design: a closed form ------------------------------------
def test_basis_pursuit_with_canonical_rows_recovers_only_the_sampled_coordinates(tmp_path):
    """tau = 1, Phi = I: the rows of X are multiples of e_j for N distinct sampled j, so the
    constraint fixes a_j = a*_j there and min |a|_1 sets every other coordinate to 0: the recovery
    error is exactly |a*_{unsampled}| / |a*|."""
    pytest.importorskip("cvxpy")
    from groklab.driver import execute
    for seed in (1, 2, 3):
        cfg = SparseRecoveryConfig(dim=30, sparsity=6, measurements=12, tau=1.0, seed=seed,
                                   method="basis-pursuit")
        d = make_data(cfg)
        sampled = np.abs(d.X.numpy()).argmax(axis=1)
        a_star = d.a_star.numpy()
        miss = np.setdiff1d(np.arange(30), sampled)
        expected = np.linalg.norm(a_star[miss]) / np.linalg.norm(a_star)
        row = execute([cfg], out=tmp_path / f"bp{seed}", quiet=True).runs.iloc[0]
        assert row.final_test_error == pytest.approx(expected, abs=1e-6)
        a = np.asarray(row.final_a)
        assert np.abs(a[miss]).max() < 1e-6


# ---- theory helpers -----------------------------------------------------------------------------
def test_theory_helpers():
    assert predicted_t2(70.0, 3.0e4) == pytest.approx(30070.0)
    assert predicted_t2(None, 3.0) is None and predicted_t2(3.0, None) is None
    assert cs_sample_guide(1, 100) == pytest.approx(2 * math.log(100))
    g = cs_sample_guide(np.array([1.0, 10.0]), 100, c=1.0)
    np.testing.assert_allclose(g, [math.log(100), 10 * math.log(10)])


def test_summary_row_overlays_the_theory_where_it_exists():
    """groklab plot's sweep summary draws pred_t1, pred_t1 + pred_delta_t and pred_delta_t dashed
    next to the measured t1, t2, Delta t; runs without a prediction (NaN) draw no theory line."""
    import pandas as pd

    from groklab import plotting as P
    rows = [dict(problem="sparse-recovery", measurements=N, sparsity=s, t1=10, t2=10 + 100 * N, delta_t=100 * N, steps=10**6,
                 final_test_error=1e-3, status="done", pred_t1=12.0 if s == 1 else np.nan,
                 pred_delta_t=90.0 * N if s == 1 else np.nan)
            for N in (10, 20, 30) for s in (1, 2)]
    runs = pd.DataFrame(rows)
    fig, axes = P.new_figure(1, 4)
    P.summary_row(axes[0], runs, "measurements", "sparsity")
    dashed = [[ln for ln in ax.get_lines() if ln.get_linestyle() == "--"] for ax in axes[0, :3]]
    assert [len(d) for d in dashed] == [1, 1, 1]  # only s = 1 has a prediction
    np.testing.assert_allclose(dashed[0][0].get_ydata(), [12.0] * 3)
    np.testing.assert_allclose(dashed[1][0].get_ydata(), [12.0 + 900, 12.0 + 1800, 12.0 + 2700])
    np.testing.assert_allclose(dashed[2][0].get_ydata(), [900.0, 1800.0, 2700.0])
    labels = axes[0, 3].get_legend().get_texts()
    assert any("theory" in t.get_text() for t in labels)


def test_sparse_predictions_scale_as_the_paper_says():
    """Delta t = |a_hat - a*|_inf/(alpha beta) exactly; t1 (eq. 78) is ~1/alpha and only
    logarithmic in 1/beta; starting at the least-squares fit leaves nothing to memorize (t1 = 0);
    more measurements shrink the gap |a_hat - a*| and with it Delta t."""
    from groklab.families.sparse_recovery.predict import sparse_predictions
    base = dict(dim=100, sparsity=5, measurements=30, seed=1)
    p = sparse_predictions(SparseRecoveryConfig(**base, lr=0.1, l1=1e-5))
    assert p["t2"] == pytest.approx(p["t1"] + p["delta_t"])
    assert p["error_scale"] == pytest.approx(1e-6) and 0.5 < p["memorized_error"] < 1
    for lr, l1 in ((0.05, 1e-5), (0.1, 1e-3), (0.02, 1e-4)):
        q = sparse_predictions(SparseRecoveryConfig(**base, lr=lr, l1=l1))
        assert q["delta_t"] == pytest.approx(p["delta_t"] * (0.1 * 1e-5) / (lr * l1), rel=1e-12)
    slow = sparse_predictions(SparseRecoveryConfig(**base, lr=0.01, l1=1e-5))
    assert 7 < slow["t1"] / p["t1"] < 13  # ~1/alpha
    weak = sparse_predictions(SparseRecoveryConfig(**base, lr=0.1, l1=1e-7))
    assert 1 < weak["t1"] / p["t1"] < 2  # 100x smaller beta, only a log more steps
    at_ls = sparse_predictions(SparseRecoveryConfig(**base, lr=0.1, l1=1e-5, init="least-squares"))
    assert at_ls["t1"] == 0
    more = sparse_predictions(SparseRecoveryConfig(**{**base, "measurements": 90}, lr=0.1,
                                                   l1=1e-5))
    assert more["delta_t"] < p["delta_t"] and more["memorized_error"] < p["memorized_error"]
    with pytest.raises(ValueError, match="depth-1"):
        sparse_predictions(SparseRecoveryConfig(**base, depth=2, init="random"))


def test_basis_pursuit_phase_transition_at_small_scale(tmp_path):
    """n = 30, 3 trials: N_min grows with s, stays within the classical order 2 s ln(n/s) (plus a
    grid step) for Gaussian measurements, and a fully coherent design (tau = 1) needs most of the
    n coordinates sampled (figures 19b, 20)."""
    pytest.importorskip("cvxpy")
    import warnings

    from groklab.driver import execute
    from groklab.sweep import expand_grid
    n = 30
    grid = dict(dim=n, snr=float("inf"), method="basis-pursuit", steps=1, log_dense_until=1,
                sparsity=[1, 4], measurements=list(range(4, 33, 4)), tau=[0.0, 1.0],
                seed=[1, 2, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = execute(expand_grid("sparse-recovery", grid), out=tmp_path / "bp", quiet=True).runs
    nm = S.n_min(runs)
    assert nm[(0.0, 1)] < nm[(0.0, 4)] <= cs_sample_guide(4, n) + 4
    assert nm[(1.0, 1)] >= 2 * n / 3 and nm[(1.0, 4)] >= 2 * n / 3
    assert nm[(1.0, 4)] > nm[(0.0, 4)]
