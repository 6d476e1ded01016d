"""Linear centered kernel alignment (CKA; Kornblith et al. 2019) between representations of the
same rows: one pair in feature space (`cka`), every pair of many layers at once from their Gram
matrices, a block of rows at a time (`matrices`).

`cka(x, y)` is the plain estimator; `cka(x, y, debiased=True)` uses the unbiased HSIC estimator
(Song et al. 2012), which does not drift towards 1 when features outnumber rows. Both are
invariant to orthogonal transforms and isotropic scaling of either side, not to other linear maps.
"""

from __future__ import annotations

import numpy as np


def cka(x: np.ndarray, y: np.ndarray, debiased: bool = False) -> float:
    """Linear CKA of `x` [n, p] and `y` [n, q] (rows paired), in [0, 1] (the debiased one may dip below 0)."""
    if len(x) != len(y):
        raise ValueError(f"CKA compares the same rows: {len(x)} against {len(y)}")
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    hsic = _hsic_unbiased if debiased else _hsic
    xy, xx, yy = hsic(x, y), hsic(x, x), hsic(y, y)
    return float(xy / np.sqrt(xx * yy)) if xx > 0 and yy > 0 else float("nan")


def _hsic(x: np.ndarray, y: np.ndarray) -> float:
    """||Y_c^T X_c||_F^2: HSIC of linear kernels on centered features, up to a constant factor."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    return float(np.square(yc.T @ xc).sum())


def _hsic_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased HSIC estimator of K = X X^T and L = Y Y^T with zeroed diagonals, in feature space."""
    n = len(x)
    if n < 4:
        raise ValueError(f"debiased CKA needs at least 4 rows, got {n}")
    kd, ld = np.square(x).sum(1), np.square(y).sum(1)  # the diagonals of K and L
    k1, l1 = x @ x.sum(0) - kd, y @ y.sum(0) - ld  # row sums of K and L without their diagonals
    trace = np.square(y.T @ x).sum() - (kd * ld).sum()  # tr(K~ L~)
    return float((trace + k1.sum() * l1.sum() / ((n - 1) * (n - 2)) - 2 * (k1 @ l1) / (n - 2)) / (n * (n - 3)))


def matrices(layers: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Plain and debiased CKA of every named representation against every other, each
    [len(layers)] x [len(layers)], symmetric with a unit diagonal.

    In row space: HSIC is the inner product of two Gram matrices, double-centred for the plain
    estimator and U-centred for the unbiased one (Szekely & Rizzo 2014), so each layer's Gram rows
    are built once per block of rows and every pair's inner product is one float32 GEMM, instead of
    three feature-space products per pair. Both estimators are invariant to centring the features,
    so the Grams are of centred features, which keeps float32 free of cancellation."""
    xs = [np.asarray(x, np.float32) for x in layers.values()]
    xs = [x - x.mean(0) for x in xs]
    n, count = len(xs[0]), len(xs)
    if n < 4:
        raise ValueError(f"debiased CKA needs at least 4 rows, got {n}")
    diagonals = [np.square(x).sum(1) for x in xs]  # K_ii; the rows of a centred Gram sum to 0
    plain, unbiased = np.zeros((count, count)), np.zeros((count, count))
    block = max(1, _FLOATS // (count * n))
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        grams = np.stack([x[rows] @ x.T for x in xs])  # [layers, rows, n]
        plain += _inner(grams)
        # U-centring with row sums -K_ii and total -sum K_ii, then the diagonal zeroed
        for gram, d in zip(grams, diagonals):
            gram += (d[rows, None] + d[None, :]) / (n - 2) - d.sum() / ((n - 1) * (n - 2))
        on_diagonal = np.arange(rows.stop - rows.start)
        grams[:, on_diagonal, on_diagonal + start] = 0
        unbiased += _inner(grams)
    return _normalised(plain), _normalised(unbiased)


_FLOATS = 1 << 25  # float32 Gram entries held at once (128 MiB)


def _inner(grams: np.ndarray) -> np.ndarray:
    flat = grams.reshape(len(grams), -1)
    return (flat @ flat.T).astype(np.float64)


def _normalised(hsic: np.ndarray) -> np.ndarray:
    scale = np.sqrt(np.clip(np.diag(hsic), 0, None))
    both = np.outer(scale, scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = hsic / both
    out[both == 0] = np.nan
    np.fill_diagonal(out, np.where(scale > 0, 1.0, np.nan))
    return out
