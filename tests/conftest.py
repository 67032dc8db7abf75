"""Shared helpers for the groklab test-suite.

Sizes are tiny on purpose: the default suite (``-m 'not slow'``) must run in a few minutes on two
CPU cores.  Expectations are derived from closed forms, invariants or the paper's qualitative
claims, never copied from a run's output.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

# The runs here are tiny (n <= 100): intra-op threads only add contention, and on a shared 2-core
# machine they can make the suite many times slower.  Subprocesses get OMP_NUM_THREADS=1 likewise.
# GROKLAB_TEST_THREADS: another count, for measuring what threads change (tests/kernels.py).
torch.set_num_threads(int(os.environ.get("GROKLAB_TEST_THREADS", "1")))

REPO = Path(__file__).resolve().parents[1]


def sweep_module():
    """The ``groklab.sweep`` *module* (``groklab.sweep`` the attribute is the API function)."""
    return importlib.import_module("groklab.sweep")


def tiny(**overrides):
    """A small, valid sparse-recovery config (n=20, s=2, N=10) unless overridden."""
    from groklab.families.sparse_recovery.config import SparseRecoveryConfig

    base = dict(dim=20, sparsity=2, measurements=10, lr=0.05, l1=1e-3, steps=200,
                log_every=50, log_dense_until=50)
    base.update(overrides)
    return SparseRecoveryConfig(**base)


class EngineSpy:
    """Wraps the linear engine wherever groklab bound it, counting calls (and optionally
    failing on the k-th call, to simulate an interrupt)."""

    def __init__(self, monkeypatch, *, raise_on_call: int | None = None, exc=KeyboardInterrupt):
        import groklab.families.sparse_recovery.engine as lin

        self.orig = lin.run_sparse_batch
        self.calls: list[list[str]] = []  # run ids of every batch the engine was asked to run
        self.raise_on_call = raise_on_call
        self.exc = exc

        def spy(datas, cfgs, *args, **kwargs):
            k = len(self.calls) + 1
            if self.raise_on_call is not None and k == self.raise_on_call:
                self.calls.append([])
                raise self.exc()
            self.calls.append([c.run_id() for row in cfgs for c in row])
            return self.orig(datas, cfgs, *args, **kwargs)

        # patch the engine module and every groklab module that imported the name directly
        for name, mod in list(sys.modules.items()):
            if name.startswith("groklab") and getattr(mod, "run_sparse_batch", None) is self.orig:
                monkeypatch.setattr(mod, "run_sparse_batch", spy)

    @property
    def runs(self) -> list[str]:
        return [r for batch in self.calls for r in batch]


@pytest.fixture
def engine_spy(monkeypatch):
    def make(**kw):
        return EngineSpy(monkeypatch, **kw)
    return make


def cli(*args, cwd=None, timeout=300, env_extra=None) -> subprocess.CompletedProcess:
    """Run ``python -m groklab.cli ARGS`` in a subprocess, capturing text output."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    if env_extra:
        env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "groklab.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def assert_png(path, min_size: int = 200) -> None:
    """``path`` is a PNG that shows something: at least ``min_size`` pixels each way, between 1 %
    and 90 % of it inked (neither blank nor a solid block), in more than a handful of colours
    (lines, markers, text; an empty axes frame has two)."""
    from matplotlib.image import imread  # noqa: PLC0415 -- matplotlib only for the plot tests

    path = Path(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    img = imread(path)[..., :3]  # (h, w, 3) floats in [0, 1]
    h, w = img.shape[:2]
    assert h >= min_size and w >= min_size, f"{path}: {w} x {h} pixels"
    ink = (img < 0.95).any(-1).mean()
    assert 0.01 < ink < 0.9, f"{path}: {ink:.1%} of the pixels inked"
    colours = len(np.unique((img * 31).astype(np.uint8).reshape(-1, 3), axis=0))
    assert colours >= 12, f"{path}: only {colours} distinct colours"
