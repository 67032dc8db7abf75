"""Before a sweep allocates or writes anything: what it will cost, and whether it can run here.

:func:`estimate` counts runs and batches (the real :func:`groklab.grid.plan_batches`) and
estimates the peak memory, the disk its results take and the time, from each family's
``resources`` hook (a method of its config, pure arithmetic on the config's sizes: see
docs/grids.md, "Estimates").  :func:`check` refuses, in one line naming the option (a
:class:`ConfigError`, exit status 2), what cannot fit:

- a logging schedule of more than ``schedule.MAX_POINTS`` points per run (``--steps 1e12``);
- data sets or a batch larger than this machine's available memory (MemAvailable, or the cgroup
  limit when lower), suggesting ``--runs-per-batch`` or smaller sizes;
- an ``--out`` that is a file, is not writable, or sits on a disk without room for the results.

``groklab run ... --dry-run`` prints :func:`describe` and stops.  Torch-free: the estimate of a
CUDA batch is not checked here (that would need torch), only its data, made on the host.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import family as registry
from .errors import ConfigError
from .grid import plan_batches
from .schedule import MAX_POINTS, schedule_length

#: resident memory of a process that has imported torch and groklab, before any data (measured:
#: ~0.35 GiB on Linux x86-64); counted in every peak
BASE_BYTES = 400 * 2 ** 20
#: memory of one config object of a sweep (its instance dict)
CONFIG_BYTES = 600
#: bookkeeping of one run outside the engine (its table rows, the store): 1.9-4.3 ms per run
#: measured for short sweeps before the store's rewrite; counted in the time estimate
RUN_SECONDS = 2e-3
#: and of one (run, logged step) row of the curves (built, written, read back)
ROW_SECONDS = 2e-6
#: start-up: importing torch, pandas, the family's runtime
START_SECONDS = 5.0
#: disk of one run's row in runs.parquet when the family says nothing (ids, fields, results)
RUN_ROW_BYTES = 1024


@dataclass
class Estimate:
    runs: int = 0
    batches: int = 0
    largest_batch: int = 0  # runs in the largest batch
    data_sets: int = 0
    data_bytes: float = 0.0  # every data set of the sweep (they are kept for the whole command)
    batch_bytes: float | None = 0.0  # the largest batch's working set; None = unknown
    batch_cfg: object = None  # the first config of that batch
    batch_data_sets: int = 0
    disk_bytes: float = 0.0
    seconds: float | None = 0.0  # one core; None = unknown
    run_steps: int = 0
    log_points: int = 0  # the longest schedule of one run
    log_cfg: object = None
    size_cfg: object = None  # the config with the largest data set
    size_fields: list = field(default_factory=list)  # the options that size it
    unknown: list = field(default_factory=list)  # families without an estimate
    problems: list = field(default_factory=list)  # the families of the counted configs
    #: the batches themselves (groklab.grid.plan_batches of the counted configs): the driver
    #: runs this very plan when nothing is finished yet, instead of planning a second time
    plan: list = field(default_factory=list, repr=False)

    @property
    def peak_bytes(self) -> float | None:
        if self.batch_bytes is None:
            return None
        return BASE_BYTES + self.runs * CONFIG_BYTES + self.data_bytes + self.batch_bytes


def log_points(cfg) -> int:
    """The length of ``cfg``'s logging schedule (0 for a family without one)."""
    try:
        return schedule_length(int(cfg.steps), int(cfg.log_every), int(cfg.log_dense_until),
                               cfg.log_spacing)
    except (AttributeError, TypeError, ValueError):
        return 0


def _resources(cfg, runs: int, data_sets: int, points: int, save_iterates: bool) -> dict | None:
    hook = getattr(cfg, "resources", None)
    return hook(runs=runs, data_sets=data_sets, log_points=points,
                save_iterates=save_iterates) if hook is not None else None


def estimate(configs: list, *, batch_size: int, save_iterates: bool = False,
             shard: tuple[int, int] | None = None) -> Estimate:
    """Counts and estimates for running ``configs`` (the shard's part of them) in batches of at
    most ``batch_size`` runs.  Builds no tensor."""
    if shard is not None:
        i, k = shard
        configs = [cfg for cfg in configs if int(cfg.run_id(), 16) % k == i]
    est = Estimate(runs=len(configs))
    est.problems = sorted({cfg.problem for cfg in configs})
    if not configs:
        return est
    points: dict = {}  # batch key -> schedule length (every run of a batch shares it)
    seen_data: set = set()
    biggest = 0.0
    batches = plan_batches(configs, batch_size)
    est.batches, est.plan = len(batches), batches
    for batch in batches:
        first = batch[0][0]
        n_runs = sum(len(row) for row in batch)
        key = (first.problem, first.batch_key())
        if key not in points:
            points[key] = log_points(first)
        T = points[key]
        if T > est.log_points:
            est.log_points, est.log_cfg = T, first
        est.largest_batch = max(est.largest_batch, n_runs)
        res = _resources(first, n_runs, len(batch), T, save_iterates)
        if res is None:
            est.unknown.append(first.problem)
            est.batch_bytes = None
            est.seconds = None
            est.disk_bytes += n_runs * (RUN_ROW_BYTES + T * 16 * 8)
            continue
        for row in batch:  # each data set counted once, however many batches use it
            dk = (row[0].problem, row[0].data_key())
            if dk not in seen_data:
                seen_data.add(dk)
                one = _resources(row[0], 1, 1, T, False)
                if est.size_cfg is None or one["data"] > biggest:
                    est.size_cfg, est.size_fields, biggest = row[0], list(one["sizes"]), one["data"]
                est.data_bytes += one["data"]
                if est.seconds is not None:
                    est.seconds += one.get("data_seconds", 0.0)
        if est.batch_bytes is not None and res["batch"] > est.batch_bytes:
            est.batch_bytes, est.batch_cfg, est.batch_data_sets = res["batch"], first, len(batch)
        est.disk_bytes += n_runs * (RUN_ROW_BYTES + res["disk"])
        steps = sum(int(getattr(c, "steps", 0)) for row in batch for c in row)
        est.run_steps += steps
        if est.seconds is not None:
            est.seconds += steps * res["step_seconds"] + n_runs * (RUN_SECONDS + T * ROW_SECONDS)
    est.data_sets = len(seen_data)
    if est.seconds is not None:
        est.seconds += START_SECONDS
    return est


# ---- what this machine has ---------------------------------------------------------------------
#: caps the memory groklab counts on (bytes, or with a K/M/G/T suffix): a share of a machine
MEMORY_ENV = "GROKLAB_MAX_MEMORY"


def _env_limit() -> float:
    text = os.environ.get(MEMORY_ENV, "").strip()
    if not text:
        return math.inf
    scale = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}.get(text[-1].upper(), 1)
    try:
        value = float(text[:-1] if scale != 1 else text) * scale
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise ConfigError.environment(MEMORY_ENV, "not a size: give a positive number of "
                                      "bytes, or with a K, M, G or T suffix (e.g. 8G)")
    return value


def available_memory() -> float:
    """Bytes this process may still allocate: MemAvailable (or free pages), capped by a cgroup
    memory limit when one is set and by GROKLAB_MAX_MEMORY."""
    return min(_machine_memory(), _env_limit())


def _machine_memory() -> float:
    avail = math.inf
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail == math.inf:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return math.inf
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    return avail


def size(n: float | None) -> str:
    if n is None:
        return "unknown"
    if n == math.inf:
        return "unlimited"
    for unit, k in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 2 ** k:
            return f"{n / 2 ** k:.3g} {unit}"
    return f"{int(n)} B"


def duration(s: float | None) -> str:
    if s is None:
        return "unknown"
    for unit, k in (("years", 3.15e7), ("days", 86400), ("h", 3600), ("min", 60)):
        if s >= k:
            return f"{s / k:.3g} {unit}"
    return f"{s:.2g} s"


def _flags(cfg, names) -> str:
    return " ".join(f"--{n.replace('_', '-')} {getattr(cfg, n)}" for n in names)


# ---- the checks ----------------------------------------------------------------------------------
def existing_base(path: Path) -> Path:
    """The deepest existing directory entry on the way to ``path`` (what it would be created
    under); OSError when a part of the way cannot be looked at (permission denied)."""
    base = path.absolute()
    while not os.path.lexists(base) and base != base.parent:
        base = base.parent
    os.stat(base)  # a part of the way that cannot be searched raises here, not later
    return base


def check_out(out, disk_bytes: float = 0.0, option: str = "out") -> None:
    """``out`` can hold the results: not a file, writable, room on its disk.  Nothing is created.
    ``option``: the flag the path came from, for the message (``dest`` for ``export``)."""
    if out is None:
        return
    if str(out) == "":
        raise ConfigError(option, "'' is empty: give a results directory")
    p = Path(out)
    try:
        base = existing_base(p)
    except OSError as e:
        raise ConfigError(option, f"{str(out)!r} cannot be reached: {e.strerror or e}") from None
    if base == p.absolute() and not base.is_dir():
        raise ConfigError(option, f"{str(out)!r} exists and is not a directory")
    if not base.is_dir():
        raise ConfigError(option, f"{str(out)!r}: {str(base)!r} is a file, not a directory")
    try:
        st = os.statvfs(base)
    except OSError:
        st = None
    if not os.access(base, os.W_OK | os.X_OK) or \
            (st is not None and st.f_flag & getattr(os, "ST_RDONLY", 1)):
        raise ConfigError(option, f"{str(out)!r} is not writable ({str(base)!r}: permission "
                          "denied or a read-only file system)")
    if st is None:
        return
    if st.f_blocks == 0:  # /proc, /sys: writable-looking to root, but no file can be made there
        raise ConfigError(option, f"{str(out)!r} is not writable ({str(base)!r} is on a "
                          "virtual file system without storage, such as /proc)")
    free = st.f_bavail * st.f_frsize
    if disk_bytes > free:
        raise ConfigError(option, f"{str(out)!r}: the results need ~{size(disk_bytes)} but its "
                          f"disk has {size(free)} free")


def _options(names) -> str:
    return " / ".join("--" + n.replace("_", "-") for n in names)


def _refuse(cfg, sizes: list, what: str):
    """A ConfigError naming the first size option and its value, the others as flags."""
    if not sizes:
        return ConfigError("runs_per_batch", what)
    rest = f" with {_flags(cfg, sizes[1:])}" if len(sizes) > 1 else ""
    return ConfigError(sizes[0], f"{getattr(cfg, sizes[0])}{rest}: {what}: use smaller "
                       f"{_options(sizes)}")


def _smaller(sizes) -> str:
    return f"smaller {_options(sizes)}" if sizes else "fewer runs"


def _capped(what: str, instead: str) -> ConfigError:
    """The memory refusal when GROKLAB_MAX_MEMORY, not the machine, sets the limit: the line
    names the variable (the sizes are not what the user needs to change first)."""
    return ConfigError.environment(MEMORY_ENV, f"{what} under this cap: raise it (this machine "
                                   f"has {size(_machine_memory())} available) or use {instead}")


def check(est: Estimate, *, out=None, device: str = "cpu", local: bool = True,
          batch_size: int | None = None) -> None:
    """Refuse (ConfigError, one line) what ``est`` says cannot run here; ``local``: the batches
    run in this process (not on Ray workers, whose memory is not known here)."""
    for problem in est.problems:  # e.g. GROKLAB_MATRIX_KERNEL=foo: refused before any write
        hook = registry.get(problem).check_environment
        if hook is not None:
            hook()
    if est.log_points > MAX_POINTS:
        c = est.log_cfg
        raise ConfigError("steps", f"{c.steps} with --log-every {c.log_every} (--log-spacing "
                          f"{c.log_spacing}) logs {est.log_points:,} points per run; at most "
                          f"{MAX_POINTS:,}: raise --log-every or use --log-spacing log")
    avail = available_memory()
    cap = _env_limit()
    capped = cap < math.inf and cap <= avail  # GROKLAB_MAX_MEMORY, not the machine, sets avail
    if capped and BASE_BYTES > cap:
        raise ConfigError.environment(MEMORY_ENV, f"allows {size(cap)}, less than a groklab "
                                      f"process takes before any data (~{size(BASE_BYTES)}): "
                                      "raise it or unset it")
    if est.data_bytes + BASE_BYTES > avail:
        what = (f"the {est.data_sets:,} data set(s) need ~{size(est.data_bytes)} of memory, "
                f"{size(avail)} available")
        if capped:
            raise _capped(what, _smaller(est.size_fields))
        raise _refuse(est.size_cfg, est.size_fields, what)
    if local and not str(device).startswith("cuda") and est.batch_bytes is not None \
            and est.peak_bytes > avail:
        c = est.batch_cfg
        sizes = list(_resources(c, 1, 1, est.log_points, False)["sizes"])
        room = avail - (est.peak_bytes - est.batch_bytes)
        fit = int(est.largest_batch * room / est.batch_bytes) if room > 0 else 0
        what = (f"a batch of {est.largest_batch:,} runs needs ~{size(est.peak_bytes)} at its peak, "
                f"{size(avail)} available")
        if est.largest_batch > 1 and fit >= 1:
            if capped:
                raise _capped(what, f"--runs-per-batch {fit} or less")
            raise ConfigError("runs_per_batch", f"{batch_size or est.largest_batch}: {what}: use "
                              f"--runs-per-batch {fit} or less, or smaller {_options(sizes)}")
        what = what.replace(f"a batch of {est.largest_batch:,} runs", "one run")
        if capped:
            raise _capped(what, _smaller(sizes))
        raise _refuse(c, sizes, what)
    check_out(out, est.disk_bytes)


def preflight(configs: list, *, out=None, batch_size: int, save_iterates: bool = False,
              device: str = "cpu", shard=None, local: bool = True) -> Estimate:
    """The one call before a sweep: ``out``'s checks (before any counting), :func:`estimate`,
    :func:`check`.  Returns the estimate."""
    if batch_size is None or batch_size < 1:
        raise ConfigError("runs_per_batch", f"{batch_size} is out of range: must be an integer >= 1")
    check_out(out)
    est = estimate(configs, batch_size=batch_size, save_iterates=save_iterates, shard=shard)
    check(est, out=out, device=device, local=local, batch_size=batch_size)
    return est


def describe(est: Estimate, *, out=None, batch_size: int) -> list[str]:
    """The lines ``--dry-run`` prints."""
    avail = available_memory()
    lines = [f"runs: {est.runs:,}",
             f"batches: {est.batches:,} (at most {batch_size:,} runs each; the largest has "
             f"{est.largest_batch:,})"]
    if est.batch_bytes is None:
        lines.append(f"memory: unknown ({', '.join(sorted(set(est.unknown)))} gives no estimate)")
    else:
        lines.append(f"memory: ~{size(est.peak_bytes)} at the peak ({est.data_sets:,} data set(s) "
                     f"~{size(est.data_bytes)}, largest batch ~{size(est.batch_bytes)}); "
                     f"{size(avail)} available")
    where = ""
    if out is not None:
        try:
            st = os.statvfs(existing_base(Path(out)))
            where = f" in {out} ({size(st.f_bavail * st.f_frsize)} free)"
        except OSError:
            where = f" in {out}"
    lines.append(f"disk: ~{size(est.disk_bytes)} of results{where}")
    lines.append(f"time: ~{duration(est.seconds)} on one core ({est.run_steps:,} run-steps; a "
                 "rough estimate)")
    return lines
