"""The torch side of the core: devices, threads, data sets, and running one batch.

Imported on first use by the sweep driver (:mod:`groklab.lazy`), so reading results, plotting
and ``--help`` never import torch.  Everything family-specific goes through the family record.
"""
from __future__ import annotations

import contextlib

import torch

from . import family as registry
from .detect import Detection
from .fields import ConfigError
from .tables import batch_tables

#: batches smaller than this run on one torch thread.  A second thread gains little there on an
#: idle machine, and when another process holds a core the intra-op barriers make a small batch
#: many times slower (README, "Threads").  Large batches keep torch's thread count: their GEMMs
#: are where two cores pay.
SMALL_BATCH = 256


@contextlib.contextmanager
def threads_for(n_runs: int, threads: int | None = None):
    """torch's thread count for a batch of ``n_runs``: ``threads`` if given, else one thread
    below SMALL_BATCH runs and torch's own count above; restored afterwards."""
    old = torch.get_num_threads()
    want = threads if threads is not None else (1 if n_runs < SMALL_BATCH else old)
    if want != old:
        torch.set_num_threads(want)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


def torch_threads() -> int:
    return torch.get_num_threads()


def check_device(device: str) -> None:
    """Raise ConfigError (one line) for a device torch cannot use here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError("device", f"{device!r} is not a torch device (cpu, cuda, cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device", f"{device!r}: CUDA is not available on this machine; use cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError("device", f"{device!r}: only {torch.cuda.device_count()} CUDA "
                              "device(s) here")
    elif dev.type != "cpu":
        raise ConfigError("device", f"{device!r} is not supported: use cpu or cuda[:N]")


def prepare_data(configs: list) -> dict:
    """Generate each data set once (with its reference quantities) and check every run against
    it.  Raises ConfigError before anything is written."""
    cache: dict = {}
    for cfg in configs:
        fam = registry.of(cfg)
        key = (cfg.problem, cfg.data_key())
        if key not in cache:
            data = fam.make_data(cfg)
            cache[key] = (data, fam.reference(data))
        fam.check(cfg, cache[key][0])
    return cache


def run_batch_tables(batch, cache, det: Detection, device: str, save_iterates: bool,
                     progress=None, threads: int | None = None):
    """Advance one batch (D x B configs) with its family's engine; return its runs / curves /
    iterates tables.  ``cache`` holds the batch's data sets (:func:`prepare_data`)."""
    first = batch[0][0]
    fam = registry.of(first)
    datas = [cache[(first.problem, row[0].data_key())][0] for row in batch]
    flat = [cfg for row in batch for cfg in row]
    with threads_for(len(flat), threads):
        res = fam.run_batch(datas, batch, device=device, save_iterates=save_iterates,
                            progress=progress)
    extra = []
    for j, cfg in enumerate(flat):
        data, ref = cache[(cfg.problem, cfg.data_key())]
        col = {k: v[:, j] for k, v in res.metrics.items()}
        extra.append(fam.run_columns(cfg, data, ref, res.final[j], col))
    return batch_tables(fam, flat, res, extra, det, save_iterates)


def remote_batch(batch, det: Detection, device: str, save_iterates: bool, threads: int):
    """What a Ray task runs: rebuild the batch's data from its configs (a pure function of the
    config, seed included, so the numbers equal a local run's) on ``threads`` torch threads."""
    torch.set_num_threads(threads)
    cache = prepare_data([cfg for row in batch for cfg in row])
    return run_batch_tables(batch, cache, det, device, save_iterates)
