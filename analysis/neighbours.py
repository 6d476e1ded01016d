"""Exact k-nearest neighbours through float32 arithmetic, one search shared by every probe of a layer.

A block of queries is ranked against every training row with one float32 matrix product
(|y|^2 - 2 x.y, about twice the speed of scikit-learn's float64 one), and a compiled pass keeps
each query's `k + SPARE` best candidates. Those are ranked again by their float64 distances: nearer
first and, between equal distances, the lower training row first. That is scikit-learn's
`KNeighborsClassifier`'s ranking wherever it is defined: between equal distances (ReLU layers have
rows of zeros) scikit-learn's choice depends on its thread count, this one does not. The float32
ranking can only be wrong by its rounding bound, so a
query whose k-th distance lies within that bound of the best row left out is searched again over
every row in float64. The answer is exact whatever the data and its ties.
"""

from __future__ import annotations

import numba
import numpy as np

SPARE = 8  # candidates kept beyond k: ties and rounding rarely need more
TREE_COLUMNS = 15  # scikit-learn picks its k-d tree up to this width
BLOCK_VALUES = 1 << 24  # float32 distances held at once (64 MiB)
_U32 = float(np.finfo(np.float32).eps) / 2  # float32's unit roundoff


def search(train: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    """Indices [len(test), k] of each test row's k nearest training rows (Euclidean), nearest first.

    Layers of at most `TREE_COLUMNS` columns go through scikit-learn's k-d tree, as
    `KNeighborsClassifier` itself does, which beats any product there."""
    k = min(k, len(train))
    if train.shape[1] <= TREE_COLUMNS:
        from sklearn.neighbors import NearestNeighbors

        return NearestNeighbors(n_neighbors=k).fit(train).kneighbors(test, return_distance=False)
    train32 = np.ascontiguousarray(train, dtype=np.float32)
    squares = np.einsum("ij,ij->i", train32, train32, dtype=np.float64)
    squares32, largest = squares.astype(np.float32), float(np.sqrt(squares.max()))
    # |float32 distance - exact| <= (w + 4) u (|x| + max|y|)^2 for any order of summation in the product
    slack = 2 * (train.shape[1] + 4) * _U32
    m = min(k + SPARE, len(train))
    out = np.empty((len(test), k), np.int64)
    step = max(1, BLOCK_VALUES // max(len(train), 4 * m * train.shape[1]))
    products = np.empty((min(step, len(test)), len(train)), np.float32)
    for start in range(0, len(test), step):
        query = np.ascontiguousarray(test[start:start + step], dtype=np.float32)
        block = products[:len(query)]
        np.matmul(query, train32.T, out=block)
        picked, left_out = _smallest(block, squares32, m)  # the m best by |y|^2 - 2 x.y, and the m-th value
        query64 = query.astype(np.float64)
        exact = ((query64[:, None, :] - train32[picked]) ** 2).sum(-1)
        order = np.lexsort((picked, exact), axis=-1)
        picked, exact = np.take_along_axis(picked, order, 1), np.take_along_axis(exact, order, 1)
        out[start:start + len(query)] = picked[:, :k]
        if m < len(train):  # a row left out is at least as far as the farthest candidate, in float32
            own = (query64 ** 2).sum(1)
            unsure = exact[:, k - 1] >= left_out + own - slack * (np.sqrt(own) + largest) ** 2
            for row in np.flatnonzero(unsure):
                out[start + row] = _every_row(train32, query64[row], k)
    return out


def _every_row(train32: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """One query against every training row in float64, ties broken by the lower row."""
    exact = ((train32 - query) ** 2).sum(1)
    kth = np.partition(exact, k - 1)[k - 1]
    tied = np.flatnonzero(exact <= kth)
    return tied[np.lexsort((tied, exact[tied]))][:k]


@numba.njit(cache=True, nogil=True)
def _smallest(products: np.ndarray, squares: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the columns of the m smallest `squares - 2 products` (unordered) and the largest of
    them: one pass with a max-heap of m."""  # pragma: no cover - compiled
    rows, n = products.shape
    out = np.empty((rows, m), np.int64)
    worst = np.empty(rows, np.float64)
    heap = np.empty(m, np.float32)
    for r in range(rows):
        row = products[r]
        for i in range(m):
            heap[i] = np.inf
        for j in range(n):
            value = squares[j] - np.float32(2) * row[j]
            if value < heap[0]:
                i = 0
                while True:  # sift the new value down from the root
                    child = 2 * i + 1
                    if child >= m:
                        break
                    if child + 1 < m and heap[child + 1] > heap[child]:
                        child += 1
                    if heap[child] <= value:
                        break
                    heap[i], out[r, i] = heap[child], out[r, child]
                    i = child
                heap[i], out[r, i] = value, j
        worst[r] = heap[0]
    return out, worst
