"""Per-sample SGD: fastbp against NumPy by hand, PyTorch and FANN, side by side.

One group per shape and dtype ("sgd 784-128-10 float32"). In a group every
implementation trains one epoch over the same n samples (lr 0.1, sigmoid
hidden and output units, squared error, biases trained, no shuffle) from the
same initial weights, so the times in a group compare directly; FANN is the
exception, see ``test_sgd_fann``. ``extra_info`` holds ``ns_per_sample``,
``samples_per_s`` and, for the peers, ``fastbp_speedup``.

    pytest benchmarks/bench_peers.py --benchmark-enable --benchmark-only   # timings (medians)
    pytest benchmarks/bench_peers.py --benchmark-disable   # each once, as a test (the default)

A thin front-end over ``fastbp.bench.compare``, the code of ``fastbp bench``
(which prints the same comparison as one table, interleaving the
implementations and taking medians): its problem (data and initial
weights), its ways of preparing each implementation and its checks. Every
round trains a fresh model (``pedantic`` with a ``setup``, not timed) on
data made once per shape. After timing, each result is checked: fastbp's
epoch must lower the loss, NumPy and PyTorch must end where fastbp ends on
the same samples.

NumPy and PyTorch get one thread, as fastbp and FANN use one. The BLAS thread
count can only be set before NumPy loads OpenBLAS: run this file on its own
(``extra_info["blas_threads_env"]`` records whether the setting took effect),
or export OPENBLAS_NUM_THREADS=1.
"""
import os
import sys

_BLAS_ENV_APPLIED = "numpy" not in sys.modules
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import functools  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fastbp  # noqa: E402
from fastbp.bench import compare  # noqa: E402
from fastbp.bench.peers import (PeerUnavailable, build_fann_harness,  # noqa: E402
                                fann_ns_per_sample, make_numpy, make_torch)

LR = compare.LR

# name: samples per epoch. A round of fastbp float32 takes 0.3-5 ms, of NumPy
# or PyTorch 10-80 ms on a 2-core AMD EPYC.
SAMPLES = {"2-2-2": 2000, "64-128-10": 1000, "784-128-10": 200, "256-512-512-10": 40}
DTYPES = ("float32", "float64")
# Timed rounds (pytest-benchmark reports their median); each FANN round starts a process.
ROUNDS = {"fastbp": 30, "numpy": 7, "torch": 7, "fann": 5}

CASES = [pytest.param(name, dtype, id=f"{name}-{dtype}",
                      marks=pytest.mark.benchmark(group=f"sgd {name} {dtype}"))
         for name in SAMPLES for dtype in DTYPES]

# fastbp's ns per sample per group, for the peers' speed-up figure
_FASTBP_NS = {}


@functools.lru_cache(maxsize=None)
def problem(name):
    """``fastbp bench``'s problem for a shape, with SAMPLES[name] samples for
    every implementation, made once."""
    counts = {key: SAMPLES[name] for key in ("fastbp", "reference", "numpy", "torch", "fann")}
    return compare.Problem(name, compare.SHAPES[name][0], counts)


def run_prepared(prepared):
    """The timed call: one epoch; returns (its result, the params getter)."""
    train, params = prepared
    return train(), params


def describe(benchmark, implementation, name, dtype, ns_per_sample=None):
    """Fill extra_info; return ns per sample (the median round's, unless given),
    or None when nothing was timed (--benchmark-disable)."""
    n_samples = SAMPLES[name]
    benchmark.extra_info.update({
        "implementation": implementation,
        "shape": name,
        "dtype": dtype,
        "kernel_path": fastbp.kernel_path(),
        "samples": n_samples,
        "task": f"one epoch, per-sample SGD, lr={LR}, sigmoid, squared_error, biases trained",
        "blas_threads_env": "OPENBLAS_NUM_THREADS=1" if _BLAS_ENV_APPLIED
                            else "not applied: numpy was imported before this module",
    })
    if ns_per_sample is None:
        if benchmark.stats is None:
            return None
        ns_per_sample = benchmark.stats.stats.median * 1e9 / n_samples
    benchmark.extra_info["ns_per_sample"] = ns_per_sample
    benchmark.extra_info["samples_per_s"] = 1e9 / ns_per_sample
    if implementation != "fastbp" and (name, dtype) in _FASTBP_NS:
        benchmark.extra_info["fastbp_speedup"] = ns_per_sample / _FASTBP_NS[name, dtype]
    return ns_per_sample


@pytest.mark.parametrize("name, dtype", CASES)
def test_sgd_fastbp(benchmark, name, dtype):
    prepare = compare.prepare_fastbp(dtype)
    history, params = benchmark.pedantic(
        run_prepared, setup=lambda: ((prepare(problem(name), SAMPLES[name]),), {}),
        rounds=ROUNDS["fastbp"], warmup_rounds=1)
    ns = describe(benchmark, "fastbp", name, dtype)
    if ns is not None:
        _FASTBP_NS[name, dtype] = ns

    assert all(p.dtype == np.dtype(dtype) for p in params())
    assert history.n_epochs == 1 and math.isfinite(history.loss[0])
    assert compare.loss_not_lowered(problem(name), dtype, params()) is None


def run_peer(benchmark, implementation, make, name, dtype):
    prepare = compare.prepare_peer(make, dtype)
    _, params = benchmark.pedantic(
        run_prepared, setup=lambda: ((prepare(problem(name), SAMPLES[name]),), {}),
        rounds=ROUNDS[implementation], warmup_rounds=1)
    describe(benchmark, implementation, name, dtype)

    # The same samples through fastbp: the same weights, to rounding.
    assert all(p.dtype == np.dtype(dtype) for p in params())
    impl = compare.Impl(implementation, implementation, implementation)
    assert compare.differs_from_fastbp(problem(name), impl, params(), SAMPLES[name],
                                       dtype) is None


@pytest.mark.parametrize("name, dtype", CASES)
def test_sgd_numpy(benchmark, name, dtype):
    run_peer(benchmark, "numpy", make_numpy, name, dtype)


@pytest.mark.parametrize("name, dtype", CASES)
def test_sgd_torch(benchmark, name, dtype):
    pytest.importorskip("torch")
    run_peer(benchmark, "torch", make_torch, name, dtype)


@pytest.mark.parametrize("name, dtype", CASES)
def test_sgd_fann(benchmark, name, dtype):
    """FANN (float or double build) through the C harness, one process per round.

    The benchmark's time for this row is the harness process's wall time:
    process start and libfann loading (about 2-3 ms here), FANN's own data and
    network creation, then one epoch. That is an upper bound, close to the
    epoch for the larger shapes, mostly start-up for 2-2-2. The harness also
    times the epoch alone, inside the process, with clock_gettime around the
    fann_train loop; that figure goes to extra_info["ns_per_sample"] (median
    over rounds) and is what fastbp_speedup and ``fastbp bench`` use. FANN starts
    from its own weights in [-0.1, 0.1] and its own data; the cost of a
    sample does not depend on the values.
    """
    try:
        build_fann_harness(dtype)       # compiled here, not in a timed round
    except PeerUnavailable as e:
        pytest.skip(str(e))
    sizes, n_samples = compare.SHAPES[name][0], SAMPLES[name]
    per_sample = []

    def run():
        per_sample.append(fann_ns_per_sample(sizes, np.dtype(dtype), n_samples, epochs=1))

    benchmark.pedantic(run, rounds=ROUNDS["fann"])
    ns = describe(benchmark, "fann", name, dtype, statistics.median(per_sample))
    benchmark.extra_info["timed"] = ("row: harness process wall time (start-up, data, "
                                     "network, one epoch); ns_per_sample: the epoch alone")
    assert all(math.isfinite(t) and t > 0 for t in per_sample), per_sample
    # The epoch cannot take longer than the process that ran it.
    if benchmark.stats is not None:
        assert ns * n_samples <= benchmark.stats.stats.max * 1e9
