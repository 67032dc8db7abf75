"""Power-law fits of measured times against alpha * beta (the paper's Delta t ~ 1/(alpha beta)).

Used by ``groklab report --fit``, the sweep summary plots and the figures; the family decides
which penalty strength is beta.
"""
from __future__ import annotations

import math

import numpy as np


def fit_power_law(x, y, level: float = 0.95, censored=None) -> dict:
    """Fit y = prefactor * x**exponent by ordinary least squares of log y on log x.

    Points where x or y is non-finite or <= 0, or where ``censored`` (an optional boolean mask,
    e.g. t2 never detected within the horizon) is true, are ignored.  The interval on the exponent
    is the two-sided Student-t interval at ``level`` with n - 2 degrees of freedom.  Returns
    dict(exponent, exponent_low, exponent_high, prefactor, n).  Raises ValueError with fewer than
    3 usable points, or when all usable x are equal.
    """
    from scipy import stats  # a heavy import (~0.8 s) that only a fit needs

    if not 0 < level < 1:
        raise ValueError(f"level {level} must be in (0, 1)")
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y have different lengths ({x.size} and {y.size})")
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if censored is not None:
        ok &= ~np.asarray(censored, dtype=bool).ravel()
    n = int(ok.sum())
    if n < 3:
        raise ValueError(f"a power-law fit needs at least 3 usable points (finite, positive, not "
                         f"censored); got {n} of {x.size}")
    lx, ly = np.log(x[ok]), np.log(y[ok])
    sxx = float(((lx - lx.mean()) ** 2).sum())
    if sxx <= 0:
        raise ValueError("a power-law fit needs at least two distinct x values")
    k = float(((lx - lx.mean()) * (ly - ly.mean())).sum() / sxx)
    c = float(ly.mean() - k * lx.mean())
    resid = ly - (c + k * lx)
    se = math.sqrt(float((resid ** 2).sum()) / (n - 2) / sxx)
    half = float(stats.t.ppf(0.5 + level / 2, n - 2)) * se
    return {"exponent": k, "exponent_low": k - half, "exponent_high": k + half,
            "prefactor": math.exp(c), "n": n}


def format_power_law(fit: dict, level: float = 0.95) -> str:
    """'-1.02 [-1.10, -0.94] (95% CI, n=20)'."""
    return (f"{fit['exponent']:.3g} [{fit['exponent_low']:.3g}, {fit['exponent_high']:.3g}] "
            f"({level:.0%} CI, n={fit['n']})")
