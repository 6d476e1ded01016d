"""A user's own data: each format read and checked, every check's one-line refusal, and 200 mutated
files per format that either load and pass the checks or end in one `DataError`, never a traceback."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep import data
from sweep.config import resolve
from sweep.errors import DataError, SweepError
from sweep.formats import Arrays, Spec, read
from tests.conftest import digits_npz, wine_table

MUTANTS = 200  # per format


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def _idx_folder(folder: Path, npz: Path, compress: bool = False) -> Path:
    """The .npz's arrays as an IDX folder named as EMNIST names its files."""
    folder.mkdir()
    with np.load(npz) as arrays:
        for part, stem in (("x_train", "train-images-idx3"), ("y_train", "train-labels-idx1"),
                           ("x_test", "test-images-idx3"), ("y_test", "test-labels-idx1")):
            raw = _idx(arrays[part])
            name = f"own-{stem}-ubyte" + (".gz" if compress else "")
            (folder / name).write_bytes(gzip.compress(raw, compresslevel=1) if compress else raw)
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("own")
    npz = digits_npz(root)
    return {"npz": npz, "idx": _idx_folder(root / "idx", npz), "idx.gz": _idx_folder(root / "gz", npz, True),
            "csv": wine_table(root), "parquet": wine_table(root, ".parquet")}


def test_each_format_reads_the_same_data(files: dict[str, Path]) -> None:
    digits = [read(Spec(str(files[f]))) for f in ("npz", "idx", "idx.gz")]
    for other in digits[1:]:
        assert all(np.array_equal(getattr(digits[0], p), getattr(other, p)) for p in ("x_train", "y_test"))
    assert digits[0].x_train.shape == (1400, 8, 8) and digits[0].classes == tuple("0123456789")
    csv, parquet = read(Spec(str(files["csv"]))), read(Spec(str(files["parquet"])))
    assert csv.classes == ("class_0", "class_1", "class_2") and csv.x_train.shape == (142, 13)
    assert np.array_equal(csv.y_test, parquet.y_test) and np.allclose(csv.x_test, parquet.x_test)
    # 20 % of each class, stratified with seed 0: wine's 59/71/48 rows test 12/14/10.
    assert np.bincount(csv.y_test).tolist() == [12, 14, 10]


def test_a_table_split_by_column_declared_classes_and_a_label_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(13) / 10, "kind": [2, 0, 1] + [0, 2] * 5,
                          "part": ["train"] * 3 + ["TEST"] * 10})
    frame.to_csv(tmp_path / "t.csv", index=False)
    got = read(Spec(str(tmp_path / "t.csv"), label="kind", split="part", classes=("zero", "one", "two")))
    assert got.classes == ("zero", "one", "two") and got.y_train.tolist() == [2, 0, 1]
    assert got.y_test.tolist()[:2] == [0, 2]


def test_own_data_sizes_the_trial_and_scales_as_its_kind(files: dict[str, Path]) -> None:
    wine = data.load(data.own(Spec(str(files["csv"]))))
    assert resolve({"dataset": "wine", "validation": 20, "hidden": [8]}).architecture == "13-8-3"
    scaled = wine.scaled(wine.x_train)
    assert np.allclose(scaled.mean(0), 0, atol=1e-5) and np.allclose(scaled.std(0), 1, atol=1e-4)
    assert wine.scaling == data.STANDARDISED and not wine.images and wine.inputs == "features"
    digits = data.load(data.own(Spec(str(files["npz"]))))
    assert digits.scaling == data.PIXELS and digits.images and digits.scaled(digits.x_test).max() <= 1
    with pytest.raises(SweepError, match="validation must leave rows to fit of the 142 training rows of wine"):
        resolve({"dataset": "wine"})  # the default 5,000 validation rows
    with pytest.raises(SweepError, match=r"reduction_k between 1 and 13 \(wine: 13 features"):
        resolve({"dataset": "wine", "validation": 20, "reduction": "pca", "reduction_k": 20})


def test_a_path_and_a_shipped_name_never_collide(tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    for gz in (data.SHIPPED / "mnist").glob("*.gz"):
        (folder / gz.name).write_bytes(gz.read_bytes())
    name = data.own(Spec(str(folder)))
    assert name == "mnist-own" and data.load(name) is not data.load("mnist")
    assert np.array_equal(data.load(name).x_test, data.load("mnist").x_test)


def _arrays(**change) -> dict[str, np.ndarray]:
    base = {"x_train": np.zeros((6, 4), np.float32), "y_train": np.array([0, 1, 0, 1, 0, 1]),
            "x_test": np.zeros((10, 4), np.float32), "y_test": np.array([0, 1] * 5)}
    return base | change


CHECKS = [  # (what is wrong, the arrays, what the one line says)
    ("rows disagree", _arrays(y_train=np.array([0, 1, 0])), "x_train has 6 rows but y_train 3"),
    ("shapes disagree", _arrays(x_test=np.zeros((10, 5), np.float32)), "training rows are (4,) but test rows (5,)"),
    ("label of no class", _arrays(y_test=np.array([0, 2] * 5)), "class '2' has no training rows"),
    ("a class without training rows", _arrays(y_train=np.zeros(6, int)), "class '1' has no training rows"),
    ("one class", _arrays(y_train=np.zeros(6, int), y_test=np.zeros(10, int)), "1 classes"),
    ("NaN", _arrays(x_train=np.full((6, 4), np.nan, np.float32)), "row 0 holds NaN or infinite"),
    ("infinite", _arrays(x_test=np.where(np.eye(10, 4, -1) > 0, np.inf, 0).astype(np.float32)), "row 1 holds NaN"),
    ("strings as features", _arrays(x_train=np.full((6, 4), "a")), "holds <U1 values; features must be numbers"),
    ("complex features", _arrays(x_test=np.zeros((10, 4), complex)), "features must be numbers"),
    ("fractional labels", _arrays(y_train=np.linspace(0, 1, 6)), "labels must be integers or strings"),
    ("empty test split", _arrays(x_test=np.zeros((0, 4), np.float32), y_test=np.zeros(0, int)), "split is empty"),
    ("3 test rows", _arrays(x_test=np.zeros((3, 4), np.float32), y_test=np.array([0, 1, 0])),
     "3 test rows; a sweep's report scores at least 10"),
    ("one value per row", _arrays(x_train=np.zeros(6, np.float32)), "give feature rows [N, F]"),
    ("labels as a matrix", _arrays(y_test=np.zeros((10, 2), int)), "one label per row"),
    ("images of 7 channels", _arrays(x_train=np.zeros((6, 2, 2, 7), np.uint8),
                                     x_test=np.zeros((10, 2, 2, 7), np.uint8)), "images of 7 channels"),
]


@pytest.mark.parametrize("case, arrays, says", CHECKS, ids=[c[0] for c in CHECKS])
def test_each_check_is_one_line(tmp_path: Path, case: str, arrays: dict, says: str) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as caught:
        read(Spec(str(tmp_path / "bad.npz")))
    assert says in str(caught.value) and "\n" not in str(caught.value) and "bad.npz" in str(caught.value)


def test_declared_classes_bound_the_labels(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", **_arrays(y_test=np.array([0, 3] * 5)))
    with pytest.raises(DataError, match="label 3 is outside the 2 declared classes"):
        read(Spec(str(tmp_path / "d.npz"), classes=("no", "yes")))
    pd.DataFrame({"a": range(50), "label": ["x", "y"] * 25}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match="label 'y' is not one of the declared classes"):
        read(Spec(str(tmp_path / "t.csv"), classes=("x", "z")))


def test_table_refusals(tmp_path: Path) -> None:
    cases = [({"a": ["1", "b", "3", "4"], "label": [0, 1, 0, 1]}, {}, "column 'a' is not numeric ('b' in row 1)"),
             ({"a": [1, 2, 3, 4], "label": [0, None, 0, 1]}, {}, "row 1 has no 'label'"),
             ({"a": [1, 2, 3, 4], "label": [0, 1, 0, 1]}, {}, "4 rows in 2 classes (the smallest has 2) are too few"),
             ({"a": [1, 2, 3, 4], "y": [0, 1, 0, 1]}, {}, "no label column 'label' among a, y"),
             ({"a": [1, 2, 3, 4], "label": [0, 1, 0, 1], "s": ["train", "dev", "test", "train"]}, {"split": "s"},
              "column 's' holds 'dev'"),
             ({"a": [1, 2, 3], "label": [0, 1, 1]}, {}, "too few to draw a stratified test split")]
    for columns, options, says in cases:
        pd.DataFrame(columns).to_csv(tmp_path / "t.csv", index=False)
        with pytest.raises(DataError, match=says.replace("(", r"\(").replace(")", r"\)")):
            read(Spec(str(tmp_path / "t.csv"), **options))
    (tmp_path / "t.txt").write_text("a,label\n1,0\n")
    with pytest.raises(DataError, match="not a data set this tool reads"):
        read(Spec(str(tmp_path / "t.txt")))


def _mutants(raw: bytes, other: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
    """`count` broken versions of a file: cut short, bits flipped, a wrong header, another container."""
    out = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            out.append(raw[:int(rng.integers(0, len(raw)))])
        elif kind == 1:
            flipped = bytearray(raw)
            for at in rng.integers(0, len(raw), int(rng.integers(1, 9))):
                flipped[at] ^= 1 << int(rng.integers(8))
            out.append(bytes(flipped))
        elif kind == 2:
            head = int(rng.integers(1, 64))
            out.append(rng.bytes(head) + raw[head:])
        else:
            out.append([other, gzip.compress(raw), _zipped(raw), b"", raw + raw][i // 4 % 5])
    return out


def _zipped(raw: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("x_train.npy", raw)
    return buf.getvalue()


def _holds(arrays: Arrays) -> None:
    """What every data set that loads must be: the checks held."""
    assert len(arrays.x_train) == len(arrays.y_train) > 0 and len(arrays.x_test) == len(arrays.y_test) > 0
    assert arrays.x_train.shape[1:] == arrays.x_test.shape[1:]
    assert int(max(arrays.y_train.max(), arrays.y_test.max())) < len(arrays.classes)
    assert np.isfinite(arrays.x_train.astype(np.float64)).all()


@pytest.mark.parametrize("fmt", ["npz", "idx", "idx.gz", "csv", "parquet"])
def test_fuzzed_files_load_checked_or_end_in_one_line(files: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(sum(map(ord, fmt)))
    source = files[fmt]
    target = source if source.is_file() else sorted(source.iterdir())[int(rng.integers(4))]
    other = files["csv" if fmt != "csv" else "npz"].read_bytes()
    work = tmp_path / "case"
    outcomes = {"loaded": 0, "refused": 0}
    for i, mutant in enumerate(_mutants(target.read_bytes(), other, rng, MUTANTS)):
        if source.is_dir():  # one of the folder's four files broken
            if work.exists():
                for f in work.iterdir():
                    f.unlink()
            else:
                work.mkdir()
            for f in source.iterdir():
                (work / f.name).write_bytes(mutant if f.name == target.name else f.read_bytes())
            path = work
        else:
            path = tmp_path / f"case{i % 2}{source.suffix}"
            path.write_bytes(mutant)
        before = sorted(tmp_path.rglob("*"))
        try:
            _holds(read(Spec(str(path))))
            outcomes["loaded"] += 1
        except DataError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
            outcomes["refused"] += 1
        assert sorted(tmp_path.rglob("*")) == before  # reading writes nothing
    assert sum(outcomes.values()) == MUTANTS and outcomes["refused"] >= MUTANTS // 4, outcomes
