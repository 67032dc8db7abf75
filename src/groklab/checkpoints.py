"""Read saved network weights back as tensors (docs/checkpoints.md).

``groklab run FAMILY ... --save-iterates [K]`` (``save_iterates=K`` in the API) stores the
parameters of every network family at every K-th log point and the last one in OUT/iterates/.
Each row holds one tensor of one run at one step: ``run_id``, ``step``, ``tensor`` (the
family's parameter name; for the families on the generic engine -- mnist, sparse-parity, the
modular transformer -- the module's ``named_parameters`` name), ``shape`` (list of ints) and
``values`` (its float32 entries, row-major). This module turns those rows back into torch
tensors, a run's config, or a loaded ``nn.Module``. It imports torch, so the commands that need
no tensors (``report``, ``plot``) never import it.

    from groklab import checkpoints
    checkpoints.steps("results/mod", run_id)             # the steps that have weights
    w = checkpoints.load("results/mod", run_id, 2000)    # {"embed1": Tensor (p, d), ...}
    net = checkpoints.load_module("results/mnist", run_id, 2000)   # nn.Module, eval mode
"""
from __future__ import annotations

from dataclasses import fields as dataclass_fields
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from torch import Tensor, nn

from . import family as registry
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
    shaped as in the model (teacher-student: ``W`` (h, d), ``V`` (c, h); modular MLPs: the weight
    matrices (in, out), then the hadamard biases ``b1`` (1, d), ``b2`` (1, p); the generic
    engine's families: the module's ``named_parameters``, e.g. ``0.weight`` (out, in)).  KeyError
    if that run has no weights at that step (see :func:`steps`)."""
    rows = _table(out, run_id, step)
    if not rows["tensor"]:
        raise KeyError(f"run {run_id} has no saved weights at step {step} "
                       f"(saved: {steps(out, run_id)})")
    return {name: torch.from_numpy(np.asarray(vals, dtype=np.float32).reshape(shape)).to(dtype)
            for name, shape, vals in zip(rows["tensor"], rows["shape"], rows["values"])}


def _runs_row(root: Path, run_id: str) -> dict:
    """The newest committed runs row of ``run_id`` as {column: value}."""
    if not (root / "runs").is_dir():
        raise FileNotFoundError(f"{root}: not a groklab results directory (no runs/ folder)")
    reader = Reader(root, warn=False)
    pid = reader.winners().get(str(run_id))
    if pid is None:
        raise KeyError(f"no run {run_id} in {root}")
    df = reader.store.read_part("runs", pid, filters=[("run_id", "==", str(run_id))])
    return df.iloc[-1].to_dict()


def config(out, run_id: str):
    """The config of run ``run_id``, rebuilt from the fields its runs row stores.  ValueError if
    the rebuilt config has another run id (the run was made by another engine version, or a
    field the row lacks)."""
    row = _runs_row(Path(out), run_id)
    fam = registry.get(str(row["problem"]))
    values = {f.name: row[f.name].item() if hasattr(row[f.name], "item") else row[f.name]
              for f in dataclass_fields(fam.config) if f.name in row}
    cfg = fam.config(**values)
    if cfg.run_id() != str(run_id):
        raise ValueError(f"run {run_id}: its stored fields make run {cfg.run_id()} with this "
                         f"groklab (stored engine version {row.get('engine_version')}, now "
                         f"{cfg.engine_version})")
    return cfg


def load_module(out, run_id: str, step: int, module: nn.Module | None = None) -> nn.Module:
    """A module holding the weights run ``run_id`` saved at ``step``, in eval mode.

    ``module``: any module whose ``named_parameters`` are the saved tensors (e.g. a fresh
    ``ModularTransformer(cfg)``); None builds one from the run's config with the family's
    ``build_module`` runtime hook (mnist, sparse-parity, modular).  Every parameter is overwritten
    (``load_state_dict``; buffers, which no built-in family has, are kept); a saved tensor the
    module lacks, or a parameter without a saved tensor, is a KeyError."""
    if module is None:
        cfg = config(out, run_id)
        hook = getattr(registry.of(cfg).runtime_module(), "build_module", None)
        if hook is None:
            raise TypeError(f"family {cfg.problem!r} has no build_module hook: pass the module "
                            "(checkpoints.config(out, run_id) gives its config)")
        module = hook(cfg)
    weights = load(out, run_id, step)
    params = dict(module.named_parameters())
    if set(weights) != set(params):
        raise KeyError(f"run {run_id}: saved tensors {sorted(weights)} are not the module's "
                       f"parameters {sorted(params)}")
    for k, v in weights.items():
        if v.numel() != params[k].numel():
            raise KeyError(f"run {run_id}: saved {k} has shape {tuple(v.shape)}, the module's "
                           f"{tuple(params[k].shape)}")
    # a hand-written engine may keep a bias as (1, d) where the module has (d,): same entries
    module.load_state_dict({k: v.to(params[k].dtype).reshape(params[k].shape)
                            for k, v in weights.items()}, strict=False)
    return module.eval()
