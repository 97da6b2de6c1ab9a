"""Where the time of a ``solver="lbfgs"`` fit goes: fastbp's MLPClassifier
against scikit-learn's on iris, wine and breast cancer (standardised), at
scikit-learn's defaults (100 relu units, alpha 1e-4, max_iter 200, tol 1e-4),
both from scikit-learn's initial weights for the same random_state, so that
both run the same iterations (issue 15: "trains at least 3x faster").

For each data set and seed, the median over repeats (fastbp and scikit-learn
interleaved) of each fit's per-thread CPU time, on one BLAS thread; then,
from fits run once more with ``scipy.optimize.minimize`` wrapped to time
itself and each loss-and-gradient evaluation, the split per evaluation:
the library's objective, and SciPy's (its ScalarFunction wrapper and the
L-BFGS-B code), and the time of a fit outside the minimisation (checks,
targets, initialisation). Last, a bound: the time of the objective's five
matrix products alone in NumPy's BLAS (forward, the back-propagated delta
and the two weight gradients; the fastest of many calls), and the ratio
"cap" that a fit would reach if its objective were those products alone and
nothing ran outside the minimisation: scikit-learn's fit time over the
evaluations times (fastbp's SciPy share + the products).

    python benchmarks/bench_lbfgs.py [--repeats 7] [--seeds 3] [--datasets iris wine]

It uses only the estimators' public API (and scikit-learn's draw of the
initial weights, passed as ``init``), so it measures any fastbp with
``solver="lbfgs"``: before and after a change.
"""
import argparse
import os
import statistics
import time
import timeit
import warnings

if __name__ == "__main__":
    # One BLAS thread for both, set before numpy is imported.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"

from fastbp.bench.peers import sklearn_draws  # noqa: E402

DATASETS = ("iris", "wine", "breast_cancer")


def make(library, seed):
    """An unfitted lbfgs classifier at scikit-learn's defaults."""
    if library == "fastbp":
        import fastbp.estimators
        return fastbp.estimators.MLPClassifier(solver="lbfgs", init=sklearn_draws(seed))
    import sklearn.neural_network
    return sklearn.neural_network.MLPClassifier(solver="lbfgs", random_state=seed)


def load(dataset):
    import sklearn.datasets
    from sklearn.preprocessing import StandardScaler
    X, y = getattr(sklearn.datasets, f"load_{dataset}")(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def fit_seconds(library, seed, X, y):
    """(per-thread CPU seconds of one fit, n_iter_)."""
    est = make(library, seed)
    start = time.thread_time()
    est.fit(X, y)
    return time.thread_time() - start, est.n_iter_


class TimedMinimize:
    """scipy.optimize.minimize, timing itself and each call of the objective
    it is given (for as long as it is installed)."""

    def __init__(self):
        import scipy.optimize
        self.module, self.original = scipy.optimize, scipy.optimize.minimize
        self.minimize_s = self.objective_s = 0.0
        self.n_evaluations = 0

    def __call__(self, fun, x0, *args, **kwargs):
        def timed(*a):
            start = time.thread_time()
            try:
                return fun(*a)
            finally:
                self.objective_s += time.thread_time() - start
                self.n_evaluations += 1
        start = time.thread_time()
        try:
            return self.original(timed, x0, *args, **kwargs)
        finally:
            self.minimize_s += time.thread_time() - start

    def __enter__(self):
        self.module.minimize = self
        return self

    def __exit__(self, *exc):
        self.module.minimize = self.original


def split(library, seed, X, y, repeats):
    """Medians over repeats of (objective us per evaluation, SciPy us per
    evaluation, ms outside the minimisation, evaluations)."""
    rows = []
    for _ in range(repeats):
        with TimedMinimize() as timer:
            seconds, _ = fit_seconds(library, seed, X, y)
        n = timer.n_evaluations
        rows.append((1e6 * timer.objective_s / n, 1e6 * (timer.minimize_s - timer.objective_s) / n,
                     1e3 * (seconds - timer.minimize_s), n))
    return tuple(statistics.median(column) for column in zip(*rows))


def products_us(X, n_outputs, hidden=100):
    """Microseconds of the objective's matrix products in NumPy's BLAS, the
    fastest of 200 evaluations (per-thread CPU time): the hidden and output layers' forward
    products, the delta into the hidden layer, the two weight gradients."""
    import numpy as np
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(X.shape[1], hidden)), rng.normal(size=(hidden, n_outputs))
    H, D2 = rng.normal(size=(len(X), hidden)), rng.normal(size=(len(X), n_outputs))

    def products():
        X @ W1, H @ W2, D2 @ W2.T, H.T @ D2, X.T @ H
    return 1e6 * min(timeit.repeat(products, timer=time.thread_time, number=1, repeat=200))


def compare(dataset, seeds, repeats):
    """One row per seed: fit times, iterations and the split, both libraries."""
    X, y = load(dataset)
    for library in ("fastbp", "sklearn"):       # warm up: imports, first calls
        fit_seconds(library, 0, X, y)
    for seed in range(seeds):
        times = {"fastbp": [], "sklearn": []}
        for _ in range(repeats):
            for library in times:
                seconds, n_iter = fit_seconds(library, seed, X, y)
                times[library].append((seconds, n_iter))
        yield seed, {library: (statistics.median(s for s, _ in runs), runs[0][1],
                               split(library, seed, X, y, repeats))
                     for library, runs in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS)
    args = parser.parse_args(argv)
    from sklearn.exceptions import ConvergenceWarning

    import fastbp
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"fastbp {fastbp.__version__} ({os.path.dirname(fastbp.__file__)}), kernels "
          f"{fastbp._core.current_path()}; medians of {args.repeats}, per-thread CPU time")
    print(f"{'data set':<14}{'seed':>5}{'iter f/s':>10}{'evals':>7}{'fit ms f/s':>16}"
          f"{'faster':>8}{'objective us f/s':>19}{'SciPy us f/s':>15}{'outside ms f/s':>16}"
          f"{'products us':>13}{'cap':>7}")
    ratios, caps = {}, {}
    for dataset in args.datasets:
        X, y = load(dataset)
        floor = products_us(X, 1 if len(set(y)) == 2 else len(set(y)))
        for seed, row in compare(dataset, args.seeds, args.repeats):
            (ft, fi, (fo, fs, fx, fn)), (st, si, (so, ss, sx, _)) = row["fastbp"], row["sklearn"]
            cap = st / (fn * (fs + floor) * 1e-6)
            ratios.setdefault(dataset, []).append(st / ft)
            caps.setdefault(dataset, []).append(cap)
            print(f"{dataset:<14}{seed:>5}{fi:>5}/{si:<4}{fn:>7.0f}"
                  f"{1e3 * ft:>8.2f}/{1e3 * st:<7.2f}{st / ft:>7.2f}x{fo:>9.0f}/{so:<9.0f}{fs:>7.0f}/{ss:<7.0f}"
                  f"{fx:>8.2f}/{sx:<7.2f}{floor:>9.0f}{cap:>9.2f}x", flush=True)
    for dataset, values in ratios.items():
        print(f"{dataset}: fastbp faster by {statistics.median(values):.2f}x, cap "
              f"{statistics.median(caps[dataset]):.2f}x (medians over seeds)")


if __name__ == "__main__":
    main()
