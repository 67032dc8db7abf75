"""Running a sweep: claim, compute and commit every batch not already finished.

:func:`execute` is what ``groklab.run`` / ``groklab.sweep``, the CLI and the figure recipes call.
It opens a :class:`groklab.session.Session` on the results directory (when there is one), skips
finished runs, re-detects finished runs read with other detection settings, and hands the
remaining batches (planned by :func:`groklab.sweep.plan_batches`) to a backend (this process or
Ray), committing each as it comes back.  The torch side of the core is imported here, on first
use, so that reading results never pays for torch.
"""
from __future__ import annotations

import functools
import numbers
import sys
import time
from dataclasses import fields

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import family as registry
from . import provenance
from .backends import Job, make_backend
from .claiming import batch_key
from .detect import Detection
from .errors import ConfigError
from .lazy import load
from .preflight import preflight
from .results import Reader, Results, is_results_dir, load as load_results
from .session import Session
from .store import FINISHED
from .sweep import DEFAULT_BATCH_SIZE, plan_batches
from .tables import redetect

#: the torch side of the core, imported when a sweep first needs it (see groklab.lazy)
COMPUTE = "groklab.compute"
#: the runs columns a re-detection rewrites (besides the detection settings themselves)
DETECTED = ["t1", "t2", "delta_t", "t1_rule", "t2_rule"]
#: seconds between looks at the store while another process computes claimed batches
WAIT_S = 0.5


def execute(configs: list, *, out=None, detection: Detection | None = None,
            batch_size: int = DEFAULT_BATCH_SIZE, device: str = "cpu", save_iterates: bool = False,
            quiet: bool = True, shard: tuple[int, int] | None = None, backend="local",
            address: str | None = None, ray_cpus_per_task: int = 1,
            threads: int | None = None) -> Results:
    """Run every config not already finished in ``out``; return all results for these configs
    (read lazily from ``out`` when given).

    ``backend="ray"`` sends the batches to Ray workers (one task of ``ray_cpus_per_task`` CPUs per
    batch; ``address`` as for ``ray.init``: None = a local instance, "auto" = the cluster on this
    machine) and commits each to ``out`` as it comes back, so a rerun resumes just the same.

    ``shard=(i, k)`` runs only the runs whose id hashes to i modulo k: k processes or cluster jobs
    (a SLURM array, say) given the same grid and the same ``out`` split it without overlap, each
    committing its own parts.  Two identical commands into one ``out`` compute each batch once
    (batch claims, :mod:`groklab.claiming`); the later one waits for the other's batches.

    ``threads``: torch threads per local batch (default: one below
    ``groklab.compute.SMALL_BATCH`` runs, torch's count above).

    ``save_iterates``: False / 0 none, True / K >= 1 the iterates of every K-th log point and
    the last (docs/checkpoints.md).
    """
    if not isinstance(save_iterates, numbers.Integral) or save_iterates < 0:  # bool is Integral
        raise ConfigError("save_iterates", f"{save_iterates!r} is out of range: must be an "
                          "integer K >= 1 (every K-th log point) or 0 / False (none)")
    if save_iterates:
        for cfg in configs:
            why = cfg.iterates_unavailable()
            if why:
                raise ConfigError("save_iterates", why)
    # before torch, data or any write: one line for what cannot fit here or cannot be written
    est = preflight(configs, out=out, batch_size=batch_size, save_iterates=save_iterates,
                    device=device, shard=shard, local=backend == "local")
    compute = load(COMPUTE)
    if backend != "ray" or not str(device).startswith("cuda"):
        compute.check_device(device)  # a Ray cluster's GPUs need not be on this machine
    det = detection or (registry.of(configs[0]).detection if configs else Detection())
    # the backend first: an unreachable cluster or a missing Ray is refused before any write
    runner = make_backend(backend, address=address, cpus_per_task=ray_cpus_per_task, quiet=quiet) \
        if isinstance(backend, str) else backend
    if shard is not None:
        i, k = shard
        configs = [cfg for cfg in configs if int(cfg.run_id(), 16) % k == i]
    wanted = {cfg.run_id() for cfg in configs}
    # what is left and whether it is valid (every lr checked on its data) before anything is
    # written: bad input leaves no directory behind
    done = _finished(out)
    todo = [cfg for cfg in configs if cfg.run_id() not in done]
    cache = compute.prepare_data(todo)
    if todo and hasattr(runner, "connect"):
        runner.connect()  # a cluster that does not answer is refused before anything is written
    session = None
    if out is not None:
        record = provenance.collect(
            engines={cfg.problem: cfg.engine_version for cfg in configs},
            runtime={}, device=str(device), threads=threads or compute.torch_threads(),
            backend=backend if isinstance(backend, str) else type(backend).__name__)
        session = Session(out, record, list({c.problem: registry.of(c) for c in configs}.values()))
        session.open()  # may set damaged parts aside: their runs are to do again
        session.record_plan(wanted)
        done = session.finished_ids()
        todo = [cfg for cfg in configs if cfg.run_id() not in done]
        cache.update(compute.prepare_data([c for c in todo
                                           if (c.problem, c.data_key()) not in cache]))
    # todo is a sub-list of the shard's configs in their order: all of them -> preflight's plan
    batches = est.plan if len(todo) == est.runs else plan_batches(todo, batch_size)
    if not quiet and session is not None:
        for problem, n in older_engine_runs(session.root, configs).items():
            print(f"groklab: note: {n} {problem} runs in {session.root} were computed by an older "
                  f"engine than v{registry.get(problem).config.engine_version} and are not "
                  "reused (`groklab status` lists engine versions)", flush=True)
    if session is not None:
        _redetect_stale(session, wanted & done, det)
    job = Job(local=functools.partial(compute.run_batch_tables, cache=cache, det=det, device=device,
                                      save_iterates=save_iterates, threads=threads),
              remote=compute.remote_batch, remote_args=(det, device, save_iterates))
    sink = _Sink(session, {cfg.run_id(): cfg.steps for cfg in todo})
    total = sum(cfg.steps for cfg in todo)
    bar = None
    if not quiet and todo:
        # redraw at most every 5 s into a log file (CI, cluster jobs), 10 times a second on a tty
        bar = tqdm(total=total, unit="step", unit_scale=True, desc=f"{len(todo)} runs",
                   dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 5.0)
    t_start = time.perf_counter()
    status = "interrupted"
    try:
        if session is None:
            _run(runner, batches, job, device, bar, sink, len(todo))
        else:
            _run_claimed(session, runner, batches, job, device, bar, sink, len(todo), quiet)
        status = "finished"
    finally:
        if bar is not None:
            bar.close()
        if session is not None:
            session.close(status)
    if not quiet:
        print(closing_line(len(configs), len(todo), sink, session,
                           time.perf_counter() - t_start), flush=True)
    if session is not None:
        res = load_results(session.root, run_ids=wanted)
        res.runs  # noqa: B018 -- the runs table as this sweep left it (curves are read on use)
        return res
    return sink.results()


class _Sink:
    """Where finished batches go: the session's store, or memory when there is no ``out``."""

    def __init__(self, session: Session | None, steps: dict[str, int]):
        self.session = session
        self.frames: tuple[list, list, list] = ([], [], [])
        self.steps = steps  # run id -> steps, of the runs this command set out to compute
        self.computed = 0  # runs computed here
        self.computed_steps = 0

    def put(self, runs_df, curves_df, it_df) -> None:
        self.computed += len(runs_df)
        self.computed_steps += sum(self.steps.get(rid, 0) for rid in runs_df.run_id)
        if self.session is not None:
            self.session.commit(runs_df, curves_df, it_df)
            return
        for acc, df in zip(self.frames, (runs_df, curves_df, it_df)):
            if df is not None:
                acc.append(df)

    def results(self) -> Results:
        runs, curves, its = (pd.concat(f, ignore_index=True) if f else None for f in self.frames)
        if curves is not None:
            curves["run_id"] = curves["run_id"].astype(str)
        return Results(runs=runs if runs is not None else pd.DataFrame(),
                       curves=curves if curves is not None else pd.DataFrame(), iterates=its)


def closing_line(n_runs: int, n_todo: int, sink: _Sink, session: Session | None,
                 elapsed: float) -> str:
    """What a command says when it ends: how many runs it computed, how many another command
    committed meanwhile (the waiting twin of two identical commands), how many were there."""
    before = n_runs - n_todo
    where = f" in {session.root}" if session is not None else ""
    if not n_todo:
        return f"groklab: all {n_runs} runs already finished{where}; nothing to compute"
    rate = f"{sink.computed_steps / max(elapsed, 1e-9):.3g} run-steps/s"
    stored = session.committed_runs if session is not None else sink.computed
    other = n_todo - stored
    if not other:
        return (f"groklab: {n_todo} runs in {elapsed:.1f} s ({rate}); {before} already "
                "finished")
    if not sink.computed:
        return (f"groklab: {n_todo} runs, all committed by another process meanwhile; "
                f"{before} already finished")
    twice = session.dropped_runs if session is not None else 0
    also = f" ({twice} of them also computed here, stored once)" if twice else ""
    return (f"groklab: {n_todo} runs: {sink.computed} computed here in {elapsed:.1f} s ({rate}), "
            f"{other} committed by another process{also}; {before} already finished")


def _finished(out) -> set[str]:
    """Finished run ids in ``out`` (read only; damaged parts count as not finished)."""
    if out is None or not is_results_dir(out):
        return set()
    runs = Reader(out, warn=False).runs(columns=["status"])
    return set(runs.run_id[runs.status.isin(FINISHED)]) if len(runs) else set()


def older_engine_runs(out, configs) -> dict[str, int]:
    """problem -> how many runs in ``out`` an older engine of that family computed (they are
    not reused: the engine version is part of the run id)."""
    if out is None or not is_results_dir(out):
        return {}
    runs = Reader(out, warn=False).runs(columns=["problem", "engine_version"])
    if not len(runs) or "engine_version" not in runs:
        return {}
    current = {cfg.problem: cfg.engine_version for cfg in configs}
    ver = runs.engine_version.fillna(1).astype(int)
    out_ = {}
    for problem, v in current.items():
        n = int(((runs.problem == problem) & (ver < v)).sum())
        if n:
            out_[problem] = n
    return out_


def _run(runner, batches, job, device, bar, sink: _Sink, n_todo: int, after=None) -> None:
    # a generator of finished batches; closing it (finally) cancels work still in flight
    finished = runner.map(batches, job, device, progress=bar.update if bar is not None else None)
    n_done = 0
    try:
        for batch, tables in finished:
            sink.put(*tables)
            if after is not None:
                after(batch)
            n_done += len(tables[0])
            if bar is not None:
                bar.set_description(f"{n_done}/{n_todo} runs")
    finally:
        finished.close()


def _run_claimed(session: Session, runner, batches, job, device, bar, sink, n_todo, quiet):
    """Compute the batches no live process has claimed; then wait for the others' batches,
    taking over any whose owner died before committing it.

    A claim is taken first and what is committed read after it: an owner commits a batch before
    it releases the claim, so a claim found free because its batch was just finished finds the
    batch's runs committed here (reading them before taking the claim would compute them
    again)."""
    claims = session.claims
    keyed = [(batch_key(b), b) for b in batches]
    taken = [(k, b) for k, b in keyed if claims.take(k)]
    theirs = [(k, b) for k, b in keyed if k not in claims.mine]
    mine = _left_to_do(session, taken)
    _run(runner, [b for _, b in mine], job, device, bar, sink, n_todo,
         after=_releaser(claims, mine))
    said = False
    while theirs:
        session.ledger.refresh()
        left = []
        for key, b in theirs:
            if not session.unfinished(b, refresh=False):
                continue  # committed by its owner
            if not claims.take(key):
                left.append((key, b))
                continue
            # its owner died, or committed and released it just now: do what is not committed
            took = _left_to_do(session, [(key, b)])
            _run(runner, [b for _, b in took], job, device, bar, sink, n_todo,
                 after=_releaser(claims, took))
        theirs = left
        if theirs:
            if not quiet and not said:
                owner = claims.owner(theirs[0][0]) or {}
                print(f"groklab: {len(theirs)} batch(es) are being computed by another groklab "
                      f"process (pid {owner.get('pid', '?')}); waiting for them", flush=True)
                said = True
            time.sleep(WAIT_S)


def _left_to_do(session: Session, taken: list) -> list:
    """(claim, rows still to compute) for batches whose claims this process holds, reading what
    is committed only now; a claim whose batch is all committed is released at once."""
    session.ledger.refresh()
    out = []
    for key, b in taken:
        rows = session.unfinished(b, refresh=False)
        if rows:
            out.append((key, rows))
        else:
            session.claims.release(key)
    return out


def _releaser(claims, keyed: list):
    """after(batch) for :func:`_run`: release the claim the batch was computed under."""
    key_of = {id(b): k for k, b in keyed}
    return lambda b: claims.release(key_of[id(b)])


def _redetect_stale(session: Session, ids: set, det: Detection) -> None:
    """Finished runs read with other detection settings get t1/t2 re-read from their curves."""
    if not ids:
        return
    reader = Reader(session.root, warn=False)
    runs = reader.runs()
    runs = runs[runs.run_id.isin(ids)]
    names = [f.name for f in fields(Detection)]
    same = np.ones(len(runs), dtype=bool)
    for n in names:
        if n not in runs:  # a setting added since these runs were stored: re-read them
            same[:] = False
            break
        same &= (runs[n] == getattr(det, n)).to_numpy()
    stale = runs[~same]
    if stale.empty:
        return
    curves = reader.table("curves", set(stale.run_id))
    session.rewrite_runs(redetect(stale, curves if curves is not None else pd.DataFrame(
        columns=["run_id", "step", "train_error", "test_error"]), det), DETECTED + names)
