from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from sweep import data
from sweep.errors import DataError, SweepError


@pytest.fixture(scope="module")
def mnist() -> data.Dataset:
    return data.load("mnist")


def test_mnist_ships_and_checks(mnist: data.Dataset) -> None:
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_train.dtype == np.uint8
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(mnist.y_test).tolist()[:3] == [980, 1135, 1032]


def test_small_is_a_prefix_of_mnist(mnist: data.Dataset) -> None:
    small = data.load("mnist_small")
    assert small.x_train.shape == (6000, 28, 28) and small.x_test.shape == (1000, 28, 28)
    assert np.array_equal(small.x_train, mnist.x_train[:6000])


def _copy_raw(tmp_path: Path) -> Path:
    """The shipped MNIST files, decompressed, in a folder of their own."""
    folder = tmp_path / "idx"
    folder.mkdir()
    for gz in (data.SHIPPED / "mnist").glob("*.gz"):
        with gzip.open(gz) as src, open(folder / gz.stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return folder


def test_data_dir_raw_idx_and_npz(tmp_path: Path, mnist: data.Dataset) -> None:
    folder = _copy_raw(tmp_path)
    assert np.array_equal(data.load("mnist", folder).x_test, mnist.x_test)
    npz = tmp_path / "mnist.npz"
    np.savez(npz, x_train=mnist.x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)
    assert np.array_equal(data.load("mnist", npz).y_train, mnist.y_train)


def test_corrupt_file_names_path_and_expectation(tmp_path: Path) -> None:
    folder = _copy_raw(tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte"
    raw = bytearray(labels.read_bytes())
    raw[100] ^= 1
    labels.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: SHA-256 mismatch, expected ff7bcfd4"):
        data.load("mnist", folder)
    labels.write_bytes(bytes(raw[:-10]))
    with pytest.raises(DataError, match=r"9998 bytes, expected 10008"):
        data.load("mnist", folder)


def test_wrong_dataset_in_npz_is_refused(tmp_path: Path, mnist: data.Dataset) -> None:
    npz = tmp_path / "fake.npz"
    np.savez(npz, x_train=mnist.x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)
    with pytest.raises(DataError, match="fake.npz:x_train: SHA-256 mismatch"):
        data.load("fashion_mnist", npz)


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "absent", "no such directory or .npz file"),
    (lambda p: p, "expected IDX files"),
])
def test_bad_data_dir(tmp_path: Path, setup, message: str) -> None:
    with pytest.raises(DataError, match=message):
        data.load("mnist", setup(tmp_path))


def test_missing_part(tmp_path: Path) -> None:
    folder = _copy_raw(tmp_path)
    (folder / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: missing"):
        data.load("mnist", folder)


def test_unknown_dataset() -> None:
    with pytest.raises(SweepError, match="unknown dataset 'cifar'; choose one of fashion_mnist, mnist, mnist_small"):
        data.load("cifar")


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian() -> None:
    ds = data.load("fashion_mnist")
    assert ds.x_train.shape == (60000, 28, 28) and ds.origin.startswith("/usr/share/datasets")
    assert ds.classes[9] == "Ankle boot"


def test_split_holds_out_the_last_rows_or_a_seeded_draw() -> None:
    end = data.split(60000, 5000)
    assert np.array_equal(end.fit, np.arange(55000)) and np.array_equal(end.validation, np.arange(55000, 60000))
    drawn = [data.split(60000, 10000, seed) for seed in (0, 0, 1)]
    assert np.array_equal(drawn[0].fit, drawn[1].fit)  # seeded
    assert not np.array_equal(drawn[0].validation, drawn[2].validation)
    for rows in drawn:  # disjoint, every row once, sorted
        assert len(rows.fit) == 50000 and len(rows.validation) == 10000
        assert np.array_equal(np.sort(np.concatenate([rows.fit, rows.validation])), np.arange(60000))
        assert np.all(np.diff(rows.fit) > 0) and np.all(np.diff(rows.validation) > 0)
    assert abs(drawn[0].validation.mean() - 30000) < 1000  # spread over the rows, not a block
    with pytest.raises(SweepError, match="validation: 60000 rows leaves none"):
        data.split(60000, 60000)


def test_take_is_a_view_for_one_run_of_rows() -> None:
    x = np.arange(20).reshape(10, 2)
    assert np.shares_memory(data.take(x, np.arange(3, 7)), x)
    assert np.array_equal(data.take(x, np.array([1, 4])), x[[1, 4]])
