"""Breast-cancer diagnosis with fastbp's classifier in a scikit-learn Pipeline.

    python examples/breast_cancer.py

scikit-learn's bundled ``load_breast_cancer`` (569 samples, 30 features,
malignant or benign), split 75/25 stratified with a fixed seed;
``StandardScaler`` then an ``MLPClassifier`` with one hidden layer of 32 ReLU
units, Adam in batches of 16 for 50 epochs. Prints the test accuracy and the
training time.
"""
import time
import warnings

from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp.estimators import MLPClassifier

PARAMS = dict(hidden_layer_sizes=(32,), activation="relu", solver="adam",
              learning_rate_init=0.001, batch_size=16, max_iter=50, tol=0.0,
              n_iter_no_change=50, random_state=0)


def load_data():
    """(X_train, X_test, y_train, y_test), raw features (the pipeline scales them)."""
    X, y = load_breast_cancer(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def build(classifier=MLPClassifier, **changes):
    """The model: a scaler and ``classifier`` (fastbp's, or scikit-learn's to
    compare) with PARAMS, updated by ``changes``."""
    return make_pipeline(StandardScaler(), classifier(**{**PARAMS, **changes}))


def main():
    """Train, print accuracy and time; returns (pipeline, test accuracy)."""
    X_train, X_test, y_train, y_test = load_data()
    model = build()
    start = time.perf_counter()
    with warnings.catch_warnings():
        # It runs the max_iter epochs asked for: no need to warn about it.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = model.score(X_test, y_test)
    print(f"breast cancer: test accuracy {accuracy:.4f} ({len(y_test)} samples), "
          f"{model[-1].n_iter_} epochs in {seconds:.3f} s")
    return model, accuracy


if __name__ == "__main__":
    main()
