"""MNIST-like data sets: find the files, check them, return uint8 arrays.

`load(name, data_dir=None)` looks, in order, in an explicit directory (IDX files, raw or
gzip-compressed, or one `.npz` with `x_train`, `y_train`, `x_test`, `y_test`), the files shipped
with this package, known system locations (Debian's `dataset-fashion-mnist`), Keras' cache and,
last, Keras' download. Every array is checked against the size and SHA-256 of its original IDX
file before use, whatever form it came in.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.errors import DataError, SweepError

SHIPPED = Path(__file__).parent / "datasets"
MAX_TRAIN_ROWS = 60_000  # training images in MNIST and in Fashion-MNIST
PIXELS = 28 * 28  # both data sets' images are 28 x 28 (their checksums hold them to it)

# The four IDX files of a data set, in the order of `Dataset`'s arrays.
PARTS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Source:
    """Where a data set may be found and what its files must hash to."""

    checksums: dict[str, tuple[str, int]]  # part -> (sha256 of the uncompressed IDX file, bytes)
    folders: tuple[Path, ...]  # searched in order after an explicit directory
    keras_name: str  # module under keras.datasets, for the last-resort download
    classes: tuple[str, ...]
    rows: tuple[int, int] | None = None  # (train, test): keep only the first rows
    base: str | None = None  # another data set's files, for a subset
    npz_name: str = ""  # the file name in Keras' cache

    @property
    def train_rows(self) -> int:
        return self.rows[0] if self.rows else MAX_TRAIN_ROWS


def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


_MNIST = Source(
    checksums={
        "x_train": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
        "y_train": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
        "x_test": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
        "y_test": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008),
    },
    folders=(SHIPPED / "mnist",),
    keras_name="mnist",
    classes=tuple(str(d) for d in range(10)),
    npz_name="mnist.npz",
)

SOURCES: dict[str, Source] = {
    "mnist": _MNIST,
    "fashion_mnist": Source(
        checksums={
            "x_train": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016),
            "y_train": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
            "x_test": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
            "y_test": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008),
        },
        folders=(Path("/usr/share/datasets/fashion-mnist"), _keras_home() / "fashion-mnist"),
        keras_name="fashion_mnist",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
    # The first 6,000 training and 1,000 test images of MNIST: real data, always there, fast.
    "mnist_small": Source(
        checksums=_MNIST.checksums, folders=_MNIST.folders, keras_name="mnist",
        classes=_MNIST.classes, rows=(6000, 1000), base="mnist",
    ),
}


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 [N, 28, 28], labels as uint8 [N]."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    origin: str  # the folder or file the arrays came from


def names() -> list[str]:
    return sorted(SOURCES)


def source(name: str) -> Source:
    if name not in SOURCES:
        raise SweepError(f"unknown dataset {name!r}; choose one of {', '.join(names())}")
    return SOURCES[name]


@functools.lru_cache(maxsize=2)
def load(name: str, data_dir: str | Path | None = None) -> Dataset:
    """Load data set `name`, from `data_dir` when given, else from the first place that has it.

    Cached per process (a reused trial process loads and checks its data once); the arrays are
    read-only, so a caller cannot change what the next one gets.
    """
    src = source(name)
    if data_dir is not None:
        arrays, origin = _from_explicit(Path(data_dir), src)
    else:
        arrays, origin = _from_known_places(src)
    if src.rows is not None:
        n_train, n_test = src.rows
        arrays = {k: v[: n_train if k.endswith("train") else n_test] for k, v in arrays.items()}
    for array in arrays.values():
        array.setflags(write=False)
    return Dataset(name=name, classes=src.classes, origin=str(origin), **arrays)


def _from_explicit(path: Path, src: Source) -> tuple[dict[str, np.ndarray], Path]:
    if path.is_file() and path.suffix == ".npz":
        return _read_npz(path, src), path
    if not path.is_dir():
        raise DataError(f"{path}: no such directory or .npz file (--data-dir takes a folder of IDX files or an .npz)")
    if _idx_path(path, PARTS["x_train"]) is not None:
        return _read_idx_folder(path, src), path
    npzs = sorted(path.glob("*.npz"))
    if len(npzs) == 1:
        return _read_npz(npzs[0], src), npzs[0]
    raise DataError(
        f"{path}: expected IDX files ({', '.join(PARTS.values())}, optionally .gz) or one .npz file"
    )


def _from_known_places(src: Source) -> tuple[dict[str, np.ndarray], Path]:
    for folder in src.folders:
        if _idx_path(folder, PARTS["x_train"]) is not None:
            return _read_idx_folder(folder, src), folder
    if src.npz_name and (npz := _keras_home() / src.npz_name).is_file():
        return _read_npz(npz, src), npz
    return _download(src)


def _download(src: Source) -> tuple[dict[str, np.ndarray], Path]:
    import keras  # heavy; only needed when no local copy exists

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, src.keras_name).load_data()
    except Exception as exc:  # any network or archive failure ends in the same advice
        places = ", ".join(str(f) for f in src.folders)
        raise DataError(
            f"{src.keras_name}: not found in {places} and the download failed ({type(exc).__name__}); "
            f"install Debian's dataset-fashion-mnist or pass --data-dir"
        ) from None
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for part, array in arrays.items():
        _check(_idx_bytes(array), src.checksums[part], f"keras.datasets.{src.keras_name}:{part}")
    return arrays, _keras_home()


def _idx_path(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_idx_folder(folder: Path, src: Source) -> dict[str, np.ndarray]:
    arrays = {}
    for part, stem in PARTS.items():
        path = _idx_path(folder, stem)
        if path is None:
            raise DataError(f"{folder / stem}: missing (expected {stem} or {stem}.gz)")
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as fh:
                raw = fh.read()
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: unreadable ({exc}); replace it with the original file") from None
        _check(raw, src.checksums[part], str(path))
        arrays[part] = _parse_idx(raw)
    return arrays


def _read_npz(path: Path, src: Source) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {part: npz[part] for part in PARTS}
    except KeyError as exc:
        raise DataError(f"{path}: missing array {exc} (expected {', '.join(PARTS)})") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    for part, array in arrays.items():
        _check(_idx_bytes(array), src.checksums[part], f"{path}:{part}")
    return arrays


def _check(raw: bytes, expected: tuple[str, int], where: str) -> None:
    sha, size = expected
    if len(raw) != size:
        raise DataError(f"{where}: {len(raw)} bytes, expected {size}; the file is truncated or not the original")
    if hashlib.sha256(raw).hexdigest() != sha:
        raise DataError(f"{where}: SHA-256 mismatch, expected {sha}; the file is corrupt or not the original")


def _parse_idx(raw: bytes) -> np.ndarray:
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array, so any copy is checked against the original files."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images [N, 28, 28] -> float32 [N, 784] scaled to [0, 1]."""
    return np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)


@functools.lru_cache(maxsize=2)
def features(name: str, data_dir: str | Path | None = None) -> np.ndarray:
    """`pixels` of data set `name`'s training images, then its test images, in one read-only array.

    Cached per process like `load`. One array lets a trial predict every row in one call, without a copy.
    """
    ds = load(name, data_dir)
    out = pixels(np.concatenate([ds.x_train, ds.x_test]))
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Split:
    """The training rows a trial fits on and those that validate it, as sorted row indices."""

    fit: np.ndarray
    validation: np.ndarray


def split(train_rows: int, held: int, seed: int | None = None) -> Split:
    """`train_rows` training rows less the `held` that validate: the last ones (Keras'
    `validation_split`), or with a `seed` a random draw (scikit-learn's `train_test_split`, seeded)."""
    if not 0 < held < train_rows:
        raise SweepError(f"validation: {held} rows leaves none of the {train_rows} training rows to train on")
    if seed is None:
        return Split(np.arange(train_rows - held), np.arange(train_rows - held, train_rows))
    out = np.zeros(train_rows, bool)
    out[np.random.default_rng(seed).choice(train_rows, held, replace=False)] = True
    return Split(np.flatnonzero(~out), np.flatnonzero(out))


def take(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`array[rows]` for sorted `rows`; a view, not a copy, where they are one run."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return array[rows[0]:rows[-1] + 1]
    return array[rows]
