"""What progress reporting costs: ``fit`` with ``progress`` and ``verbose``
off (the default), and with each on (written to a null device), where the
per-epoch overhead shows most: many epochs of a few samples of a 2-2-2
network. With both off, ``fit`` makes one ``is None`` test per epoch.

    pytest benchmarks/bench_reporting.py --benchmark-only   # one group, 3 rows
    python benchmarks/bench_reporting.py                    # µs per epoch, medians
"""
import contextlib
import os

import numpy as np
import pytest

import fastbp
from fastbp.bench import timing

EPOCHS = 2000
SETTINGS = {"off": {}, "verbose": {"verbose": True}, "progress": {"progress": True}}


def problem():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    return fastbp.MLP([2, 2, 2], seed=0), X, np.eye(2)[[0, 1, 1, 0]]


def train(net, X, Y, options):
    """fit with all output sent to the null device (stdout and stderr)."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), \
            contextlib.redirect_stderr(null):
        return net.fit(X, Y, epochs=EPOCHS, lr=0.5, seed=0, **options)


@pytest.mark.benchmark(group="fit reporting 2-2-2, 2000 epochs of 4 samples")
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_reporting(benchmark, setting):
    net, X, Y = problem()
    history = benchmark.pedantic(train, args=(net, X, Y, SETTINGS[setting]),
                                 setup=lambda: None, rounds=5)
    assert history.n_epochs == EPOCHS and history.loss[-1] < history.loss[0]


def main(repeats=7):
    """Prints µs per epoch for each setting, interleaved repeats, medians
    (``fastbp.bench.timing``)."""
    net, X, Y = problem()
    costs, _ = timing.interleaved(
        {name: timing.setup_and_run(net.copy, lambda copy, options=options:
                                    train(copy, X, Y, options))
         for name, options in SETTINGS.items()}, repeats)
    per_epoch = {name: 1e6 * seconds / EPOCHS for name, seconds in timing.medians(costs).items()}
    for name, median in per_epoch.items():
        print(f"{name:9s} {median:8.2f} µs/epoch   (+{median - per_epoch['off']:.2f} over off)")


if __name__ == "__main__":
    main()
