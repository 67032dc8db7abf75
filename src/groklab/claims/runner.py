"""The check runner: run each needed recipe once (resumable, into ``OUT/<recipe>``), measure every
claim, apply its rule, and write ``OUT/claims.parquet`` (one row per claim).

A recipe that raises (a figure that cannot be drawn, a family that is not installed) makes the
claims that need it *inconclusive* with the error as the reason; the other claims go on.  A
measurement that raises :class:`Inconclusive` -- or any other error, whose type and message are
kept -- is inconclusive as well: the checker never turns an unreadable result into a pass.
"""
from __future__ import annotations

import importlib.util
import json
import math
import multiprocessing
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

from .. import family as registry
from .. import figures
from .. import load
from ..fields import ConfigError
from ..plotting import plot_results
from ..store import atomic_write_parquet
from .record import INCONCLUSIVE, MISSING, PAPER, STATUSES, Claim, Inconclusive, Verdict

CLAIMS_FILE = "claims.parquet"


def paper_claims() -> list[Claim]:
    """Every registered family's claims: the ``CLAIMS`` list its figures module exports (a family
    names its figures module in its record; two families may share one), in registry order."""
    claims, seen = [], set()
    for fam in registry.all_families():
        mod = fam.figures_module()
        if mod is None or id(mod) in seen:
            continue
        seen.add(id(mod))
        claims += list(getattr(mod, "CLAIMS", ()))
    _unique(claims, "the families' claims")
    return claims


def _unique(claims, where: str) -> None:
    seen = set()
    for c in claims:
        if c.id in seen:
            raise ValueError(f"{where}: claim id {c.id!r} appears twice")
        seen.add(c.id)


def load_claims_file(path) -> list[Claim]:
    """The ``CLAIMS`` list of a user's Python file (docs/claims.md describes the contract)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("claims_file", f"{path!r} is not a file")
    spec = importlib.util.spec_from_file_location(f"groklab_user_claims_{p.stem}", p)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception as e:  # the user's code: one line, no traceback
        raise ConfigError("claims_file", f"{path}: {type(e).__name__}: {e}") from None
    claims = getattr(mod, "CLAIMS", None)
    if not isinstance(claims, (list, tuple)) or not all(isinstance(c, Claim) for c in claims):
        raise ConfigError("claims_file", f"{path}: must define CLAIMS, a list of "
                          "groklab.claims.Claim")
    return list(claims)


def select(claims: list[Claim], ids: str | None) -> list[Claim]:
    if ids is None:
        return claims
    want = [i.strip() for i in ids.split(",")]
    if any(not i for i in want):
        raise ConfigError("claims", f"{ids!r} has an empty item")
    known = {c.id: c for c in claims}
    bad = [i for i in want if i not in known]
    if bad:
        raise ConfigError("claims", f"unknown claim id(s) {', '.join(bad)}; `groklab check "
                          "--list` prints them")
    return [known[i] for i in dict.fromkeys(want)]


def run_recipe(recipe, out: Path, full: bool, quiet: bool) -> tuple[object, Path | None]:
    """Run (or resume) one recipe into ``out / recipe.name``; return its Results and picture."""
    where = out / recipe.name
    if recipe.figure is not None:
        figs = figures.all_figures()
        if recipe.figure not in figs:
            raise Inconclusive(f"figure {recipe.figure!r} is not registered")
        png = figs[recipe.figure].reproduce(where, full=full, quiet=quiet)
        return load(where), Path(png)
    fam = registry.get(recipe.problem)
    token = figures.EXEC.set({"threads": 1})  # as the figures run: one torch thread per sweep
    try:
        res = figures.run_grids(recipe.grids(full), where, problem=recipe.problem, quiet=quiet,
                                detection=recipe.detection or fam.detection)
    finally:
        figures.EXEC.reset(token)
    png = where / f"{recipe.name}.png"
    if not recipe.draw:
        return res, None
    if png.is_file() and png.stat().st_mtime_ns >= _newest(where, but=png):
        return res, png  # drawn from these very runs already (a resumed check)
    try:
        return res, plot_results(res, png)
    except ValueError:  # nothing to draw (e.g. every run diverged): the numbers still stand
        return res, None


def _newest(root: Path, but: Path) -> int:
    """The newest modification time of the files under ``root`` other than ``but``."""
    return max((p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and p != but),
               default=0)


def judge(claim: Claim, evidence: dict, failed: dict) -> Verdict:
    """Measure one claim on the evidence and apply its rule."""
    t0 = time.perf_counter()
    missing = [r.name for r in claim.recipes if r.name in failed]
    if missing:
        why = "; ".join(f"recipe {n} failed: {failed[n]}" for n in missing)
        return Verdict(claim, INCONCLUSIVE, {}, why, why_inconclusive=MISSING)
    try:
        measured = dict(claim.measure(evidence))
    except Inconclusive as e:
        return Verdict(claim, INCONCLUSIVE, {}, str(e), time.perf_counter() - t0,
                       why_inconclusive=e.kind)
    except Exception as e:  # a measurement that cannot read its evidence says so
        return Verdict(claim, INCONCLUSIVE, {}, f"measurement error: {type(e).__name__}: {e}",
                       time.perf_counter() - t0, why_inconclusive=MISSING)
    status, why, kind = claim.rule.decide_why(measured)
    if status not in STATUSES:
        raise ValueError(f"claim {claim.id}: rule returned {status!r}")
    return Verdict(claim, status, measured, why, time.perf_counter() - t0, why_inconclusive=kind)


def default_jobs() -> int:
    """The CPUs this process may use: one recipe per CPU (each recipe's sweep runs on one torch
    thread, as ``groklab reproduce`` runs it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _recipe_job(recipe, out: Path, full: bool, quiet: bool):
    """One recipe in a worker process: run it, return what the parent needs to read it back
    (the run ids of a grid recipe's view, its picture) and the seconds it took.  The Results
    themselves stay on disk: the parent reads them lazily from ``out / recipe.name``."""
    t0 = time.perf_counter()
    try:
        res, png = run_recipe(recipe, out, full, quiet)
    except Exception as e:  # reported by the parent as the recipe's failure
        return None, None, f"{type(e).__name__}: {e}", time.perf_counter() - t0
    ids = getattr(res, "run_ids", None)
    return (sorted(ids) if ids is not None else None), (str(png) if png else None), None, \
        time.perf_counter() - t0


def _init_worker(claims_file) -> None:
    """A worker starts fresh: a claims file's imports (the families it registers) run again."""
    if claims_file is not None:
        load_claims_file(claims_file)


def _run_parallel(recipes, out: Path, full: bool, quiet: bool, jobs: int, log, claims_file):
    """The recipes on ``jobs`` worker processes, the longest first (their declared quick cost),
    so the slowest sweep does not start last.  Workers are spawned, not forked: a parent that
    has imported torch (a user's claims file) must not fork its thread pools."""
    order = sorted(recipes, key=lambda r: -(r.cost_s or 0.0))
    travels = [_picklable(r) for r in order]  # not: e.g. a claims file's own detection class
    local = [r for r, ok in zip(order, travels) if not ok]
    order = [r for r, ok in zip(order, travels) if ok]
    evidence, pictures, failed, cost = _run_serial(local, out, full, quiet, log)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(claims_file,)) as pool:
        futures = {pool.submit(_recipe_job, r, out, full, quiet): r for r in order}
        for fut in as_completed(futures):
            r = futures[fut]
            try:
                ids, png, err, seconds = fut.result()
            except Exception as e:  # the worker itself died (memory, a signal)
                ids, png, err, seconds = None, None, f"worker failed: {type(e).__name__}: {e}", 0.0
            cost[r.name] = seconds
            if err is not None:
                failed[r.name] = err
            else:
                evidence[r.name] = load(out / r.name, run_ids=ids)
                pictures[r.name] = Path(png) if png else None
            _log_recipe(log, r.name, seconds, err)
    return evidence, pictures, failed, cost


def _log_recipe(log, name: str, seconds: float, err: str | None) -> None:
    if log:
        log(f"recipe {name}: {seconds:.1f} s" + (f" (failed: {err})" if err else ""))


def _picklable(recipe) -> bool:
    try:
        pickle.dumps(recipe)
        return True
    except Exception:  # a user's object that cannot travel: that recipe runs in this process
        return False


def _run_serial(recipes, out: Path, full: bool, quiet: bool, log):
    evidence, pictures, failed, cost = {}, {}, {}, {}
    for recipe in recipes:
        t0 = time.perf_counter()
        try:
            evidence[recipe.name], pictures[recipe.name] = run_recipe(recipe, out, full, quiet)
        except KeyboardInterrupt:
            raise
        except Exception as e:
            failed[recipe.name] = f"{type(e).__name__}: {e}"
        cost[recipe.name] = time.perf_counter() - t0
        _log_recipe(log, recipe.name, cost[recipe.name], failed.get(recipe.name))
    return evidence, pictures, failed, cost


def check(claims: list[Claim], out, full: bool = False, quiet: bool = True,
          log=None, jobs: int = 1, claims_file=None) -> list[Verdict]:
    """Run the recipes the claims need (each once; on ``jobs`` processes side by side when more
    than one), judge every claim, write claims.parquet.  The numbers do not depend on ``jobs``:
    every recipe's sweep runs on one torch thread either way.  Workers see the families of the
    registry's discovery (the package, entry points, ``GROKLAB_FAMILIES``) and those that
    ``claims_file`` registers; a family registered otherwise in this process needs ``jobs=1``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    recipes = list(dict((r.name, r) for c in claims for r in c.recipes).values())
    jobs = min(jobs, len(recipes))
    if jobs > 1:
        evidence, pictures, failed, cost = _run_parallel(recipes, out, full, quiet, jobs, log,
                                                         claims_file)
    else:
        evidence, pictures, failed, cost = _run_serial(recipes, out, full, quiet, log)
    verdicts = []
    for c in claims:
        v = judge(c, evidence, failed)
        v.seconds += sum(cost.get(r.name, 0.0) for r in c.recipes)
        v.picture = str(pictures[c.picture]) if pictures.get(c.picture) else None
        verdicts.append(v)
    write_table(verdicts, out / CLAIMS_FILE, full)
    return verdicts


def _jsonable(v):
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else (str(f) if math.isinf(f) else f)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    return v if v is None or isinstance(v, (int, str)) else str(v)


#: the columns of claims.parquet (and of ``groklab check --list``, without the verdict's)
CLAIM_COLUMNS = ["id", "source", "section", "where", "paper_says", "why", "statement", "figure",
                 "recipes", "rule", "note", "setting_quick", "stand_in_quick", "setting_full",
                 "stand_in_full"]


def describe(c: Claim) -> dict:
    """A claim as one row: whose it is, what the paper says and where, what groklab tests, and
    its setting at each scale (faithful / stand-in and what differs, or own for an extension)."""
    (sq, wq), (sf, wf) = c.setting(False), c.setting(True)
    return {"id": c.id, "source": c.source, "section": c.section, "where": c.where,
            "paper_says": c.paper_says, "why": c.why, "statement": c.statement,
            "figure": ",".join(c.figures), "recipes": ",".join(r.name for r in c.recipes),
            "rule": c.rule.text, "note": c.note, "setting_quick": sq, "stand_in_quick": wq,
            "setting_full": sf, "stand_in_full": wf}


def listing(claims: list[Claim]) -> pd.DataFrame:
    """``groklab check --list``: one row per claim, with the quick recipes' declared cost."""
    rows = [dict(describe(c), quick_cost_s=sum(r.cost_s or 0 for r in c.recipes))
            for c in claims]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS + ["quick_cost_s"])


def table(verdicts: list[Verdict], full: bool = False) -> pd.DataFrame:
    rows = []
    for v in verdicts:
        c = v.claim
        setting, stand_in = c.setting(full)
        rows.append({**describe(c), "status": v.status, "why_inconclusive": v.why_inconclusive,
                     "reason": v.reason,
                     "measured": json.dumps({k: _jsonable(x) for k, x in v.measured.items()},
                                            ensure_ascii=False, sort_keys=True),
                     "scale": "full" if full else "quick", "setting": setting,
                     "stand_in": stand_in, "seconds": round(v.seconds, 2),
                     "picture": v.picture or ""})
    return pd.DataFrame(rows)


def write_table(verdicts: list[Verdict], path: Path, full: bool = False) -> None:
    atomic_write_parquet(table(verdicts, full), path)


def print_table(verdicts: list[Verdict], stream=None, full: bool = False) -> None:
    """One line per claim: id, status (with why, when inconclusive), whose claim and at what
    setting, and the reason (the numbers the rule read); then the counts, the paper's claims at
    the paper's settings apart."""
    stream = stream or sys.stdout
    w = max([len(v.claim.id) for v in verdicts] + [5])
    for v in verdicts:
        status = v.status.upper() + (f" ({v.why_inconclusive})" if v.why_inconclusive else "")
        setting = v.claim.setting(full)[0]
        whose = "paper" if v.claim.source == PAPER else v.claim.source
        stream.write(f"{v.claim.id:<{w}}  {status:<24}  {whose:<9}  {setting:<8}  "
                     f"{v.reason}\n")
    counts = {s: sum(v.status == s for v in verdicts) for s in STATUSES}
    stream.write(", ".join(f"{n} {s}" for s, n in counts.items()) + f" of {len(verdicts)} claims\n")
    faithful = [v for v in verdicts if v.claim.setting(full)[0] == "faithful"]
    stand_in = [v for v in verdicts if v.claim.setting(full)[0] == "stand-in"]
    if faithful or stand_in:
        fc = {s: sum(v.status == s for v in faithful) for s in STATUSES}
        stream.write("the paper's claims at the paper's settings: "
                     + ", ".join(f"{n} {s}" for s, n in fc.items())
                     + f" of {len(faithful)}; {len(stand_in)} at stand-in settings (not counted)"
                     "\n")
