"""Accuracy parity with scikit-learn at its defaults: fastbp's MLPClassifier
against scikit-learn's on iris, wine, breast cancer and digits, for the adam
and lbfgs solvers, everything else at scikit-learn's defaults (hidden layer of
100 relu units, alpha 1e-4, max_iter 200; fastbp's init="sklearn", its
default, draws the initial weights as scikit-learn does).

Each cell is the mean (and standard deviation) of 5-fold cross-validated
accuracy over 5 seeds (the seed sets both the folds and ``random_state``),
with StandardScaler in a Pipeline; "fit s" is the total time of the 25 fits
of each, BLAS on one thread for both.

    python benchmarks/bench_parity.py [--seeds 5] [--datasets iris wine]
                                      [--solvers adam lbfgs]

A script that prints a table, not a timed test (accuracy varies by seed).
"""
import argparse
import os
import time
import warnings

if __name__ == "__main__":
    # One BLAS thread for scikit-learn, set before numpy is imported.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"

import numpy as np  # noqa: E402

DATASETS = ("iris", "wine", "breast_cancer", "digits")
SOLVERS = ("adam", "lbfgs")


def cross_validated(make_classifier, X, y, seed):
    """(accuracy per fold, total fit seconds) of 5-fold CV with the folds and
    random_state drawn from seed."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    scores, seconds = [], 0.0
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y):
        model = make_pipeline(StandardScaler(), make_classifier(random_state=seed))
        start = time.perf_counter()
        model.fit(X[train], y[train])
        seconds += time.perf_counter() - start
        scores.append(model.score(X[test], y[test]))
    return scores, seconds


def compare(dataset, solver, seeds):
    """One row of the table: (mean, std, fit s) for fastbp and scikit-learn."""
    import sklearn.datasets
    import sklearn.neural_network

    import fastbp.estimators
    X, y = getattr(sklearn.datasets, f"load_{dataset}")(return_X_y=True)
    row = {}
    for name, cls in (("fastbp", fastbp.estimators.MLPClassifier),
                      ("sklearn", sklearn.neural_network.MLPClassifier)):
        scores, seconds = [], 0.0
        for seed in range(seeds):
            fold_scores, fold_seconds = cross_validated(
                lambda random_state: cls(solver=solver, random_state=random_state), X, y, seed)
            scores += fold_scores
            seconds += fold_seconds
        row[name] = (float(np.mean(scores)), float(np.std(scores)), seconds)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--solvers", nargs="+", choices=SOLVERS, default=SOLVERS)
    args = parser.parse_args(argv)
    from sklearn.exceptions import ConvergenceWarning

    import fastbp
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"fastbp {fastbp.__version__}, kernels {fastbp._core.current_path()}; "
          f"{args.seeds} seeds x 5 folds")
    print(f"{'data set':<14} {'solver':<6} {'fastbp acc':>16} {'sklearn acc':>16} "
          f"{'fastbp fit s':>12} {'sklearn fit s':>13} {'speed-up':>8}")
    for dataset in args.datasets:
        for solver in args.solvers:
            row = compare(dataset, solver, args.seeds)
            (fm, fs, ft), (sm, ss, st) = row["fastbp"], row["sklearn"]
            print(f"{dataset:<14} {solver:<6} {fm:>9.3f} ± {fs:.3f} {sm:>9.3f} ± {ss:.3f} "
                  f"{ft:>12.2f} {st:>13.2f} {st / ft:>7.1f}x", flush=True)


if __name__ == "__main__":
    main()
