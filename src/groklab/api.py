"""Python API mirroring the CLI: ``run(config) -> Results``, ``sweep(grid) -> Results``."""
from __future__ import annotations

import os

from . import family as registry
from .axes import read_grid_file
from .detect import Detection
from .errors import ConfigError
from .results import Results
from .driver import execute
from .sweep import DEFAULT_BATCH_SIZE, expand_grid


def run(config=None, *, problem: str | None = None, out=None, detection: Detection | None = None,
        save_iterates: bool = False, device: str = "cpu", quiet: bool = True, **fields) -> Results:
    """Run one experiment.  Pass a config object, or its fields as keywords
    (``groklab.run(lr=0.1, l1=1e-5)``; ``problem`` defaults to the registry's default family,
    sparse recovery).  With ``out`` the results are stored (and reused)."""
    if config is None:
        config = registry.make_config(problem or registry.default().name, **fields)
    elif fields:
        raise TypeError("give either a config or keyword fields, not both")
    return execute([config], out=out, detection=detection, save_iterates=save_iterates,
                   device=device, quiet=quiet)


def sweep(grid, *, problem: str | None = None, out=None,
          detection: Detection | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
          save_iterates: bool = False, device: str = "cpu", quiet: bool = True,
          backend: str = "local", address: str | None = None,
          ray_cpus_per_task: int = 1) -> Results:
    """Run the Cartesian product of every axis in ``grid`` (scalars stay fixed), batched.

    An axis is a list, tuple, range, numpy array, a :mod:`groklab.axes` range
    (``groklab.axes.logspace(1e-6, 1e-2, 4096)``) or, for a numeric option, a string as on the
    command line (``"logspace(1e-6,1e-2,4096)"``, ``"0,range(1,9)"``).  ``grid`` may also be the
    path of a TOML grid file (docs/grids.md); its ``problem`` is used unless ``problem`` is given.

    ``backend="ray"`` runs the batches as Ray tasks (``ray_cpus_per_task`` CPUs each) on a local
    Ray instance, or on the cluster at ``address`` ("auto" = the one started on this machine);
    a Ray instance already initialised in this process is used as it is."""
    if isinstance(grid, (str, os.PathLike)):
        file_problem, values = read_grid_file(grid)
        if problem is not None and file_problem is not None and problem != file_problem:
            raise ConfigError("grid", f"{str(grid)!r} is a grid of {file_problem}, not {problem}")
        problem, grid = problem or file_problem, values
    configs = expand_grid(problem or registry.default().name, grid)
    return execute(configs, out=out, detection=detection, batch_size=batch_size,
                   save_iterates=save_iterates, device=device, quiet=quiet, backend=backend,
                   address=address, ray_cpus_per_task=ray_cpus_per_task)
