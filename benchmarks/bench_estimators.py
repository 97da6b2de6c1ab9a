"""fastbp's MLPClassifier against scikit-learn's, on the examples' data sets.

Both train the model of ``examples/digits.py`` and
``examples/breast_cancer.py`` (their ``build``): the same architecture,
optimizer, batch size, learning rate and number of epochs (tol=0 never stops
early); only the classifier differs, and with it the initial weights. BLAS runs
on one thread, as fastbp does.

    python -m pytest benchmarks/bench_estimators.py --benchmark-only
    python benchmarks/bench_estimators.py [--repeats 5] [--datasets digits]
                                          [--set batch_size=32 --set solver='adam' ...]

The script trains both, interleaved, once per repeat with ``random_state``
0, 1, ..., and prints per data set the median training time of each, their
ratio and the mean test accuracy over the repeats (so that the accuracies
compare over several initialisations, not one).
"""
import argparse
import ast
import functools
import itertools
import os
import platform
import runpy
import statistics
import sys
import warnings
from pathlib import Path

if __name__ == "__main__":
    # One BLAS thread for scikit-learn, set before numpy is imported; under
    # pytest, threadpoolctl limits it in train() instead.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"

import pytest  # noqa: E402

pytest.importorskip("sklearn", reason="fastbp's estimators and their peer need scikit-learn")

import sklearn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import fastbp  # noqa: E402
from fastbp.bench import timing  # noqa: E402
from fastbp.estimators import MLPClassifier  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# data set: (example file, test accuracy fastbp must reach)
DATASETS = {"digits": ("digits.py", 0.97), "breast_cancer": ("breast_cancer.py", 0.95)}
IMPLEMENTATIONS = {"fastbp": MLPClassifier, "sklearn": SklearnMLPClassifier}
ROUNDS = 5

CASES = [pytest.param(dataset, implementation, id=f"{dataset}-{implementation}",
                      marks=pytest.mark.benchmark(group=f"estimators {dataset}"))
         for dataset in DATASETS for implementation in IMPLEMENTATIONS]

# median seconds of fastbp per data set, for scikit-learn's ratio
_FASTBP_SECONDS = {}


@functools.lru_cache(maxsize=None)
def problem(dataset):
    """(the example's namespace, (X_train, X_test, y_train, y_test)), loaded once."""
    example = runpy.run_path(str(EXAMPLES / DATASETS[dataset][0]))
    return example, tuple(example["load_data"]())


def train(model, X, y):
    """Fit on one BLAS thread; the ConvergenceWarning of the fixed epochs is expected."""
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def classifier(model):
    """The classifier of a model or of a pipeline's last step."""
    return model[-1] if hasattr(model, "steps") else model


@pytest.mark.parametrize("dataset, implementation", CASES)
def test_fit_estimator(benchmark, dataset, implementation):
    example, (X_train, X_test, y_train, y_test) = problem(dataset)
    model = example["build"](IMPLEMENTATIONS[implementation])
    fitted = benchmark.pedantic(train, setup=lambda: ((clone(model), X_train, y_train), {}),
                                rounds=ROUNDS)
    accuracy = fitted.score(X_test, y_test)
    params = example["PARAMS"]
    benchmark.extra_info.update({
        "implementation": implementation, "dataset": dataset, "test_accuracy": accuracy,
        "task": (f"hidden {params['hidden_layer_sizes']} {params['solver']} batch "
                 f"{params['batch_size']} {params['max_iter']} epochs"),
        "kernel_path": fastbp.kernel_path()})
    if benchmark.stats is not None:      # None under --benchmark-disable
        seconds = benchmark.stats.stats.median
        if implementation == "fastbp":
            _FASTBP_SECONDS[dataset] = seconds
        elif dataset in _FASTBP_SECONDS:
            benchmark.extra_info["fastbp_speedup"] = seconds / _FASTBP_SECONDS[dataset]

    # Both trained every epoch asked for; fastbp reached its accuracy.
    assert classifier(fitted).n_iter_ == params["max_iter"]
    if implementation == "fastbp":
        assert accuracy >= DATASETS[dataset][1]


def compare(dataset, repeats, changes):
    """Per implementation, the training seconds and test accuracies of
    ``repeats`` fits, random_state 0, 1, ..., the two taking turns
    (``fastbp.bench.timing``)."""
    example, (X_train, X_test, y_train, y_test) = problem(dataset)

    def fits(implementation):
        """Each call builds the model with the next random_state, untimed,
        and times its fit."""
        states = itertools.count()
        return timing.setup_and_run(
            lambda: example["build"](implementation, random_state=next(states), **changes),
            lambda model: train(model, X_train, y_train))

    seconds, fitted = timing.interleaved(
        {name: fits(implementation) for name, implementation in IMPLEMENTATIONS.items()},
        repeats)
    accuracy = {name: [model.score(X_test, y_test) for model in models]
                for name, models in fitted.items()}
    return seconds, accuracy


def report(dataset, repeats, changes):
    """Print one data set's comparison."""
    example, _ = problem(dataset)
    params = {**example["PARAMS"], **changes}
    seconds, accuracy = compare(dataset, repeats, changes)
    print(f"\n{dataset} ({DATASETS[dataset][0]}): hidden {params['hidden_layer_sizes']}, "
          f"{params['solver']}, batch {params['batch_size']}, lr {params['learning_rate_init']}, "
          f"{params['max_iter']} epochs; {repeats} repeats, random_state 0-{repeats - 1}")
    for name in IMPLEMENTATIONS:
        print(f"  {name:8s} median {statistics.median(seconds[name]):.3f} s   test accuracy "
              f"mean {statistics.mean(accuracy[name]):.4f} "
              f"(min {min(accuracy[name]):.4f}, max {max(accuracy[name]):.4f})")
    ratio = statistics.median(seconds["sklearn"]) / statistics.median(seconds["fastbp"])
    print(f"  fastbp trains {ratio:.1f}x faster")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="comma-separated, from: " + ", ".join(DATASETS))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a parameter of the examples' (a Python literal), "
                             "for both libraries")
    args = parser.parse_args(argv)
    changes = {key: ast.literal_eval(value)
               for key, value in (item.split("=", 1) for item in args.set)}
    print(f"fastbp {fastbp.__version__} (kernel path {fastbp.kernel_path()}), scikit-learn "
          f"{sklearn.__version__}, python {platform.python_version()}, one BLAS thread")
    print("command: python benchmarks/bench_estimators.py " + " ".join(sys.argv[1:]))
    for dataset in args.datasets.split(","):
        report(dataset, args.repeats, changes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
