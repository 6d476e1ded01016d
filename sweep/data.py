"""Data sets: the shipped ones (MNIST, Fashion-MNIST) by name, and a user's own from a file.

`load(name, data_dir=None)` finds a shipped set, in order, in an explicit directory (IDX files,
raw or gzip-compressed, or one `.npz` with `x_train`, `y_train`, `x_test`, `y_test`), the files
shipped with this package, known system locations (Debian's `dataset-fashion-mnist`), Keras'
cache and, last, Keras' download. Every array is checked against the size and SHA-256 of its
original IDX file before use, whatever form it came in.

A user's own data set (`sweep.formats`) is read once on the driver (`own`), copied into the
sweep's `data/` folder with a record of its source, shape, classes and content hash (`save`),
and read back from there by trials and reports (`adopt`), on this machine or any other.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from sweep.errors import DataError, SweepError
from sweep.formats import NAME, Arrays, Spec, parse_idx

SHIPPED = Path(__file__).parent / "datasets"
MAX_TRAIN_ROWS = 60_000  # training images in MNIST and in Fashion-MNIST
SHAPE = (28, 28)  # both shipped data sets' images (their checksums hold them to it)
PIXELS = "pixels / 255"  # how uint8 images are scaled
STANDARDISED = "standardised on the training rows"  # how any other features are

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


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: `load` returns one object per data set
class Dataset:
    """Rows of features (uint8 images [N, H, W] or [N, H, W, C], or numbers [N, F]) and class indices [N]."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    origin: str  # the folder or file the arrays came from

    @property
    def shape(self) -> tuple[int, ...]:
        """One row's shape: (28, 28) for MNIST, (13,) for a table of 13 features."""
        return self.x_train.shape[1:]

    @property
    def features(self) -> int:
        return math.prod(self.shape)

    @property
    def images(self) -> bool:
        """Whether rows are pictures (H x W, or H x W x C), which image figures can draw."""
        return len(self.shape) >= 2

    @property
    def inputs(self) -> str:
        """What a row's values are called: `pixels`, or `features` where the rows are not images."""
        return "pixels" if self.images else "features"

    @property
    def scaling(self) -> str:
        """How `scaled` turns rows into a network's input: pixels divided by 255, else standardised."""
        return PIXELS if self.x_train.dtype == np.uint8 else STANDARDISED

    def scaled(self, x: np.ndarray) -> np.ndarray:
        """Rows of this data set as float32 [N, F], scaled as `scaling` says."""
        if self.scaling == PIXELS:
            return pixels(x)
        mean, std = self._moments
        return np.divide(x.reshape(len(x), -1) - mean, std, dtype=np.float32)

    def pictures(self, x: np.ndarray) -> np.ndarray:
        """Image rows as grey uint8 pictures [N, H, W] to draw: channels averaged, values other than
        uint8 spread over 0-255 by the training rows' range."""
        x = x.mean(-1) if x.ndim == 4 else x
        if self.x_train.dtype == np.uint8:
            return x.astype(np.uint8)
        low, high = float(self.x_train.min()), float(self.x_train.max())
        return np.clip((x - low) * (255 / max(high - low, 1e-12)), 0, 255).astype(np.uint8)

    @cached_property
    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        x = self.x_train.reshape(len(self.x_train), -1).astype(np.float64)
        std = x.std(0)
        return x.mean(0), np.where(std > 0, std, 1.0)

    @cached_property
    def sha256(self) -> str:
        """The content's hash: arrays (with their dtypes and shapes) and class names."""
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).data)
        digest.update(json.dumps(self.classes).encode())
        return digest.hexdigest()

    def describe(self) -> dict[str, object]:
        """What a sweep records of the data it used."""
        return {"name": self.name, "origin": self.origin, "shape": list(self.shape), "images": self.images,
                "scaling": self.scaling, "train_rows": len(self.y_train), "test_rows": len(self.y_test),
                "classes": list(self.classes), "sha256": self.sha256}


@dataclass(frozen=True)
class Info:
    """What a trial's configuration needs of its data set, without its arrays."""

    features: int
    classes: int
    train_rows: int


def names() -> list[str]:
    return sorted(SOURCES)


def source(name: str) -> Source:
    if name not in SOURCES:
        raise SweepError(f"unknown dataset {name!r}; choose one of {', '.join(names())}, or give the path of "
                         f"your own (an .npz, a folder of IDX files, a .csv or .parquet table)")
    return SOURCES[name]


def info(name: str) -> Info:
    """Features, classes and training rows of a shipped data set, or of an own one `own` or `adopt` read."""
    if name in _OWN:
        ds = _OWN[name]
        return Info(ds.features, len(ds.classes), len(ds.y_train))
    src = source(name)
    return Info(math.prod(SHAPE), len(src.classes), src.train_rows)


def known(name: str) -> bool:
    """Whether `name` is a shipped data set's or an own one's that this process has read."""
    return name in SOURCES or name in _OWN


def load(name: str, data_dir: str | Path | None = None) -> Dataset:
    """Data set `name`: a shipped one, from `data_dir` when given, else from the first place that
    has it; an own one as `own` or `adopt` read it.

    Cached per process (a reused trial process loads and checks its data once); the arrays are
    read-only, so a caller cannot change what the next one gets.
    """
    if name in _OWN:
        return _OWN[name]
    return _shipped(name, None if data_dir is None else str(data_dir))


@functools.lru_cache(maxsize=2)
def _shipped(name: str, data_dir: str | None) -> Dataset:
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
        arrays[part] = parse_idx(raw, str(path))
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


def _idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array, so any copy is checked against the original files."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images [N, ...] -> float32 [N, H x W x C] scaled to [0, 1]."""
    return np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)


def features(name: str, data_dir: str | Path | None = None) -> np.ndarray:
    """Data set `name`'s training rows, then its test rows, scaled (`Dataset.scaled`), in one read-only array.

    Cached per process like `load`. One array lets a trial predict every row in one call, without a copy.
    """
    return _features(load(name, data_dir))


@functools.lru_cache(maxsize=2)
def _features(ds: Dataset) -> np.ndarray:
    out = ds.scaled(np.concatenate([ds.x_train, ds.x_test]))
    out.setflags(write=False)
    return out


# A user's own data sets that this process has read, by name (`own`, `adopt`).
_OWN: dict[str, Dataset] = {}


def own(spec: Spec) -> str:
    """Read and check the user's data set `spec` names, keep it for this process, and return its name:
    `spec.name`, else the file's stem (a shipped set's name gets `-own` added, so the two never mix)."""
    path = Path(spec.path).absolute()
    if not path.exists():
        raise DataError(f"{spec.path}: no such file or folder (and not a shipped data set's name: "
                        f"{', '.join(names())})")
    name = spec.name or path.name.split(".")[0]
    if not spec.name:
        name = "".join(c if c.isalnum() or c in "_.-" else "_" for c in name).lstrip("_.-") or "data"
        name = f"{name}-own" if name in SOURCES else name
    elif not NAME.fullmatch(name) or name in SOURCES:
        raise DataError(f"{spec.path}: name {name!r} must be letters, digits, '_', '.' or '-' and not a shipped "
                        f"data set's name ({', '.join(names())})")
    _OWN[name] = _of(name, _read(replace(spec, path=str(path)), path.stat().st_mtime_ns), str(path))
    return name


@functools.lru_cache(maxsize=4)
def _read(spec: Spec, mtime: int) -> Arrays:
    from sweep.formats import read

    return read(spec)


def _of(name: str, arrays: Arrays, origin: str) -> Dataset:
    for array in (arrays.x_train, arrays.y_train, arrays.x_test, arrays.y_test):
        array.setflags(write=False)
    return Dataset(name=name, x_train=arrays.x_train, y_train=arrays.y_train, x_test=arrays.x_test,
                   y_test=arrays.y_test, classes=arrays.classes, origin=origin)


def save(name: str, folder: Path) -> list[Path]:
    """Copy own data set `name` into a sweep's `folder` (`data/`): `<name>.npz` and `<name>.json`,
    the record of its source, shape, classes and hash. Return the files written."""
    from sweep.artifacts import write_npz, write_text

    ds = _OWN[name]
    record = ds.describe()
    write_npz(folder / f"{name}.npz", x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test,
              classes=np.asarray(ds.classes))
    write_text(folder / f"{name}.json", json.dumps(record, indent=1) + "\n")
    return [folder / f"{name}.npz", folder / f"{name}.json"]


def recorded(name: str, folder: Path) -> dict[str, object]:
    """The record `save` wrote of data set `name` in `folder`, or {} if none."""
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def check_same(name: str, folder: Path) -> None:
    """Refuse own data set `name` where `folder` (a sweep's `data/`) holds other data of that name."""
    before = recorded(name, folder)
    if before and before["sha256"] != _OWN[name].sha256:
        raise DataError(f"{_OWN[name].origin}: not the data this sweep ran on ({before['origin']}, SHA-256 "
                        f"{str(before['sha256'])[:12]}...); give that data, or start another sweep with --name")


def adopt(folder: Path) -> None:
    """Make every own data set saved in a sweep's `folder` (`data/`) loadable by name in this
    process, its copy checked against the hash recorded beside it."""
    for record_file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record = json.loads(record_file.read_text())
        name = record["name"]
        if name in _OWN and _OWN[name].sha256 == record["sha256"]:
            continue
        copy = folder / f"{name}.npz"
        try:
            with np.load(copy, allow_pickle=False) as npz:
                arrays = Arrays(npz["x_train"], npz["y_train"], npz["x_test"], npz["y_test"],
                                tuple(str(c) for c in npz["classes"]))
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{copy}: unreadable ({exc}); copy the sweep's data/ folder again") from None
        ds = _of(name, arrays, str(record["origin"]))
        if ds.sha256 != record["sha256"]:
            raise DataError(f"{copy}: SHA-256 differs from its record; the sweep's copy of {name} is corrupt, copy "
                            f"its data/ folder again")
        _OWN[name] = ds


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
