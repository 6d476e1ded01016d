"""How separable a layer's classes are: KNN on the layer (or on an embedding of it) and a linear
probe. Each takes train rows (to fit) and test rows (to score) and returns accuracies."""

from __future__ import annotations

import numpy as np

PLURALITY, MAJORITY = "plurality", "majority"
LINEAR_GTOL = 1e-4  # the linear probe stops where its largest gradient entry (mean loss, whitened) is below
_WHITENING_FLOOR = 1e-2  # added to each direction's variance: directions without variance keep a finite scale
VOTES = (PLURALITY, MAJORITY)


def knn(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
        ks: tuple[int, ...], vote: str = PLURALITY, nearest: np.ndarray | None = None) -> dict[int, float]:
    """Test accuracy of k-nearest-neighbour classifiers fitted on `train`, for each k, from one exact
    search at the largest k (or its result, `nearest`): the same predictions as scikit-learn's
    `KNeighborsClassifier(k)` fitted on integer labels (`plurality`) or on one-hot labels and read by
    argmax (`majority`)."""
    if nearest is None:
        from analysis import neighbours  # numba: imported where a search runs, not where a plan is read

        nearest = neighbours.search(train, test, max(ks))
    votes = y_train[nearest]
    classes = int(max(y_train.max(), y_test.max())) + 1
    rule = plurality if vote == PLURALITY else majority
    return {k: float((rule(votes[:, :k], classes) == y_test).mean()) for k in ks}


def plurality(votes: np.ndarray, classes: int) -> np.ndarray:
    """The class most neighbours have, per row; the lowest such class on a tie, as scikit-learn."""
    return _counts(votes, classes).argmax(1)


def majority(votes: np.ndarray, classes: int) -> np.ndarray:
    """The class more than half the neighbours have, per row, else class 0: a classifier fitted on
    one-hot labels decides each class column by its own vote, and argmax of a row of zeros is 0."""
    counts = _counts(votes, classes)
    return np.where(2 * counts.max(1) > votes.shape[1], counts.argmax(1), 0)


def _counts(votes: np.ndarray, classes: int) -> np.ndarray:
    counts = np.zeros((len(votes), classes), np.int32)
    np.add.at(counts, (np.arange(len(votes))[:, None], votes), 1)
    return counts


def linear(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray) -> float:
    """Test accuracy of a multinomial logistic regression on standardised features, scikit-learn's
    `LogisticRegression()` objective (L2, C = 1, intercepts unpenalised), fitted by scipy's L-BFGS
    in whitened coordinates until the gradient is below `LINEAR_GTOL`.

    Whitening by the eigenvectors of the features' covariance gives the loss about equal curvature
    in every direction, so L-BFGS needs about 40 steps on 512 random ReLU features of MNIST where it
    needs over 100 on the features as they are. The coordinates only reparametrise the weights
    (w = T u, the penalty written as |T u|^2), so the optimum is scikit-learn's. Each step is two
    skinny float32 products over the rows, kept features-by-rows so that both read memory in order."""
    from scipy import optimize

    classes, y = np.unique(y_train, return_inverse=True)
    n, k = len(train), len(classes)
    mean = train.mean(0, dtype=np.float64)
    scale = train.std(0, dtype=np.float64)
    scale[scale == 0] = 1.0
    covariance = (train.T @ train / n - np.outer(mean, mean)) / np.outer(scale, scale)
    variance, vectors = np.linalg.eigh(covariance)
    variance = np.maximum(variance, 0.0) + _WHITENING_FLOOR
    to_weights = vectors / np.sqrt(variance) / scale[:, None]  # w = to_weights @ u on raw features
    shift = (mean @ to_weights).astype(np.float32)
    z = to_weights.T.astype(np.float32) @ train.T - shift[:, None]  # whitened, centred features by rows
    penalty = (1.0 / variance)[None, :]  # |w on standardised features|^2 = sum(u^2 / variance)
    rows = np.arange(n)

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        u, b = theta[:-k].reshape(k, -1), theta[-k:]
        logits = u.astype(np.float32) @ z + b.astype(np.float32)[:, None]
        logits -= logits.max(0)
        p = np.exp(logits)
        total = p.sum(0)
        loss = np.log(total).sum(dtype=np.float64) - logits[y, rows].sum(dtype=np.float64)
        p /= total
        p[y, rows] -= 1.0
        grad_u = (z @ p.T).T + penalty * u
        return ((loss + 0.5 * (penalty * u * u).sum()) / n,
                np.concatenate([grad_u.ravel(), p.sum(1, dtype=np.float64)]) / n)

    fit = optimize.minimize(loss_and_gradient, np.zeros(k * (len(variance) + 1)), jac=True, method="L-BFGS-B",
                            options={"maxiter": 1000, "maxls": 50, "gtol": LINEAR_GTOL})
    u, b = fit.x[:-k].reshape(k, -1), fit.x[-k:]
    scores = (test @ to_weights - shift) @ u.T + b
    return float((classes[scores.argmax(1)] == y_test).mean())
