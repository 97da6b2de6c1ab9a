"""Training on sparse input: fastbp on the CSR matrix, fastbp on the same data
made dense, and scikit-learn's MLPClassifier on the CSR matrix.

The data: 2,000 samples of 100,000 features at 0.1% density (about 100
stored entries a row, as bag-of-words or one-hot data), labels from a
linear rule; a 100000-32-1 network (relu, one sigmoid output). Two
settings, each its own group of interleaved runs (``fastbp.bench.timing``):
scikit-learn's defaults (Adam, batch 200, alpha 1e-4), where every update
steps all 3.2 million parameters (fastbp keeps the optimizers' dense state,
see ``MLP.fit``); and plain per-sample SGD (batch 1, alpha 0), where fastbp
updates only the first-layer weights of the sample's stored columns. In the
second, scikit-learn takes about 200 s an epoch (Xeon, measured once), so it
runs only with --sklearn-sgd. BLAS runs on one thread.

    python benchmarks/bench_sparse.py [--repeats 3] [--epochs 5] [--no-sgd]
                                      [--sklearn-sgd]
    python benchmarks/bench_sparse.py --to-convergence [--repeats 3]
    python -m pytest benchmarks/bench_sparse.py --benchmark-only

The script prints, per setting, each case's median seconds per epoch over
the repeats and its ratio to fastbp on the CSR matrix, of the whole fit and
(fastbp's, from its History) of the epochs after the first, whose extra
cost is one-time: the fit's fresh buffers faulted in (on this network some
170 MB; on the shared machine, a Firecracker VM that hands freed memory back
to its host, 0.1-0.5 s, depending on how long ago the memory was last used).
It also checks that fastbp's sparse and dense fits agree to rounding.
--to-convergence fits instead as a user's ``MLPClassifier().fit(X, y)``
does: scikit-learn's defaults in full (max_iter 200, tol 1e-4: fastbp's
sparse and dense fits stop at the same epoch), Adam only; the dense fits
take a few minutes each.
"""
import argparse
import os
import platform
import statistics
import sys
import warnings

if __name__ == "__main__":
    # One BLAS thread for scikit-learn, set before numpy is imported; under
    # pytest, threadpoolctl limits it in train() instead.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402

pytest.importorskip("sklearn", reason="fastbp's estimators and their peer need scikit-learn")

import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import fastbp  # noqa: E402
from fastbp.bench import timing  # noqa: E402
from fastbp.bench.compare import cpu_model  # noqa: E402
from fastbp.estimators import MLPClassifier  # noqa: E402

N_SAMPLES, N_FEATURES, DENSITY, HIDDEN = 2000, 100_000, 0.001, 32
# setting: the estimators' parameters besides hidden_layer_sizes and max_iter
SETTINGS = {
    "adam, batch 200 (scikit-learn's defaults)": dict(solver="adam"),
    "plain sgd, batch 1, alpha 0": dict(solver="sgd", batch_size=1, learning_rate_init=0.1,
                                        momentum=0, alpha=0),
}
# case: (classifier, whether it trains on the dense copy)
CASES = {"fastbp CSR": (MLPClassifier, False), "fastbp dense": (MLPClassifier, True),
         "sklearn CSR": (SklearnMLPClassifier, False)}


def make_data(seed=0):
    """(X as CSR float64, y): each row DENSITY * N_FEATURES distinct columns
    with values uniform in [0, 1) (as scipy.sparse.random, which takes 40 s
    here), labels the sign of a random linear rule."""
    rng = np.random.default_rng(seed)
    per_row = int(DENSITY * N_FEATURES)
    indices = np.concatenate([np.sort(rng.choice(N_FEATURES, per_row, replace=False))
                              for _ in range(N_SAMPLES)])
    X = sp.csr_matrix((rng.uniform(size=indices.size), indices,
                       np.arange(0, indices.size + 1, per_row)), shape=(N_SAMPLES, N_FEATURES))
    y = (X @ rng.normal(size=N_FEATURES) > 0).astype(int)
    return X, y


def train(make, params, epochs, X, y):
    """A fitted classifier on one BLAS thread: ``epochs`` epochs (tol 0 never
    stops early; the ConvergenceWarning of the fixed epochs is expected), or
    for epochs None to convergence at scikit-learn's max_iter and tol."""
    fixed = {} if epochs is None else dict(max_iter=epochs, tol=0)
    model = make(hidden_layer_sizes=(HIDDEN,), random_state=0, **fixed, **params)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def later_epochs(model):
    """fastbp's median seconds an epoch after a fit's first (History's
    epoch times): training alone, without the first epoch's one-time costs
    (the fit's fresh buffers faulted in, hundreds of MB on this network)."""
    ends = model.net_.history.epoch_time
    return statistics.median(b - a for a, b in zip(ends, ends[1:]))


def compare(params, epochs, repeats, X, X_dense, y, names):
    """Seconds per epoch of the cases ``names`` (``repeats`` interleaved
    runs after one dropped: a process's first fit took 0.8 s an epoch
    where the next took 0.15, loading libraries and faulting in pages): of
    the whole fit, and (fastbp, None for scikit-learn) of the epochs after
    the first; and the last fitted models. epochs None: fits to convergence,
    each fit's seconds divided by its own epochs."""
    cases = {name: (lambda make=make, dense=dense: timing.time_call(
        train, make, params, epochs, X_dense if dense else X, y))
        for name, (make, dense) in CASES.items() if name in names}
    seconds, models = timing.interleaved(cases, repeats, warmup=1)
    per_epoch = {name: statistics.median(t / model.n_iter_ for t, model in zip(times, models[name]))
                 for name, times in seconds.items()}
    later = {name: statistics.median(map(later_epochs, runs)) if hasattr(runs[0], "net_")
             else None for name, runs in models.items()}
    return per_epoch, later, {name: runs[-1] for name, runs in models.items()}


def report(setting, params, epochs, repeats, X, X_dense, y, names):
    per_epoch, later, models = compare(params, epochs, repeats, X, X_dense, y, names)
    base, later_base = per_epoch["fastbp CSR"], later["fastbp CSR"]
    fits = ("fitted to convergence (" + ", ".join(
        f"{name} {model.n_iter_}" for name, model in models.items()) + " epochs)"
        if epochs is None else f"{epochs} epochs")
    print(f"\n{setting}: {fits}, median of {repeats} interleaved runs after a "
          "warm-up run; s / epoch of the whole fit, and of the epochs after the first")
    print(f"  {'case':14s} {'whole fit':>10s} {'vs fastbp CSR':>14s} {'after first':>12s} "
          f"{'vs fastbp CSR':>14s} {'train acc':>10s}")
    for name, seconds in per_epoch.items():
        accuracy = models[name].score(X, y)
        steady = ("" if later[name] is None else
                  f"{later[name]:12.4f} {later[name] / later_base:13.1f}x")
        print(f"  {name:14s} {seconds:10.4f} {seconds / base:13.1f}x {steady:>27s} "
              f"{accuracy:10.4f}")
    gap = np.abs(models["fastbp CSR"].predict_proba(X)
                 - models["fastbp dense"].predict_proba(X_dense)).max()
    print(f"  fastbp CSR against dense: max |predict_proba difference| {gap:.2e}")
    return per_epoch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--no-sgd", action="store_true",
                        help="only scikit-learn's defaults (per-sample SGD takes fastbp "
                             "dense about 25 s an epoch)")
    parser.add_argument("--sklearn-sgd", action="store_true",
                        help="run scikit-learn in the per-sample SGD setting too")
    parser.add_argument("--to-convergence", action="store_true",
                        help="scikit-learn's defaults in full (max_iter 200, tol 1e-4), "
                             "Adam only; ignores --epochs")
    args = parser.parse_args(argv)
    X, y = make_data()
    X_dense = X.toarray()
    print(f"fastbp {fastbp.__version__} (kernel path {fastbp.kernel_path()}), scikit-learn "
          f"{sklearn.__version__}, python {platform.python_version()}, one BLAS thread; "
          f"CPU {cpu_model()}")
    print("command: python benchmarks/bench_sparse.py " + " ".join(sys.argv[1:]))
    print(f"data: {N_SAMPLES} x {N_FEATURES} CSR float64, {X.nnz} stored entries "
          f"({X.nnz / N_SAMPLES:.0f} a row); dense copy {X_dense.nbytes / 1e9:.1f} GB; "
          f"network {N_FEATURES}-{HIDDEN}-1, relu")
    epochs = None if args.to_convergence else args.epochs
    for setting, params in SETTINGS.items():
        sgd = params["solver"] == "sgd"
        if (args.no_sgd or args.to_convergence) and sgd:
            continue
        names = [name for name in CASES
                 if not (sgd and name.startswith("sklearn") and not args.sklearn_sgd)]
        report(setting, params, epochs, args.repeats, X, X_dense, y, names)
    return 0


@pytest.mark.parametrize("case", list(CASES))
def test_fit_sparse_data(benchmark, case):
    """scikit-learn's defaults, one epoch per round."""
    X, y = make_data()
    make, dense = CASES[case]
    data = X.toarray() if dense else X
    benchmark.extra_info.update({"case": case, "kernel_path": fastbp.kernel_path()})
    model = benchmark.pedantic(train, args=(make, {"solver": "adam"}, 1, data, y), rounds=3)
    assert model.n_iter_ == 1


if __name__ == "__main__":
    sys.exit(main())
