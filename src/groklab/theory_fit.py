"""Power-law fits of measured times against alpha * beta (the paper's Delta t ~ 1/(alpha beta)).

Used by ``groklab report --fit``, the sweep summary plots and the figures; the family decides
which penalty strength is beta.

Two fits.  :func:`fit_power_law` is least squares of log time on log(alpha beta) over the runs
whose time was detected.  It is biased whenever the slow runs are cut off by the horizon: at small
alpha beta only the runs that happened to be fast are kept, which flattens the fitted slope.
:func:`fit_power_law_censored` keeps those runs as right-censored observations (the time is
only known to exceed the horizon): a log-normal accelerated-failure-time (Tobit) likelihood,
log t = log c + k log x + sigma eps with eps ~ N(0, 1), maximized over (log c, k, log sigma),
with a profile-likelihood interval on k.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class CensoredFit:
    """The censored (Tobit / log-normal AFT) fit of time = prefactor * x**exponent, next to the
    naive least-squares fit over the detected runs only (NaN where that fit is impossible)."""

    exponent: float
    ci_low: float
    ci_high: float
    prefactor: float
    sigma: float  # residual standard deviation of log time
    n: int  # usable runs: detected + censored
    n_censored: int
    level: float
    naive_exponent: float
    naive_low: float
    naive_high: float
    naive_n: int

    def text(self) -> str:
        naive = (f"{self.naive_exponent:.4g} [{self.naive_low:.4g}, {self.naive_high:.4g}]"
                 if math.isfinite(self.naive_exponent) else "not possible")
        return (f"k = {self.exponent:.4g}, {self.level:.0%} CI [{self.ci_low:.4g}, "
                f"{self.ci_high:.4g}] (profile likelihood), n = {self.n} runs of which "
                f"{self.n_censored} censored at the horizon; naive fit over the "
                f"{self.naive_n} detected: {naive}")


def _tobit_newton(D: np.ndarray, cens: np.ndarray, u: np.ndarray, g_idx: int):
    """Minimize the Tobit negative log-likelihood in Olsen's parameters, where it is convex:
    z = D @ u is the standardized residual (log t - log c - k log x) / sigma of every run, u
    holds gamma = 1 / sigma at ``g_idx``.  nll = sum_detected z^2 / 2 - n_detected log gamma
    + sum_censored -log Phi(-z).  Newton with backtracking; returns (nll, u)."""
    from scipy.special import erfcx, log_ndtr

    obs = ~cens
    n_obs = int(obs.sum())

    def nll(v):
        if v[g_idx] <= 0:
            return math.inf
        z = D @ v
        return float(0.5 * (z[obs] ** 2).sum() - log_ndtr(-z[cens]).sum()
                     - n_obs * math.log(v[g_idx]))

    f = nll(u)
    for _ in range(200):
        z = D @ u  # (n,)
        d1, d2 = np.where(obs, z, 0.0), np.where(obs, 1.0, 0.0)
        # censored: d/dz -log Phi(-z) = the inverse Mills ratio phi(z) / Phi(-z), written with
        # erfcx so it stays finite for any z; its derivative lam (lam - z) lies in (0, 1)
        lam = math.sqrt(2 / math.pi) / erfcx(z[cens] / math.sqrt(2))
        d1[cens], d2[cens] = lam, lam * (lam - z[cens])
        grad = D.T @ d1
        grad[g_idx] -= n_obs / u[g_idx]
        hess = (D * d2[:, None]).T @ D
        hess[g_idx, g_idx] += n_obs / u[g_idx] ** 2
        step = np.linalg.solve(hess + 1e-12 * np.eye(len(u)), grad)
        dec = float(grad @ step)  # Newton decrement^2: the predicted drop is dec / 2
        if dec < 1e-14:
            break
        lr = 1.0
        while nll(u - lr * step) > f - 0.25 * lr * dec and lr > 1e-12:
            lr /= 2
        u = u - lr * step
        f = nll(u)
    return f, u


def profile_critical_value(level: float, n_detected: int) -> float:
    """The bound on twice the profile log-likelihood drop that defines the interval on k.

    n log(1 + t^2 / (n - 2)) with the Student-t quantile at ``level`` on n - 2 degrees of
    freedom, n = the detected runs: without censoring the profile interval is then exactly the
    least-squares Student-t interval (the profile is n/2 log(1 + (k - k_hat)^2 Sxx / RSS)); with
    censoring it keeps that small-sample widening (the chi-square(1) quantile, its limit for large
    n, undercovers with a few dozen runs).  chi-square(1) with only 2 detected runs."""
    from scipy import stats

    dof = n_detected - 2
    if dof < 1:
        return float(stats.chi2.ppf(level, 1))
    return n_detected * math.log1p(float(stats.t.ppf(0.5 + level / 2, dof)) ** 2 / dof)


def fit_power_law_censored(x, t, horizon, level: float = 0.95) -> CensoredFit:
    """Fit t = prefactor * x**exponent treating every run with a non-finite (or NaN) ``t`` as
    right-censored at its ``horizon`` (a scalar or one value per run: the last logged step, or
    for Delta t the horizon minus t1).  Points with non-finite or non-positive x, or a censored
    point without a positive finite horizon, are left out.  The interval is where twice the log-
    likelihood drop of the profile over k stays below :func:`profile_critical_value` (an infinite
    end where the data do not bound k); without censored runs it is the Student-t interval.  Raises ValueError with fewer than 3 usable
    points, fewer than 2 detected ones, or all x equal."""
    from scipy.optimize import brentq

    if not 0 < level < 1:
        raise ValueError(f"level {level} must be in (0, 1)")
    x = np.asarray(x, dtype=float).ravel()
    t = np.asarray(t, dtype=float).ravel()
    h = np.broadcast_to(np.asarray(horizon, dtype=float), x.shape).astype(float)
    if t.shape != x.shape:
        raise ValueError(f"x and t have different lengths ({x.size} and {t.size})")
    detected = np.isfinite(t) & (t > 0)
    cens = ~np.isfinite(t) & np.isfinite(h) & (h > 0)
    ok = np.isfinite(x) & (x > 0) & (detected | cens)
    n, n_obs = int(ok.sum()), int((ok & detected).sum())
    if n < 3 or n_obs < 2:
        raise ValueError(f"a censored power-law fit needs at least 3 usable runs, 2 of them "
                         f"detected; got {n} usable, {n_obs} detected, of {x.size}")
    lx = np.log(x[ok])
    ly = np.log(np.where(detected, t, h)[ok])
    cens = cens[ok] & ~detected[ok]
    if np.ptp(lx) <= 0:
        raise ValueError("a power-law fit needs at least two distinct x values")
    try:
        naive = fit_power_law(x[ok][~cens], t[ok][~cens], level=level)
        nk, nlo, nhi = naive["exponent"], naive["exponent_low"], naive["exponent_high"]
    except ValueError:
        nk = nlo = nhi = math.nan
    common = dict(n=n, n_censored=int(cens.sum()), level=level, naive_exponent=nk,
                  naive_low=nlo, naive_high=nhi, naive_n=int((~cens).sum()))
    crit = profile_critical_value(level, n - int(cens.sum()))
    if not cens.any():
        # no censoring: the maximum-likelihood line is least squares (sigma^2 = RSS / n) and the
        # profile is n/2 log(1 + (k - k_hat)^2 Sxx / RSS): the interval in closed form
        sxx = float(((lx - lx.mean()) ** 2).sum())
        k_hat = float(((lx - lx.mean()) * (ly - ly.mean())).sum() / sxx)
        a_hat = float(ly.mean() - k_hat * lx.mean())
        rss = float(((ly - a_hat - k_hat * lx) ** 2).sum())
        half = math.sqrt(rss * math.expm1(crit / n) / sxx)
        return CensoredFit(exponent=k_hat, ci_low=k_hat - half, ci_high=k_hat + half,
                           prefactor=math.exp(a_hat), sigma=math.sqrt(rss / n), **common)
    # start: least squares over every point, censored ones at their horizon (a lower bound)
    k0, a0 = np.polyfit(lx, ly, 1)
    g0 = 1 / max(float(np.std(ly - a0 - k0 * lx)), 1e-3)
    one = np.ones_like(lx)
    # u = (log c / sigma, k / sigma, 1 / sigma): z = u2 ly - u0 - u1 lx
    nll_hat, u = _tobit_newton(np.column_stack([-one, -lx, ly]), cens,
                               np.array([a0 * g0, k0 * g0, g0]), 2)
    k_hat = float(u[1] / u[2])

    def drop(k):  # profile nll(k) - min - crit / 2, over (log c / sigma, 1 / sigma): < 0 inside
        f, _ = _tobit_newton(np.column_stack([-one, ly - k * lx]), cens, u[[0, 2]], 1)
        return f - nll_hat - crit / 2

    span = 1.0 + abs(k_hat)
    ends = []
    for sign in (-1.0, 1.0):
        far = k_hat + sign * span
        while (d := drop(far)) < 0 and abs(far - k_hat) < 1e3 * span:
            far = k_hat + 2 * (far - k_hat)
        ends.append(brentq(drop, *sorted((k_hat, far)), xtol=1e-10) if d >= 0
                    else sign * math.inf)
    return CensoredFit(exponent=k_hat, ci_low=ends[0], ci_high=ends[1],
                       prefactor=math.exp(u[0] / u[2]), sigma=float(1 / u[2]), **common)


def censored_fit(x, y, level: float = 0.95, censored=None) -> dict:
    """:func:`fit_power_law_censored` with :func:`fit_power_law`'s signature and result: ``y``
    holds the detected times and, where ``censored`` is true, the runs' lower bounds (the
    horizon, or horizon - t1 for a delay).  Returns dict(exponent, exponent_low, exponent_high,
    prefactor, n, n_censored, sigma, naive_exponent, naive_low, naive_high).  Which runs count as
    censored is the caller's choice: a run whose error stopped falling above the threshold will
    not generalize by waiting, and counting it as censored biases the law (groklab.stats.fit_inputs
    tells the two apart)."""
    y = np.asarray(y, dtype=float).ravel()
    cens = np.zeros(y.shape, bool) if censored is None else np.asarray(censored, bool).ravel()
    f = fit_power_law_censored(x, np.where(cens, np.nan, y), np.where(cens, y, np.nan), level)
    return {"exponent": f.exponent, "exponent_low": f.ci_low, "exponent_high": f.ci_high,
            "prefactor": f.prefactor, "n": f.n, "n_censored": f.n_censored, "sigma": f.sigma,
            "naive_exponent": f.naive_exponent, "naive_low": f.naive_low,
            "naive_high": f.naive_high}
