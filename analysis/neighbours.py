"""Exact k-nearest neighbours through float32 arithmetic, one search shared by every probe of a layer.

A block of queries is ranked against every training row with one float32 matrix product
(|y|^2 - 2 x.y, about twice the speed of scikit-learn's float64 one), and a compiled pass keeps
each query's `k + SPARE` best candidates. Those are ranked again by their float64 distances: nearer
first and, between equal distances, the lower training row first. That is scikit-learn's
`KNeighborsClassifier`'s ranking wherever it is defined: between equal distances (ReLU layers have
rows of zeros) scikit-learn's choice depends on its thread count, this one does not. The float32
ranking can only be wrong by its rounding bound, which grows with the rows' lengths; a row longer
than the query's length plus the distance of its last candidate is farther than every candidate,
so only the rows within that reach bound it. A query whose k-th distance lies within the bound of
the best row left out is searched again over every row in float64. The answer is exact whatever
the data and its ties.
"""

from __future__ import annotations

import numba
import numpy as np

SPARE = 8  # candidates kept beyond k: ties and rounding rarely need more
TREE_COLUMNS = 15  # scikit-learn picks its k-d tree up to this width
BLOCK_VALUES = 1 << 24  # float32 distances held at once (64 MiB)
_U32 = float(np.finfo(np.float32).eps) / 2  # float32's unit roundoff


def search(train: np.ndarray, test: np.ndarray, k: int, distances: bool = False):
    """Indices [len(test), k] of each test row's k nearest training rows (Euclidean), nearest first;
    with `distances`, also their squared distances (float64; to float32's precision where the
    float32 ranking was already certain).

    Layers of at most `TREE_COLUMNS` columns go through scikit-learn's k-d tree, as
    `KNeighborsClassifier` itself does, which beats any product there."""
    k = min(k, len(train))
    if train.shape[1] <= TREE_COLUMNS:
        from sklearn.neighbors import NearestNeighbors

        far, found = NearestNeighbors(n_neighbors=k).fit(train).kneighbors(test)
        return (found, far.astype(np.float64) ** 2) if distances else found
    train32 = np.ascontiguousarray(train, dtype=np.float32)
    squares = np.einsum("ij,ij->i", train32, train32, dtype=np.float64)
    squares32, largest = squares.astype(np.float32), float(np.sqrt(squares.max()))
    roundoff = (train.shape[1] + 4) * _U32  # |float32 value - exact| <= this x (|x| + max|y|)^2, any summation order
    m = min(k + SPARE, len(train))
    out, far = np.empty((len(test), k), np.int64), np.empty((len(test), k))
    step = max(1, BLOCK_VALUES // max(len(train), 4 * m * train.shape[1]))
    products = np.empty((min(step, len(test)), len(train)), np.float32)
    for start in range(0, len(test), step):
        query = np.ascontiguousarray(test[start:start + step], dtype=np.float32)
        block = products[:len(query)]
        np.matmul(query, train32.T, out=block)
        picked, left_out = _smallest(block, squares32, m)  # the m best by |y|^2 - 2 x.y, and the m-th value
        values = squares32[picked] - np.float32(2) * np.take_along_axis(block, picked, 1)
        order = np.lexsort((picked, values), axis=-1)
        picked, values = np.take_along_axis(picked, order, 1), np.take_along_axis(values, order, 1).astype(np.float64)
        query64 = query.astype(np.float64)
        own = (query64**2).sum(1)
        # A row longer than the query's length plus the k-th candidate's distance (at most `kth`) is
        # farther than that candidate whatever the rounding, so only shorter rows bound the rounding.
        length, lengths = np.sqrt(own), np.sqrt(squares[picked[:, : k + 1]])
        kth = own + values[:, k - 1] + roundoff * (length + lengths[:, k - 1]) ** 2
        reach = np.minimum(largest, np.maximum(length + np.sqrt(np.maximum(kth, 0)), lengths.max(1)))
        error = roundoff * (length + reach) ** 2
        # Certain where the k best, and their order, are further apart than twice the rounding.
        unsure = (np.diff(values[:, : k + 1], axis=1) <= 2 * error[:, None]).any(1)
        if m < len(train):
            unsure |= left_out - values[:, k - 1] <= 2 * error
        rows = np.flatnonzero(unsure)
        exact = ((query64[rows, None, :] - train32[picked[rows]]) ** 2).sum(-1)
        again = np.lexsort((picked[rows], exact), axis=-1)
        picked[rows], exact = np.take_along_axis(picked[rows], again, 1), np.take_along_axis(exact, again, 1)
        values += own[:, None]
        values[rows] = exact
        out[start:start + len(query)], far[start:start + len(query)] = picked[:, :k], values[:, :k].clip(0)
        if m < len(train):  # a row left out is at least as far as the farthest candidate, in float32
            for row in rows[exact[:, k - 1] >= left_out[rows] + own[rows] - 2 * error[rows]]:
                out[start + row], far[start + row] = _every_row(train32, query64[row], k)
    return (out, far) if distances else out


def among(found: np.ndarray, rows: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """From each query's nearest rows of a whole set of `n` (`found`, as `search` ranks them), the k
    nearest of the subset `rows` (sorted), as positions in `rows`: what `search` over the subset
    finds, ties included, for the queries it returns as having k. The others (fewer than k of the
    subset among `found`) are returned too, to be searched again."""
    position = np.full(n, -1, np.int64)
    position[rows] = np.arange(len(rows))
    candidates = position[found]
    kept = candidates >= 0
    first = np.argsort(~kept, axis=1, kind="stable")[:, :k]  # the subset's rows, in the whole set's order
    return np.take_along_axis(candidates, first, 1), np.flatnonzero(kept.sum(1) < k)


def _every_row(train32: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One query against every training row in float64, ties broken by the lower row: the k nearest
    and their squared distances."""
    exact = ((train32 - query) ** 2).sum(1)
    kth = np.partition(exact, k - 1)[k - 1]
    tied = np.flatnonzero(exact <= kth)
    nearest = tied[np.lexsort((tied, exact[tied]))][:k]
    return nearest, exact[nearest]


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
