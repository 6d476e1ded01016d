"""Linear centered kernel alignment (CKA; Kornblith et al. 2019) between two representations of the
same rows, in feature space: O(rows x features), never a rows x rows Gram matrix.

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


def matrix(layers: dict[str, np.ndarray], debiased: bool = False) -> np.ndarray:
    """CKA of every named representation against every other, [len(layers)] x [len(layers)], symmetric."""
    names = list(layers)
    out = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            out[i, j] = out[j, i] = cka(layers[a], layers[names[j]], debiased)
    return out
