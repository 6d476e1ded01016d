"""How separable a layer's classes are: KNN on its UMAP embedding, KNN on the layer itself, and a
linear probe. Each takes train rows (to fit) and test rows (to score) and returns accuracies."""

from __future__ import annotations

import numpy as np

KS = (3, 5, 10)


def knn(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
        ks: tuple[int, ...] = KS) -> dict[int, float]:
    """Test accuracy of k-nearest-neighbour classifiers fitted on `train`, for each k."""
    from sklearn.neighbors import KNeighborsClassifier

    # One neighbour search for the largest k serves every smaller k.
    model = KNeighborsClassifier(n_neighbors=max(ks)).fit(train, y_train)
    neighbours = model.kneighbors(test, return_distance=False)
    votes = y_train[neighbours]
    scores = {}
    for k in ks:
        counts = np.apply_along_axis(np.bincount, 1, votes[:, :k], minlength=int(y_train.max()) + 1)
        scores[k] = float((counts.argmax(1) == y_test).mean())
    return scores


def linear(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, seed: int = 0) -> float:
    """Test accuracy of a multinomial logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, random_state=seed))
    return float(model.fit(train, y_train).score(test, y_test))
