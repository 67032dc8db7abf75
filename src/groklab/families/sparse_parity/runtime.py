"""The tensor side of the sparse-parity family (the registry imports it on first use)."""
from __future__ import annotations

from dataclasses import replace

from ..nets.trainer import NetProgram, run_net_batch
from .data import make_parity_data
from .model import BATCH_STREAM, build, extra_columns, spec

PROGRAM = NetProgram(build=build, spec=spec, loss="cross-entropy", stream=BATCH_STREAM,
                     extra=extra_columns, extra_names=("relevant_mass",))


def make_data(cfg):
    return make_parity_data(cfg)


def run_batch(datas, cfgs, *, device, save_iterates, progress=None):
    prog = replace(PROGRAM, loss=cfgs[0][0].loss)  # the loss is part of the batch key
    return run_net_batch(datas, cfgs, prog, device=device, progress=progress,
                         engine="sparse-parity", save_iterates=int(save_iterates))


def build_module(cfg):
    """A fresh member's module (checkpoints.load_module loads saved weights into it)."""
    return build(cfg)


def run_columns(cfg, data, ref, final, col) -> dict:
    return {"relevant": ",".join(str(int(j)) for j in data.relevant),
            "chance_relevant_mass": cfg.relevant_bits / cfg.bits}
