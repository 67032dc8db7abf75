"""The tensor side of the MNIST family (the registry imports it on first use)."""
from __future__ import annotations

from ..nets.trainer import NetProgram, run_net_batch
from .data import make_mnist_data
from .model import BATCH_STREAM, EXTRA, build, extra_columns, spec


def make_data(cfg):
    return make_mnist_data(cfg)


def run_batch(datas, cfgs, *, device, save_iterates, progress=None):
    prog = NetProgram(build=build, spec=spec, loss=cfgs[0][0].loss, stream=BATCH_STREAM,
                      extra=extra_columns, extra_names=EXTRA)
    return run_net_batch(datas, cfgs, prog, device=device, progress=progress, engine="mnist",
                         save_iterates=int(save_iterates))


def build_module(cfg):
    """A fresh member's module (checkpoints.load_module loads saved weights into it)."""
    return build(cfg)


def run_columns(cfg, data, ref, final, col) -> dict:
    return {"n_test_images": int(data.y_test.numel())}
