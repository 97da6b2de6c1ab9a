"""One sample per call: ``MLP.predict``, ``train_step`` and ``learn_one``
against ``fit``'s cost per sample (the targets of issue 12, parts 1 and 2).

Groups (one thread):

- "step 10-32-1 float64": per-call cost of ``predict(x)``,
  ``train_step(x, t, lr)`` and ``learn_one(x, t, lr)`` in a tight loop over
  a stream's rows, and ``fit(batch_size=1)``'s cost per sample on the same
  rows. Target: each call at most ~1 us beyond the arithmetic (which fit's
  per-sample cost stands for).
- "step 784-128-10 float32" and "... float64": ``train_step`` against fit's
  cost per sample. Target: within 1.5x.

The network: sigmoid hidden and output units, binary cross-entropy on the
small one (the stream of issue 12), squared error on 784-128-10; plain SGD,
the same initial weights and rows for every case. The rows are views made
before timing, so the loop's own cost is a Python ``for`` over a list.

    pytest benchmarks/bench_step.py --benchmark-only   # timings (medians)
    pytest benchmarks/bench_step.py                    # each once, untimed
    python benchmarks/bench_step.py [--repeats 7]      # one table, interleaved medians

It runs against any fastbp with ``train_step`` (cases without ``learn_one``
are left out), so that the same file measures before and after.
"""
import argparse
import functools
import os
import statistics
import time

import numpy as np
import pytest

import fastbp

# name: (layer_sizes, dtype, loss, lr, rows timed, rows untimed)
SHAPES = {
    "10-32-1 float64": ((10, 32, 1), "float64", "binary_cross_entropy", 0.05, 20000, 200),
    "784-128-10 float32": ((784, 128, 10), "float32", "squared_error", 0.01, 2000, 20),
    "784-128-10 float64": ((784, 128, 10), "float64", "squared_error", 0.01, 2000, 20),
}
ROUNDS = 7


@functools.lru_cache(maxsize=None)
def problem(name, n_rows):
    """Rows of inputs in [0, 1) and 0/1 targets, as lists of row views, and
    the starting network."""
    sizes, dtype, loss, _, _, _ = SHAPES[name]
    rng = np.random.default_rng(0)
    X = rng.random((n_rows, sizes[0])).astype(dtype)
    Y = (rng.random((n_rows, sizes[-1])) < 0.5).astype(dtype)
    net = fastbp.MLP(sizes, activation="sigmoid", loss=loss, dtype=dtype, seed=0)
    return X, Y, list(X), list(Y), net


def predict_loop(net, xs, ys, lr):
    for x in xs:
        net.predict(x)


def train_step_loop(net, xs, ys, lr):
    for x, t in zip(xs, ys):
        net.train_step(x, t, lr)


def learn_one_loop(net, xs, ys, lr):
    for x, t in zip(xs, ys):
        net.learn_one(x, t, lr)


CALLS = {"predict": predict_loop, "train_step": train_step_loop, "learn_one": learn_one_loop}


def calls(name):
    """The per-call methods measured on a shape."""
    return ["predict", "train_step", "learn_one"] if name.startswith("10-") else ["train_step"]


def cases(name, n_rows):
    """name of the case: (setup giving a fresh net, run(net) over n_rows rows)."""
    X, Y, xs, ys, start = problem(name, n_rows)
    lr = SHAPES[name][3]
    found = {f"{call}, one call per row": (start.copy, functools.partial(
        CALLS[call], xs=xs, ys=ys, lr=lr)) for call in calls(name)
        if hasattr(fastbp.MLP, call)}
    found["fit(batch_size=1), per row"] = (start.copy, lambda net: net.fit(
        X, Y, lr=lr, batch_size=1, shuffle=False))
    return found


# -- pytest-benchmark ------------------------------------------------------------------

def _params():
    for name in SHAPES:
        for case in [f"{call}, one call per row" for call in calls(name)] + [
                "fit(batch_size=1), per row"]:
            yield pytest.param(name, case, id=f"{name}-{case.split(',')[0]}",
                               marks=pytest.mark.benchmark(group=f"step {name}"))


@pytest.mark.parametrize("name, case", list(_params()))
def test_step(benchmark, name, case):
    n = SHAPES[name][5 if benchmark.disabled else 4]
    found = cases(name, n)
    if case not in found:
        pytest.skip(f"this fastbp has no {case.split(',')[0]} (it runs on main too)")
    setup, run = found[case]
    net = benchmark.pedantic(lambda m: (run(m), m)[1], setup=lambda: ((setup(),), {}),
                             rounds=ROUNDS, warmup_rounds=1)
    benchmark.extra_info.update({"rows": n, "kernel_path": fastbp.kernel_path(),
                                 "loadavg_1min": os.getloadavg()[0]})
    if benchmark.stats is not None:
        benchmark.extra_info["us_per_row"] = benchmark.stats.stats.median / n * 1e6
    # Training moved the network, or predict left it as it was.
    start = problem(name, n)[4]
    assert (net.params == start.params).all() == case.startswith("predict")


# -- script mode -----------------------------------------------------------------------

def interleaved(found, repeats):
    """Median seconds of each case over repeats, the cases taking turns (in
    reverse order every other repeat) so that drifting load hits all alike;
    the first round is a warm-up. CPU time of the calling thread (all the
    work runs there): on a shared machine, time other processes (and idle
    BLAS threads spinning) hold the CPU does not count."""
    times = {name: [] for name in found}
    for r in range(repeats + 1):
        for name, (setup, run) in list(found.items())[::1 if r % 2 else -1]:
            net = setup()
            start = time.thread_time()
            run(net)
            if r:
                times[name].append(time.thread_time() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"fastbp {fastbp.__file__}, kernel path {fastbp.kernel_path()}, "
          f"load {os.getloadavg()[0]:.2f}")
    for name, spec in SHAPES.items():
        n = spec[4]
        medians = interleaved(cases(name, n), args.repeats)
        fit = medians["fit(batch_size=1), per row"] / n * 1e6
        print(f"\n{name} ({n} rows, medians of {args.repeats})")
        print(f"{'case':<34}{'us per row':>12}{'vs fit':>10}")
        for case, seconds in medians.items():
            us = seconds / n * 1e6
            print(f"{case:<34}{us:>12.3f}{us / fit:>9.2f}x")


if __name__ == "__main__":
    main()
