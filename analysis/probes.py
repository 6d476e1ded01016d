"""How separable a layer's classes are: KNN on the layer (or on an embedding of it) and a linear
probe. Each takes train rows (to fit) and test rows (to score) and returns accuracies."""

from __future__ import annotations

import numpy as np

from analysis import neighbours


def knn(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
        ks: tuple[int, ...]) -> dict[int, float]:
    """Test accuracy of k-nearest-neighbour classifiers fitted on `train`, for each k: the same
    predictions as scikit-learn's `KNeighborsClassifier(k)`, from one exact search at the largest k."""
    votes = y_train[neighbours.search(train, test, max(ks))]
    classes = int(max(y_train.max(), y_test.max())) + 1
    return {k: float((plurality(votes[:, :k], classes) == y_test).mean()) for k in ks}


def plurality(votes: np.ndarray, classes: int) -> np.ndarray:
    """The class most neighbours have, per row; the lowest such class on a tie, as scikit-learn."""
    counts = np.zeros((len(votes), classes), np.int32)
    np.add.at(counts, (np.arange(len(votes))[:, None], votes), 1)
    return counts.argmax(1)


def linear(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, seed: int = 0) -> float:
    """Test accuracy of a multinomial logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, random_state=seed))
    return float(model.fit(train, y_train).score(test, y_test))
