"""Two models trained in two threads against one model in one thread.

``fit`` releases the GIL inside every compiled block (mlp.BLOCK_WORK
multiply-adds, a few ms), so independent models trained in separate threads
run on separate cores. Both cases do the same total work, per-sample SGD on
64-128-10 float32 (sigmoid, squared error, lr 0.1, one epoch, no shuffling):

- one thread: one model, 2 * N_SAMPLES samples;
- two threads: two models, N_SAMPLES samples each, at once.

They share the group "threads", so pytest-benchmark prints them side by side;
``extra_info["samples_per_s"]`` is the throughput, and the two-thread case
records ``ratio_vs_one_thread`` (two-thread throughput / one-thread
throughput: 2 is perfect scaling on two free cores, 1 is none).

    pytest benchmarks/bench_threads.py --benchmark-only   # timings (medians)
    pytest benchmarks/bench_threads.py                    # each once, untimed, as a test
    python benchmarks/bench_threads.py [--repeats 5]      # median ratio of repeats

After timing, the results are checked: models trained in two threads end
exactly where the same models trained one after the other end.
"""
import argparse
import os
import statistics
import sys
import threading

import numpy as np
import pytest

import fastbp
from fastbp.bench import timing

SIZES = (64, 128, 10)
DTYPE = "float32"
N_SAMPLES = 10000          # per model in the two-thread case
ROUNDS = 10
FIT = dict(epochs=1, lr=0.1, batch_size=1, shuffle=False)

# one-thread samples/s, for the two-thread case's ratio
_ONE_THREAD_RATE = {}


def problem(n_samples=N_SAMPLES):
    """Data for 2 * n_samples samples (inputs uniform in [0, 1), targets from a
    fixed teacher network) and two initial models."""
    rng = np.random.default_rng(2024)
    X = rng.random((2 * n_samples, SIZES[0])).astype(DTYPE)
    Y = fastbp.MLP(SIZES, seed=1).predict(X.astype(np.float64)).astype(DTYPE)
    models = (fastbp.MLP(SIZES, dtype=DTYPE, seed=0), fastbp.MLP(SIZES, dtype=DTYPE, seed=2))
    return X, Y, models


def halves(A):
    n = A.shape[0] // 2
    return A[:n], A[n:]


def train_one(net, X, Y):
    """One model, all samples, in the calling thread."""
    net.fit(X, Y, **FIT)
    return net


def train_two(nets, Xs, Ys):
    """Model i on (Xs[i], Ys[i]), each in its own thread, at once."""
    errors = []
    barrier = threading.Barrier(len(nets))

    def body(net, X, Y):
        try:
            barrier.wait()
            net.fit(X, Y, **FIT)
        except BaseException as e:          # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=body, args=args) for args in zip(nets, Xs, Ys)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return nets


def describe(benchmark, case, n_samples):
    benchmark.extra_info.update({
        "case": case, "shape": "-".join(map(str, SIZES)), "dtype": DTYPE,
        "kernel_path": fastbp.kernel_path(), "samples": n_samples,
        "cpus": os.cpu_count(), "loadavg_1min": os.getloadavg()[0],
        "task": "fit epochs=1 batch_size=1 shuffle=False lr=0.1 sigmoid squared_error",
    })
    if benchmark.stats is None:              # --benchmark-disable: nothing timed
        return None
    rate = n_samples / benchmark.stats.stats.median
    benchmark.extra_info["samples_per_s"] = rate
    return rate


@pytest.mark.benchmark(group="threads")
def test_one_model_one_thread(benchmark):
    X, Y, (base, _) = problem()
    net = benchmark.pedantic(train_one, setup=lambda: ((base.copy(), X, Y), {}),
                             rounds=ROUNDS, warmup_rounds=1)
    rate = describe(benchmark, "1 model, 1 thread", X.shape[0])
    if rate is not None:
        _ONE_THREAD_RATE["rate"] = rate
    assert np.isfinite(net.params).all()
    assert net.loss(X[:500], Y[:500]) < base.loss(X[:500], Y[:500])


@pytest.mark.benchmark(group="threads")
def test_two_models_two_threads(benchmark):
    X, Y, bases = problem()
    Xs, Ys = halves(X), halves(Y)
    nets = benchmark.pedantic(train_two,
                              setup=lambda: (([b.copy() for b in bases], Xs, Ys), {}),
                              rounds=ROUNDS, warmup_rounds=1)
    rate = describe(benchmark, "2 models, 2 threads", X.shape[0])
    if rate is not None and "rate" in _ONE_THREAD_RATE:
        benchmark.extra_info["ratio_vs_one_thread"] = rate / _ONE_THREAD_RATE["rate"]
    # The same models trained one after the other: the very same numbers.
    for net, base, Xh, Yh in zip(nets, bases, Xs, Ys):
        assert net.params.tobytes() == train_one(base.copy(), Xh, Yh).params.tobytes()


# -- script mode -----------------------------------------------------------------------

def measure(repeats, n_samples):
    """Seconds of each repeat for one thread and for two threads, the two
    taking turns after a warm-up round (``fastbp.bench.timing``); the
    models are copied outside the timing."""
    X, Y, bases = problem(n_samples)
    Xs, Ys = halves(X), halves(Y)
    cases = {"one": timing.setup_and_run(bases[0].copy, lambda net: train_one(net, X, Y)),
             "two": timing.setup_and_run(lambda: [b.copy() for b in bases],
                                         lambda nets: train_two(nets, Xs, Ys))}
    return timing.interleaved(cases, repeats, warmup=1)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=8 * N_SAMPLES,
                        help="samples per model in the two-thread case")
    args = parser.parse_args(argv)
    before = os.getloadavg()
    times = measure(args.repeats, args.samples)
    total = 2 * args.samples
    ratios = [one / two for one, two in zip(times["one"], times["two"])]
    shape = "-".join(map(str, SIZES))
    print(f"{shape} {DTYPE}, per-sample SGD, {total} samples per case; "
          f"kernel path {fastbp.kernel_path()}, {os.cpu_count()} CPUs")
    seconds = timing.medians(times)
    print(f"one thread:  {total / seconds['one']:12,.0f} samples/s")
    print(f"two threads: {total / seconds['two']:12,.0f} samples/s")
    print("ratios per repeat: " + " ".join(f"{r:.2f}" for r in ratios))
    print("load average before: " + " ".join(f"{v:.2f}" for v in before)
          + ", after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"two-thread / one-thread throughput, median of {args.repeats}: "
          f"{statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
