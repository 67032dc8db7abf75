"""Paper figures: the :class:`Figure` record that ``groklab reproduce`` calls, :func:`run_grids`,
which runs one or more grids as a single resumable sweep, and the registry of every family's
figures (each family names a module with ``FIGURES``; it is imported only when figures are
listed or drawn, so the CLI does not pay for matplotlib otherwise).

``groklab reproduce list`` prints them; ``groklab reproduce fig3`` runs the quick scale (about a
minute on 2 cores), ``--full`` the paper's scale.  Each figure's sweep is resumable: a rerun into
the same ``--out`` skips finished runs and only redraws.

Figures run their batches on one torch thread: the problems are small, so intra-op threads buy
little on an idle machine, while on a busy one spinning threads make the same steps many times
slower (README, "Threads").
"""
from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import family as registry
from .results import Results
from .driver import execute
from .sweep import DEFAULT_BATCH_SIZE, expand_grid

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
        token = EXEC.set(dict({"threads": 1}, **execution, device=device))
        try:
            return self.draw(Path(out), full=full, quiet=quiet, batch_size=batch_size)
        finally:
            EXEC.reset(token)


def run_grids(grids: list[dict], out: Path, *, problem: str, quiet: bool = True,
              batch_size: int | None = None, save_iterates: bool = False,
              detection=None) -> Results:
    """Run the union of several grids (dicts as for ``groklab.sweep``) of one family as one
    sweep, so runs that share data and schedule are batched together.  Returns the results of
    exactly these runs."""
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


def _paper_order(name: str):
    m = re.match(r"fig(\d+)([a-z]*)$", name)
    return (int(m.group(1)), m.group(2)) if m else (10 ** 6, name)  # fig19a after fig19


def all_figures() -> dict[str, Figure]:
    """name -> Figure of every registered family, in paper order."""
    found: dict[str, Figure] = {}
    for fam in registry.all_families():
        mod = fam.figures_module()
        if mod is None:
            continue
        for name, fig in mod.FIGURES.items():
            if name in found and found[name] is not fig:
                raise ValueError(f"two families define figure {name!r}")
            found[name] = fig
    return {k: found[k] for k in sorted(found, key=_paper_order)}
