"""What progress reporting costs: ``fit`` with ``progress`` and ``verbose``
off (the default), and with each on (written to a null device), where the
per-epoch overhead shows most: many epochs of a few samples of a 2-2-2
network. With both off, ``fit`` makes one ``is None`` test per epoch.

    pytest benchmarks/bench_reporting.py --benchmark-only   # one group, 3 rows
    python benchmarks/bench_reporting.py                    # µs per epoch, medians
"""
import contextlib
import os
import statistics
import time

import numpy as np
import pytest

import fastbp

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
    """Prints µs per epoch for each setting, interleaved repeats, medians."""
    net, X, Y = problem()
    times = {name: [] for name in SETTINGS}
    for _ in range(repeats):
        for name, options in SETTINGS.items():
            start = time.perf_counter()
            train(net.copy(), X, Y, options)
            times[name].append((time.perf_counter() - start) / EPOCHS * 1e6)
    off = statistics.median(times["off"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:9s} {median:8.2f} µs/epoch   (+{median - off:.2f} over off)")


if __name__ == "__main__":
    main()
