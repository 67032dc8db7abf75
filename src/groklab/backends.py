"""Where batches run: in this process (``local``) or on Ray workers (``ray``).

The driver (:func:`groklab.sweep.execute`) keeps everything that needs one point of view --
planning, validation, detection settings, the results store -- and a backend only maps
"run this batch" over the planned batches, yielding each batch's tables as it finishes.  The
driver commits every finished batch to the store at once, so an interrupted Ray sweep resumes
exactly like a local one: a rerun skips every committed run.

Ray workers get configs, not tensors: every data set is a pure function of its config (seed
included), so a worker rebuilds the few data sets of its batch and the numbers are the same as in
this process.  Each task holds ``cpus_per_task`` CPUs of the cluster and runs torch on that many
threads (fewer for small batches, as locally).

    groklab run sparse-recovery --lr 0.01,0.1 --l1 1e-5,1e-4 --backend ray               # local Ray
    groklab run sparse-recovery ... --backend ray --address auto                         # a cluster
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from . import datafiles
from .fields import ConfigError

BACKENDS = ("local", "ray")
#: this package's directory: shipped to a cluster's workers so they run the driver's code
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class BackendError(RuntimeError):
    """A batch failed where it ran; ``str(err)`` is one line saying which batch and why."""


@dataclass(frozen=True)
class Job:
    """What to do with each batch.  ``local(batch, progress=...)`` runs it in this process;
    ``remote(batch, *remote_args, threads)`` is a module-level function a Ray worker runs (Ray
    ships it by reference, so the worker imports it and rebuilds the batch's data itself)."""

    local: Callable
    remote: Callable
    remote_args: tuple = ()


def batch_run_steps(batch) -> int:
    """Run-steps of one batch (what the progress bar counts)."""
    return sum(int(cfg.steps) for row in batch for cfg in row)


@dataclass(frozen=True)
class Shipment:
    """What a Ray worker needs besides an installed groklab to run these batches: the sources of
    the modules outside groklab that define their families (a user's own family), and the data
    files their configs name, by content hash.  Put into Ray's object store once per sweep."""

    modules: tuple  # ((top-level module name, ((relative path, content), ...)), ...)
    files: dict  # SHA-256 -> content

    def __bool__(self) -> bool:
        return bool(self.modules or self.files)


def _module_sources(name: str) -> tuple:
    """((relative path, content), ...) of a top-level module or package, .py files only."""
    mod = sys.modules[name]
    path = getattr(mod, "__path__", None)
    if not path:
        return ((os.path.basename(mod.__file__), Path(mod.__file__).read_bytes()),)
    root = Path(list(path)[0])
    return tuple((str(Path(name) / f.relative_to(root)), f.read_bytes())
                 for f in sorted(root.rglob("*.py")))


def shipment(batches) -> Shipment:
    """The :class:`Shipment` of these batches.  A config class defined in ``__main__`` travels by
    value with the configs and needs nothing."""
    cfgs = [cfg for batch in batches for row in batch for cfg in row]
    tops = {type(cfg).__module__.split(".")[0] for cfg in cfgs}
    own = __name__.split(".")[0]
    mods = tuple((name, _module_sources(name)) for name in sorted(tops - {own, "__main__"})
                 if name in sys.modules)
    files: dict = {}
    for cfg in cfgs:
        for sha, (field, path) in cfg.data_files().items():
            if sha not in files:
                files[sha] = datafiles.read(field, path, sha)
    return Shipment(modules=mods, files=files)


_INSTALLED: dict = {}  # module name -> content of its sources (one install per worker process)


def install(ship: Shipment) -> None:
    """In a worker: make the shipped modules importable and the shipped files readable."""
    datafiles.SHIPPED.update(ship.files)
    fresh = [(name, srcs) for name, srcs in ship.modules if _INSTALLED.get(name) != srcs]
    if not fresh:
        return
    where = Path(tempfile.mkdtemp(prefix="groklab-shipped-"))
    for name, srcs in fresh:
        for rel, blob in srcs:
            (where / rel).parent.mkdir(parents=True, exist_ok=True)
            (where / rel).write_bytes(blob)
        _INSTALLED[name] = srcs
    sys.path.insert(0, str(where))
    importlib.invalidate_caches()


def run_shipped(fn, ship: Shipment, batch_blob: bytes, *args):
    """A Ray task with a shipment: install it, then unpickle the batch (its configs may come from
    a shipped module) and run ``fn(batch, *args)``."""
    install(ship)
    return fn(pickle.loads(batch_blob), *args)


def _describe(batch) -> str:
    flat = [cfg for row in batch for cfg in row]
    return f"batch of {len(flat)} run(s) (first run id {flat[0].run_id()})"


class LocalBackend:
    """Today's loop: one batch after another in this process, progress by steps."""

    name = "local"

    def map(self, batches, job: Job, device: str, progress=None) -> Iterator:
        for batch in batches:
            yield batch, job.local(batch, progress=progress)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("backend", "ray is not installed: pip install -e '.[ray]' "
                          "(or pip install 'groklab[ray]')") from None
    return ray


class RayBackend:
    """One Ray task per batch; results come back to the driver in the order they finish.

    ``address``: None starts a fresh local Ray instance (``address="local"``: RAY_ADDRESS and
    /tmp/ray are ignored); ``"auto"`` joins the cluster this machine belongs to (``ray start``);
    ``HOST:PORT`` joins the cluster whose head (GCS) listens there; ``ray://HOST:10001`` uses Ray
    Client (needs ``ray[client]``).  A Ray already initialised in this process is used as it is.
    When joining a cluster, groklab's own code is
    shipped with the tasks (``runtime_env py_modules``), so every worker runs the driver's code;
    the workers' Python needs groklab's dependencies (torch, numpy, pandas, pyarrow, scipy).
    A family defined outside groklab (a user's module) and the data files of ``--data`` travel
    with the tasks (:class:`Shipment`), local or not, so workers need neither.
    """

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_task: int = 1, quiet: bool = True):
        if cpus_per_task < 1:
            raise ConfigError("ray_cpus_per_task", f"{cpus_per_task} is out of range: must be an "
                              "integer >= 1")
        self.address = address
        self.cpus_per_task = int(cpus_per_task)
        self.quiet = quiet
        self.ray = _import_ray()

    def connect(self):
        ray = self.ray
        if ray.is_initialized():
            return ray
        # no usage reporting from a local instance (offline machines, and nobody asked for it)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        kw = dict(logging_level=logging.ERROR if self.quiet else logging.WARNING,
                  log_to_driver=not self.quiet)
        if self.address is None:
            # "local": always a fresh instance -- never whatever cluster /tmp/ray or RAY_ADDRESS
            # points at (a stale pointer makes ray.init retry for many minutes)
            kw.update(address="local", include_dashboard=False)
        else:
            self._check_reachable()
            kw.update(address=self.address,
                      runtime_env={"py_modules": [PACKAGE_DIR]})
        try:
            ray.init(**kw)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = "a local Ray instance" if self.address is None else repr(self.address)
            msg = " ".join(str(e).split())[:300]
            raise ConfigError("address", f"could not start or join {where}: {msg}") from None
        return ray

    def _check_reachable(self) -> None:
        """Fail in seconds, not after ray.init's minutes of retries, when nothing answers at the
        address (a typo, a stopped cluster, a stale /tmp/ray/ray_current_cluster)."""
        if self.address.startswith("ray://"):
            return  # Ray Client: ray.init reports a dead server quickly itself
        try:
            from ray._private.services import canonicalize_bootstrap_address
            where = canonicalize_bootstrap_address(self.address)
        except ImportError:  # private helper moved: leave it to ray.init
            return
        except Exception as e:  # noqa: BLE001 -- e.g. "auto" with no cluster on this machine
            raise ConfigError("address", f"{self.address!r}: {' '.join(str(e).split())[:300]}") \
                from None
        if where is None:
            return
        host, _, port = where.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
        except (OSError, ValueError):
            # name the address given; Ray's reading of it (127.0.0.1 becomes this node's IP)
            # only as a detail, so the line does not seem to be about another address
            read = f" (Ray reads it as {where})" if where != self.address else ""
            raise ConfigError("address", f"{self.address!r}: no Ray cluster answers there{read}: "
                              "give the HOST:PORT of a running cluster's head, or start one "
                              "with `ray start --head`") from None

    def map(self, batches, job: Job, device: str, progress=None) -> Iterator:
        if not batches:
            return
        ray = self.connect()
        gpus = 1 if str(device).startswith("cuda") else 0
        # a task no node can hold would wait forever: say so instead
        have = ray.cluster_resources()
        if have.get("CPU", 0) < self.cpus_per_task:
            raise ConfigError("ray_cpus_per_task", f"{self.cpus_per_task}: the Ray cluster has "
                              f"{have.get('CPU', 0):g} CPU(s)")
        if gpus and have.get("GPU", 0) < 1:
            raise ConfigError("device", f"{device!r}: the Ray cluster has no GPU")
        slots = int(have.get("CPU", 0) // self.cpus_per_task)
        if not self.quiet and len(batches) < slots:
            print(f"groklab: {len(batches)} batch(es) for {slots} Ray task slots: a smaller "
                  "--runs-per-batch spreads the grid wider", file=sys.stderr, flush=True)
        ship = shipment(batches)
        if ship:  # user modules and data files travel with the tasks (stored once)
            task = ray.remote(num_cpus=self.cpus_per_task, num_gpus=gpus,
                              max_retries=0)(run_shipped)
            ref = ray.put(ship)
            pending = {task.remote(job.remote, ref, pickle.dumps(batch), *job.remote_args,
                                   self.cpus_per_task): batch for batch in batches}
        else:
            task = ray.remote(num_cpus=self.cpus_per_task, num_gpus=gpus,
                              max_retries=0)(job.remote)
            pending = {task.remote(batch, *job.remote_args, self.cpus_per_task): batch
                       for batch in batches}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                ref = ready[0]
                batch = pending.pop(ref)
                try:
                    out = ray.get(ref)
                except ray.exceptions.RayError as e:
                    cause = getattr(e, "cause", None) or e
                    text = " ".join(str(cause).split())
                    # RayTaskError strings carry the remote traceback: keep its last line
                    if isinstance(e, ray.exceptions.RayTaskError) and cause is e:
                        text = str(e).strip().splitlines()[-1]
                    raise BackendError(f"{_describe(batch)} failed on a Ray worker: "
                                       f"{type(cause).__name__}: {text[:400]}") from None
                if progress is not None:
                    progress(batch_run_steps(batch))
                yield batch, out
        finally:
            for ref in pending:  # interrupted or failed: do not leave work running
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)


def make_backend(name: str = "local", *, address: str | None = None, cpus_per_task: int = 1,
                 quiet: bool = True):
    if name == "local":
        if address is not None:
            raise ConfigError("address", "only applies to --backend ray")
        return LocalBackend()
    if name == "ray":
        return RayBackend(address=address, cpus_per_task=cpus_per_task, quiet=quiet)
    raise ConfigError("backend", f"{name!r} is not one of {', '.join(BACKENDS)}")
