"""What every paper figure shares: the :class:`Figure` record that ``groklab reproduce`` calls, and
:func:`run_grids`, which runs one or more grids as a single resumable sweep.

Figures run with one torch thread: the problems are small (n = 100), so intra-op threads buy
little (about 20% on an idle 2-core machine for a batch of 36 runs), while on a busy machine two
spinning threads made the same steps 10-70x slower.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..store import Results

#: how the figure's sweeps execute (``groklab reproduce --device/--backend/--address/...``):
#: keyword arguments of sweep.execute, read by run_grids
EXEC = contextvars.ContextVar("groklab_figure_exec", default={})


@dataclass(frozen=True)
class Figure:
    """A paper figure: ``reproduce(out, full, quiet, batch_size)`` runs its sweep into ``out``
    (finished runs are skipped, so a rerun only draws) and returns the PNG it wrote."""

    name: str
    title: str
    draw: Callable[..., Path]  # draw(out, full=..., quiet=..., batch_size=...) -> Path

    def reproduce(self, out, full: bool = False, quiet: bool = True,
                  batch_size: int | None = None, device: str = "cpu", **execution) -> Path:
        """``execution``: more keywords of :func:`groklab.sweep.execute` for the figure's sweeps
        (``backend="ray"``, ``address``, ``ray_cpus_per_task``)."""
        token = EXEC.set(dict(execution, device=device))
        try:
            with single_thread():
                return self.draw(Path(out), full=full, quiet=quiet, batch_size=batch_size)
        finally:
            EXEC.reset(token)


@contextlib.contextmanager
def single_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def run_grids(grids: list[dict], out: Path, *, quiet: bool = True, batch_size: int | None = None,
              save_iterates: bool = False, problem: str = "sparse-recovery",
              detection=None) -> Results:
    """Run the union of several grids (dicts as for ``groklab.sweep``) as one sweep, so runs that
    share data and schedule are batched together.  Returns the results of exactly these runs."""
    from ..sweep import DEFAULT_BATCH_SIZE, execute, expand_grid
    configs, seen = [], set()
    for grid in grids:
        for cfg in expand_grid(problem, grid):
            if cfg.run_id() not in seen:
                seen.add(cfg.run_id())
                configs.append(cfg)
    return execute(configs, out=out, batch_size=batch_size or DEFAULT_BATCH_SIZE,
                   save_iterates=save_iterates, quiet=quiet, detection=detection,
                   **EXEC.get())


def scale_note(full: bool, quick: str, full_text: str) -> str:
    return f"full scale: {full_text}" if full else f"QUICK scale ({quick}); --full for {full_text}"
