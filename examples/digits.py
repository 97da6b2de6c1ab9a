"""Handwritten digits with fastbp's scikit-learn classifier.

    python examples/digits.py

scikit-learn's bundled ``load_digits`` (1,797 8x8 images, 10 classes), split
75/25 stratified with a fixed seed, inputs standardised on the training part;
one hidden layer of 64 ReLU units, Adam (scikit-learn's default solver) in
batches of 16 for 30 epochs. Prints the test accuracy and the training time.
``benchmarks/bench_estimators.py`` trains scikit-learn's ``MLPClassifier`` with
the same parameters against it.
"""
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from fastbp.estimators import MLPClassifier

# A fixed number of epochs (tol=0 with n_iter_no_change=max_iter never stops
# early), so that a comparison trains exactly as long with either library.
PARAMS = dict(hidden_layer_sizes=(64,), activation="relu", solver="adam",
              learning_rate_init=0.001, batch_size=16, max_iter=30, tol=0.0,
              n_iter_no_change=30, random_state=0)


def load_data():
    """(X_train, X_test, y_train, y_test), standardised with the training mean and scale."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def build(classifier=MLPClassifier, **changes):
    """The model: ``classifier`` (fastbp's, or scikit-learn's to compare) with
    PARAMS, updated by ``changes``."""
    return classifier(**{**PARAMS, **changes})


def main():
    """Train, print accuracy and time; returns (classifier, test accuracy)."""
    X_train, X_test, y_train, y_test = load_data()
    clf = build()
    start = time.perf_counter()
    with warnings.catch_warnings():
        # It runs the max_iter epochs asked for: no need to warn about it.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = clf.score(X_test, y_test)
    print(f"digits: test accuracy {accuracy:.4f} ({len(y_test)} images), "
          f"{clf.n_iter_} epochs in {seconds:.3f} s")
    return clf, accuracy


if __name__ == "__main__":
    main()
