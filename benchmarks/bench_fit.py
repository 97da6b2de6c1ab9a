"""Per-sample SGD: the compiled core against the pure-Python reference.

``fit(X, Y, epochs=1, lr=0.1, batch_size=1, shuffle=False)`` with sigmoid
layers and squared error, for each shape and dtype; the two implementations
share one group ("fit 64-128-10 float32"), so pytest-benchmark prints them
side by side. The reference gets a few samples, the core many; compare
``extra_info["samples_per_s"]`` (and ``speedup_vs_reference``), not the raw
times.

    pytest benchmarks/bench_fit.py --benchmark-only      # timings (medians)
    pytest benchmarks/bench_fit.py --benchmark-disable   # each once, as a test

Every round trains a fresh copy of the same initial model (``pedantic`` with a
``setup``; the copy is not timed), on data made once per module. After
timing, each result is checked: the core's first samples against the
reference's, and the core's whole epoch must lower the loss.
"""
import copy
import functools
import math

import numpy as np
import pytest

import fastbp
from fastbp import reference

LR = 0.1

# name: (layer_sizes, core samples, reference samples, core rounds, reference rounds)
SHAPES = {
    "2-2-2": ((2, 2, 2), 20000, 20, 20, 5),
    "4-16-1": ((4, 16, 1), 20000, 20, 20, 5),
    "64-128-10": ((64, 128, 10), 5000, 20, 10, 3),
    "784-128-10": ((784, 128, 10), 2000, 3, 5, 3),
}
DTYPES = ("float32", "float64")

# Same tolerances as test_equivalence (STYLE.md section 7): float64 core vs
# reference after an epoch, and float32 core vs the reference (which computes
# in double from float32 starting values).
RTOL = {"float64": 1e-10, "float32": 1e-4}
ATOL = {"float64": 1e-13, "float32": 1e-6}

CASES = [pytest.param(name, dtype, id=f"{name}-{dtype}",
                      marks=pytest.mark.benchmark(group=f"fit {name} {dtype}"))
         for name in SHAPES for dtype in DTYPES]

# samples/s of the core per group, for the reference's speed-up figure
_CORE_RATE = {}


@functools.lru_cache(maxsize=None)
def problem(name, dtype):
    """Data and initial models, made once: X uniform in [0, 1), targets from a
    fixed 'teacher' network (so one epoch has something to learn), and the
    same initial weights for both implementations."""
    sizes, n_core, _, _, _ = SHAPES[name]
    rng = np.random.default_rng(2024)
    X = rng.random((n_core, sizes[0])).astype(dtype)
    teacher = fastbp.MLP(sizes, seed=1)
    Y = teacher.predict(X.astype(np.float64)).astype(dtype)
    core = fastbp.MLP(sizes, seed=0, dtype=dtype)
    ref = reference.MLP(sizes, seed=0, dtype=dtype)
    assert np.array_equal(core.params.astype(np.float64), np.array(ref.params))
    return X, Y, core, ref


def train(net, X, Y):
    history = net.fit(X, Y, epochs=1, lr=LR, batch_size=1, shuffle=False)
    return net, history


def describe(benchmark, implementation, name, dtype, n_samples):
    benchmark.extra_info.update({
        "implementation": implementation,
        "shape": name,
        "dtype": dtype,
        "kernel_path": fastbp.kernel_path(),
        "samples": n_samples,
        "task": f"fit epochs=1 batch_size=1 shuffle=False lr={LR} sigmoid squared_error",
    })
    if benchmark.stats is None:          # --benchmark-disable: nothing timed
        return None
    rate = n_samples / benchmark.stats.stats.median
    benchmark.extra_info["samples_per_s"] = rate
    return rate


def assert_matches_reference(core_net, core_hist, ref_net, ref_hist, dtype):
    assert core_net.params.dtype == np.dtype(dtype)
    np.testing.assert_allclose(core_net.params, np.array(ref_net.params),
                               rtol=RTOL[dtype], atol=ATOL[dtype])
    np.testing.assert_allclose(core_hist.loss, ref_hist.loss, rtol=RTOL[dtype])


@pytest.mark.parametrize("name, dtype", CASES)
def test_fit_core(benchmark, name, dtype):
    X, Y, base, ref_base = problem(name, dtype)
    _, n_core, n_ref, rounds, _ = SHAPES[name]
    net, history = benchmark.pedantic(train, setup=lambda: ((base.copy(), X, Y), {}),
                                      rounds=rounds, warmup_rounds=1)
    rate = describe(benchmark, "fastbp", name, dtype, n_core)
    if rate is not None:
        _CORE_RATE[name, dtype] = rate

    # The timed epoch: all finite, the start untouched, the loss lower.
    assert history.n_epochs == 1 and math.isfinite(history.loss[0])
    assert np.isfinite(net.params).all()
    assert not np.array_equal(net.params, base.params)
    probe = slice(0, 500)
    before, after = base.loss(X[probe], Y[probe]), net.loss(X[probe], Y[probe])
    assert after < before, (before, after)

    # The same first samples, core and reference: same numbers.
    core_net, core_hist = train(base.copy(), X[:n_ref], Y[:n_ref])
    ref_net, ref_hist = train(copy.deepcopy(ref_base), X[:n_ref], Y[:n_ref])
    assert_matches_reference(core_net, core_hist, ref_net, ref_hist, dtype)


@pytest.mark.parametrize("name, dtype", CASES)
def test_fit_reference(benchmark, name, dtype):
    X, Y, base, ref_base = problem(name, dtype)
    _, _, n_ref, _, rounds = SHAPES[name]
    Xr, Yr = X[:n_ref], Y[:n_ref]
    ref_net, ref_hist = benchmark.pedantic(
        train, setup=lambda: ((copy.deepcopy(ref_base), Xr, Yr), {}), rounds=rounds)
    rate = describe(benchmark, "reference", name, dtype, n_ref)
    if rate is not None and (name, dtype) in _CORE_RATE:
        benchmark.extra_info["speedup_vs_reference"] = _CORE_RATE[name, dtype] / rate

    # The reference started from the shared weights and was not disturbed.
    assert np.array_equal(np.array(ref_base.params), base.params.astype(np.float64))
    core_net, core_hist = train(base.copy(), Xr, Yr)
    assert_matches_reference(core_net, core_hist, ref_net, ref_hist, dtype)
    assert not np.array_equal(np.array(ref_net.params), np.array(ref_base.params))
