"""Read saved network weights back as tensors (docs/checkpoints.md).

``groklab run modular ... --save-iterates [K]`` (or teacher-student, or ``save_iterates=K`` in
the API) stores the parameters of every K-th log point and the last one in OUT/iterates/.
Each row holds one tensor of one run at one step: ``run_id``, ``step``, ``tensor`` (the
family's parameter name), ``shape`` (list of ints) and ``values`` (its float32 entries,
row-major). This module turns those rows back into torch tensors for analysis. It imports torch,
so the commands that need no tensors (``report``, ``plot``) never import it.

    from groklab import checkpoints
    checkpoints.steps("results/mod", run_id)             # the steps that have weights
    w = checkpoints.load("results/mod", run_id, 2000)    # {"embed1": Tensor (p, d), ...}
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from torch import Tensor

from .results import LEGACY, Reader

COLUMNS = ("run_id", "step", "tensor", "shape", "values")


def _path(root: Path, run_id: str) -> Path:
    """The iterates file that holds run ``run_id`` (the part its newest runs row is in)."""
    if not (root / "runs").is_dir():
        legacy = root / LEGACY["iterates"]  # a directory of the old, consolidated layout
        if legacy.exists():
            return legacy
        raise FileNotFoundError(f"{root}: not a groklab results directory (no runs/ folder)")
    reader = Reader(root, warn=False)
    pid = reader.winners().get(str(run_id))
    if pid is None:
        raise KeyError(f"no run {run_id} in {root}")
    path = reader.store.path("iterates", pid)
    if not path.exists():
        raise FileNotFoundError(f"{root}: run {run_id} has no saved iterates (run it with "
                                "--save-iterates)")
    return path


def _table(out, run_id: str, step: int | None = None):
    """The checkpoint rows of one run (at one step), read with a filter: only those rows."""
    path = _path(Path(out), run_id)
    if "tensor" not in pq.read_schema(path).names:
        raise ValueError(f"{path}: iterates of a family without named tensors (one column "
                         "per coordinate): read it with pandas")
    filters = [("run_id", "==", str(run_id))]
    if step is not None:
        filters.append(("step", "==", int(step)))
    return pq.read_table(path, columns=list(COLUMNS), filters=filters).to_pydict()


def steps(out, run_id: str) -> list[int]:
    """The steps at which run ``run_id`` of results directory ``out`` has saved weights."""
    return sorted(set(_table(out, run_id)["step"]))


def load(out, run_id: str, step: int, dtype=torch.float32) -> dict[str, Tensor]:
    """The parameters of run ``run_id`` at ``step``, by name and in the engine's order, each
    shaped as in the model (teacher-student: ``W`` (h, d), ``V`` (c, h); modular: the weight
    matrices (in, out), then the hadamard biases ``b1`` (1, d), ``b2`` (1, p)).  KeyError if that
    run has no weights at that step (see :func:`steps`)."""
    rows = _table(out, run_id, step)
    if not rows["tensor"]:
        raise KeyError(f"run {run_id} has no saved weights at step {step} "
                       f"(saved: {steps(out, run_id)})")
    return {name: torch.from_numpy(np.asarray(vals, dtype=np.float32).reshape(shape)).to(dtype)
            for name, shape, vals in zip(rows["tensor"], rows["shape"], rows["values"])}
