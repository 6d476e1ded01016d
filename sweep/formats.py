"""A user's own data set, read from its file and checked: an `.npz`, a folder of IDX files, or a table.

`read(spec)` returns the four arrays, labels as class indices, and the class names. Whatever a
file holds (a wrong extension, a cut-off end, a flipped bit, a NaN, a label of no class), the
answer is arrays that pass every check below or one `DataError` naming the file and the fix.
"""

from __future__ import annotations

import gzip
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from sweep.errors import DataError

PARTS = ("x_train", "y_train", "x_test", "y_test")
TABLES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a data set's name is part of file names
# IDX element types (the third byte of the magic number), big-endian.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# The four IDX files of a folder, as MNIST, Fashion-MNIST, KMNIST and EMNIST name them
# (`train-images-idx3-ubyte`, `emnist-letters-test-labels-idx1-ubyte.gz`, ...).
IDX_FILES = {
    "x_train": re.compile(r"(^|.*[-_.])train[-_.]images[-_.]idx\d[-_.]ubyte(\.gz)?$"),
    "y_train": re.compile(r"(^|.*[-_.])train[-_.]labels[-_.]idx1[-_.]ubyte(\.gz)?$"),
    "x_test": re.compile(r"(^|.*[-_.])(t10k|test)[-_.]images[-_.]idx\d[-_.]ubyte(\.gz)?$"),
    "y_test": re.compile(r"(^|.*[-_.])(t10k|test)[-_.]labels[-_.]idx1[-_.]ubyte(\.gz)?$"),
}
MAX_CLASSES = 10_000
MIN_TEST_ROWS = 10  # the report's layer similarity (debiased CKA) and probes score test rows


@dataclass(frozen=True)
class Spec:
    """Where a user's data set is and how to read it: a space file's `dataset: {path: ...}`."""

    path: str
    name: str = ""  # default: the file's stem
    label: str = "label"  # a table's label column
    split: str = ""  # a table's column of `train` / `test`; none: a stratified draw
    test_fraction: float = 0.2  # without a split column: the share of rows, per class, that test
    test_seed: int = 0
    classes: tuple[str, ...] = ()  # class names, in the order of integer labels; default: the data's

    @property
    def format(self) -> str:
        path = Path(self.path)
        if path.is_dir():
            return "idx"
        if path.suffix.lower() == ".npz":
            return "npz"
        if path.suffix.lower() in TABLES:
            return TABLES[path.suffix.lower()]
        raise DataError(f"{self.path}: not a data set this tool reads; give an .npz, a folder of IDX files, "
                        f"a .csv or a .parquet table")


@dataclass(frozen=True)
class Arrays:
    """A data set as read and checked: features [N, ...] and class indices [N]."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]


def read(spec: Spec) -> Arrays:
    """The data set `spec` names, checked; a `DataError` for anything a file can be instead."""
    path = Path(spec.path)
    if not path.exists():
        raise DataError(f"{spec.path}: no such file or folder")
    fmt = spec.format
    try:
        if fmt == "npz":
            x_train, y_train, x_test, y_test = _npz(path)
        elif fmt == "idx":
            x_train, y_train, x_test, y_test = _idx_folder(path)
        else:
            x_train, y_train, x_test, y_test = _table(path, fmt, spec)
    except DataError:
        raise
    except Exception as exc:  # a corrupt file can raise anything from its parser; each is one line
        raise DataError(f"{spec.path}: not a readable {fmt} file ({_why(exc)}); check that it is whole and of "
                        f"the kind its name says") from None
    return checked(x_train, y_train, x_test, y_test, spec.classes, spec.path)


def checked(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
            declared: tuple[str, ...], where: str) -> Arrays:
    """The arrays, with labels turned into class indices, if they form a classification data set."""
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim < 2 or x.ndim > 4:
            raise DataError(f"{where}: x_{part} has shape {x.shape}; give feature rows [N, F] or images "
                            f"[N, H, W] or [N, H, W, C]")
        if y.ndim != 1:
            raise DataError(f"{where}: y_{part} has shape {y.shape}; give one label per row [N]")
        if len(x) != len(y):
            raise DataError(f"{where}: x_{part} has {len(x)} rows but y_{part} {len(y)}; give one label per row")
        if not len(x):
            raise DataError(f"{where}: the {part} split is empty; it needs at least one row")
        if x.dtype.kind not in "buif":
            raise DataError(f"{where}: x_{part} holds {x.dtype} values; features must be numbers")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            row = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(1))[0])
            raise DataError(f"{where}: x_{part} row {row} holds NaN or infinite values; drop or fill them")
    if len(x_test) < MIN_TEST_ROWS:
        raise DataError(f"{where}: {len(x_test)} test rows; a sweep's report scores at least {MIN_TEST_ROWS}, give "
                        f"more")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{where}: training rows are {x_train.shape[1:]} but test rows {x_test.shape[1:]}; "
                        f"both splits need the same shape")
    if x_train.ndim == 4 and x_train.shape[-1] > 4:
        raise DataError(f"{where}: images of {x_train.shape[-1]} channels; give H x W x C images with C <= 4, or "
                        f"flatten them to feature rows")
    y_train, y_test, classes = _classes(y_train, y_test, declared, where)
    return Arrays(_native(x_train), y_train, _native(x_test), y_test, classes)


def _classes(y_train: np.ndarray, y_test: np.ndarray, declared: tuple[str, ...],
             where: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Labels as indices into the class names: the declared ones, else the sorted labels found."""
    kinds = {y_train.dtype.kind, y_test.dtype.kind}
    if kinds <= set("iu"):
        values = np.union1d(y_train, y_test)
        if declared:
            bad = values[(values < 0) | (values >= len(declared))]
            if len(bad):
                raise DataError(f"{where}: label {bad[0]} is outside the {len(declared)} declared classes "
                                f"(integer labels count from 0); fix the label or the classes list")
            names, train, test = declared, y_train.astype(np.int64), y_test.astype(np.int64)
        else:
            names = tuple(str(v) for v in values)
            train, test = np.searchsorted(values, y_train), np.searchsorted(values, y_test)
    elif kinds <= set("UO"):
        texts = [np.asarray([str(v) for v in y], dtype=str) for y in (y_train, y_test)]
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for y in (y_train, y_test) for v in y):
            raise DataError(f"{where}: some labels are empty; every row needs a class")
        names = declared or tuple(np.union1d(*texts).tolist())
        index = {name: i for i, name in enumerate(names)}
        for y in texts:
            unknown = [str(v) for v in np.unique(y) if v not in index]
            if unknown:
                raise DataError(f"{where}: label {unknown[0]!r} is not one of the declared classes; fix the label "
                                f"or add it to the classes list")
        train, test = (np.asarray([index[v] for v in y], dtype=np.int64) for y in texts)
    else:
        raise DataError(f"{where}: labels of dtype {y_train.dtype}/{y_test.dtype}; labels must be integers or "
                        f"strings")
    if not 2 <= len(names) <= MAX_CLASSES:
        raise DataError(f"{where}: {len(names)} classes; a classifier needs between 2 and {MAX_CLASSES:,}")
    empty = np.flatnonzero(np.bincount(train, minlength=len(names)) == 0)
    if len(empty):
        raise DataError(f"{where}: class {names[empty[0]]!r} has no training rows; add some or drop the class")
    dtype = np.uint8 if len(names) <= 256 else np.int32
    return train.astype(dtype), test.astype(dtype), tuple(names)


def _native(x: np.ndarray) -> np.ndarray:
    """`x` in native byte order, booleans as uint8 (IDX is big-endian)."""
    return np.ascontiguousarray(x, dtype=np.uint8 if x.dtype.kind == "b" else x.dtype.newbyteorder("="))


def _npz(path: Path) -> tuple[np.ndarray, ...]:
    with zipfile.ZipFile(path) as archive:
        members = {m.filename.removesuffix(".npy"): m for m in archive.infolist()}
        missing = [p for p in PARTS if p not in members]
        if missing:
            raise DataError(f"{path}: no array {missing[0]!r}; an .npz data set holds {', '.join(PARTS)}")
        arrays = []
        for part in PARTS:
            with archive.open(members[part]) as fh:
                arrays.append(_npy(fh, members[part].file_size, f"{path}:{part}"))
    return tuple(arrays)


def _npy(fh: IO[bytes], size: int, where: str) -> np.ndarray:
    """One `.npy` member, its header checked against its size before anything is allocated."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    shape, fortran, dtype = (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(fh)
    if dtype.hasobject:
        raise DataError(f"{where}: holds Python objects; save numbers or strings (np.savez without object arrays)")
    expected = math.prod(shape) * dtype.itemsize
    if size - fh.tell() != expected:
        raise DataError(f"{where}: {size - fh.tell()} bytes of data where its header says {expected}; the file is "
                        f"cut short or corrupt")
    return np.frombuffer(fh.read(expected), dtype).reshape(shape, order="F" if fortran else "C")


def _idx_folder(folder: Path) -> tuple[np.ndarray, ...]:
    files = sorted(p for p in folder.iterdir() if p.is_file())
    arrays = []
    for part, pattern in IDX_FILES.items():
        found = [p for p in files if pattern.match(p.name)]
        if len(found) != 1:
            what = "no file" if not found else f"{len(found)} files ({', '.join(p.name for p in found)})"
            raise DataError(f"{folder}: {what} for {part}; a folder of IDX files holds one each of "
                            f"train-images, train-labels, t10k-images, t10k-labels (-idx?-ubyte, optionally .gz)")
        opener = gzip.open if found[0].suffix == ".gz" else open
        with opener(found[0], "rb") as fh:
            arrays.append(parse_idx(fh.read(), str(found[0])))
    return tuple(arrays)


def parse_idx(raw: bytes, where: str) -> np.ndarray:
    """An IDX file's array, its magic number and size checked."""
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] not in IDX_TYPES or not 1 <= raw[3] <= 4:
        raise DataError(f"{where}: not an IDX file (its magic number is wrong); give the original file")
    ndim, dtype = raw[3], np.dtype(IDX_TYPES[raw[2]])
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = 4 + 4 * ndim + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"{where}: {len(raw)} bytes where its header ({'x'.join(map(str, shape))}) says {expected}; "
                        f"the file is cut short or corrupt")
    return np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape)


def _table(path: Path, fmt: str, spec: Spec) -> tuple[np.ndarray, ...]:
    import pandas as pd

    frame = pd.read_csv(path, low_memory=False) if fmt == "csv" else pd.read_parquet(path)
    for role, column in (("label", spec.label), ("split", spec.split)):
        if column and column not in frame.columns:
            raise DataError(f"{path}: no {role} column {column!r} among {', '.join(map(str, frame.columns[:8]))}"
                            f"{' ...' if len(frame.columns) > 8 else ''}; name it with {role}: <column>")
    labels = frame.pop(spec.label)
    split = frame.pop(spec.split).astype(str).str.lower() if spec.split else None
    if labels.isna().any():
        raise DataError(f"{path}: row {int(labels.isna().to_numpy().argmax())} has no {spec.label!r}; every row "
                        f"needs a class")
    for column in frame.columns:
        if frame[column].dtype.kind not in "buif":
            bad = frame[column][pd.to_numeric(frame[column], errors="coerce").isna()]
            value = f" ({bad.iloc[0]!r} in row {bad.index[0]})" if len(bad) else ""
            raise DataError(f"{path}: column {column!r} is not numeric{value}; features must be numbers (encode it, "
                            f"or drop the column)")
    if not len(frame.columns):
        raise DataError(f"{path}: no feature columns beside {spec.label!r}")
    empty = frame.isna().any(axis=1).to_numpy()
    if empty.any():
        raise DataError(f"{path}: row {int(empty.argmax())} (from 0, header not counted) holds an empty or NaN "
                        f"feature; drop or fill it")
    if split is not None:
        if not split.isin(["train", "test"]).all():
            bad = split[~split.isin(["train", "test"])].iloc[0]
            raise DataError(f"{path}: column {spec.split!r} holds {bad!r}; a split column holds train or test")
        test = (split == "test").to_numpy()
    else:
        test = _stratified_test(labels.astype(str).to_numpy(), spec.test_fraction, spec.test_seed, path)
    with np.errstate(over="ignore"):  # a value beyond float32 becomes infinite, which the checks refuse
        x = frame.to_numpy(dtype=np.float32)
    y = labels.to_numpy()
    if y.dtype.kind == "f":  # integers read as floats
        if not np.array_equal(y, np.round(y)):
            raise DataError(f"{path}: column {spec.label!r} holds fractions; labels must be integers or strings")
        y = y.astype(np.int64)
    return x[~test], y[~test], x[test], y[test]


def _stratified_test(labels: np.ndarray, fraction: float, seed: int, path: Path) -> np.ndarray:
    """Which rows test: `fraction` of each class, drawn with `seed` (scikit-learn's stratified split)."""
    from sklearn.model_selection import train_test_split

    values, counts = np.unique(labels, return_counts=True)
    if counts.min() < 2 or len(labels) * fraction < len(values):
        raise DataError(f"{path}: {len(labels)} rows in {len(values)} classes (the smallest has {counts.min()}) are "
                        f"too few to draw a stratified test split of {fraction:g}; add a split column")
    _, test = train_test_split(np.arange(len(labels)), test_size=fraction, random_state=seed, stratify=labels)
    out = np.zeros(len(labels), bool)
    out[test] = True
    return out


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__
