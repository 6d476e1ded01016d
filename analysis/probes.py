"""How separable a layer's classes are: KNN on the layer (or on an embedding of it) and a linear
probe. Each takes train rows (to fit) and test rows (to score) and returns accuracies."""

from __future__ import annotations

import numpy as np

PLURALITY, MAJORITY = "plurality", "majority"
LINEAR_STEPS = 100  # the linear probe's L-BFGS steps at most: scikit-learn's default
VOTES = (PLURALITY, MAJORITY)


def knn(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
        ks: tuple[int, ...], vote: str = PLURALITY) -> dict[int, float]:
    """Test accuracy of k-nearest-neighbour classifiers fitted on `train`, for each k, from one exact
    search at the largest k: the same predictions as scikit-learn's `KNeighborsClassifier(k)` fitted
    on integer labels (`plurality`) or on one-hot labels and read by argmax (`majority`)."""
    from analysis import neighbours  # numba: imported where a search runs, not where a plan is read

    votes = y_train[neighbours.search(train, test, max(ks))]
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


def linear(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, seed: int = 0,
           steps: int = LINEAR_STEPS) -> float:
    """Test accuracy of a multinomial logistic regression on standardised features, by default as
    scikit-learn fits it: a layer that has not converged in `LINEAR_STEPS` steps is within a few
    hundredths of a point of its converged score, at a third of the time or less."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=steps, random_state=seed))
    return float(model.fit(train, y_train).score(test, y_test))
