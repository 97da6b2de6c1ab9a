"""Mini-batches and predict on the matrix path: fastbp against NumPy by hand
and PyTorch, side by side (the speed targets of issue 4).

Groups (float32, the BLAS pinned to one thread unless said):

- "minibatch 784-128-10 float32 batch 64": ``MLP.fit`` against the fastest
  NumPy loop written here (``NumpyMiniBatch``) and PyTorch autograd with
  ``torch.optim.SGD`` (``torch.set_num_threads(1)``). Targets: fastbp at
  least 1.0x NumPy and 2x PyTorch.
- "minibatch 256-512-512-10 float32 batch 64 threads": ``MLP.fit`` with
  ``n_jobs=1`` and ``n_jobs=2``. Target: two threads at least 1.5x one.
- "predict 784-128-10 float32": ``MLP.predict`` on 100,000 samples against
  NumPy's bare ``X @ W1.T @ W2.T`` and the same chain with the biases and
  sigmoids added in place. Target: fastbp within 1.5x of the bare chain.

The training task, the same for every implementation: one epoch in the
given order (no shuffling), batches of 64, sigmoid hidden and output units,
loss E = 1/2 sum (t - o)^2 per sample, plain SGD on the batch's mean
gradient (lr 0.1), biases trained, the same initial weights and data.
``MLP.fit`` is timed as a user calls it, input checks included.

    pytest benchmarks/bench_minibatch.py --benchmark-only   # timings (medians)
    pytest benchmarks/bench_minibatch.py                    # each once, untimed, small data
    python benchmarks/bench_minibatch.py [--repeats 7]      # one table, interleaved medians

After timing, each result is checked: NumPy and PyTorch end where fastbp
ends (to float32 rounding), one and two threads end in the same place, and
every prediction agrees. ``extra_info`` holds ``samples_per_s`` and, for
the peers, ``fastbp_speedup``.
"""
import argparse
import functools
import os
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastbp
from fastbp import _core
from fastbp._vocabulary import OPTIMIZER_CODES
from fastbp.bench import timing

LR = 0.1
BATCH = 64
DTYPE = np.float32
FIT = dict(epochs=1, lr=LR, batch_size=BATCH, shuffle=False)
# name: (layer_sizes, samples per epoch timed, samples in an untimed run)
SHAPES = {
    "784-128-10": ((784, 128, 10), 12800, 640),
    "256-512-512-10": ((256, 512, 512, 10), 3200, 320),
}
PREDICT_SAMPLES = (100_000, 2_000)       # timed, untimed
ROUNDS = 7
# After one epoch from the same weights, peers differ from fastbp by float32
# rounding carried through 200 updates: measured max |diff| 2e-6 with
# weights of order 0.1.
RTOL, ATOL = 1e-4, 1e-5
TARGETS = {"numpy": 1.0, "torch": 2.0, "threads": 1.5, "predict": 1.5}

# fastbp's samples/s per group, for the peers' speed-up figures
_FASTBP_RATE = {}


def one_blas_thread():
    """NumPy's and fastbp's BLAS on one thread for the block."""
    return threadpool_limits(limits=1, user_api="blas")


@functools.lru_cache(maxsize=None)
def problem(name, n_samples):
    """Inputs uniform in [0, 1), targets from a fixed 'teacher' network (so
    an epoch has something to learn), and the initial network, made once."""
    sizes = SHAPES[name][0]
    X = np.random.default_rng(1).random((n_samples, sizes[0])).astype(DTYPE)
    Y = fastbp.MLP(sizes, dtype=DTYPE, seed=1).predict(X)
    return X, Y, fastbp.MLP(sizes, dtype=DTYPE, seed=0)


def samples(benchmark, name):
    """Samples per epoch: fewer when nothing is timed (plain pytest)."""
    _, timed, untimed = SHAPES[name]
    return untimed if benchmark.disabled else timed


class NumpyMiniBatch:
    """Mini-batch SGD written with NumPy, as fast as this file could make it:
    every buffer allocated once, every step a BLAS or ufunc call writing in
    place (``out=``), the step size folded into the small delta matrices
    rather than applied to the weight-sized gradients.

    Parameters
    ----------
    net : fastbp.MLP
        Sizes and initial parameters (copied).
    batch : int

    Attributes
    ----------
    weights, biases : lists of ndarray, updated by each call
    """

    def __init__(self, net, batch):
        self.weights = [W.copy() for W in net.weights]
        self.biases = [b.copy() for b in net.biases]
        self.batch = batch
        self._out = [np.empty((batch, n), net.dtype) for n in net.layer_sizes[1:]]
        self._delta = [np.empty_like(a) for a in self._out]
        self._deriv = [np.empty_like(a) for a in self._out]
        self._grad = [np.empty_like(W) for W in self.weights]
        self._grad_b = [np.empty_like(b) for b in self.biases]

    def __call__(self, X, Y):
        """One epoch over the rows of X and Y, batch after batch."""
        W, b, out, delta = self.weights, self.biases, self._out, self._delta
        step, L = DTYPE(LR), len(W)
        for start in range(0, X.shape[0], self.batch):
            x, t = X[start:start + self.batch], Y[start:start + self.batch]
            n = x.shape[0]
            a = x
            for l in range(L):
                # a_l = 1 / (1 + exp(-(a_{l-1} W_l^T + b_l)))
                z = out[l][:n]
                np.matmul(a, W[l].T, out=z)
                z += b[l]
                np.negative(z, out=z)
                np.exp(z, out=z)
                z += 1
                np.reciprocal(z, out=z)
                a = z
            np.subtract(a, t, out=delta[-1][:n])
            for l in range(L - 1, -1, -1):
                d, a, deriv = delta[l][:n], out[l][:n], self._deriv[l][:n]
                np.subtract(1, a, out=deriv)         # d *= a (1 - a)
                deriv *= a
                d *= deriv
                if l > 0:                            # with W_l before its update
                    np.matmul(d, W[l], out=delta[l - 1][:n])
                d *= step / n
                np.matmul(d.T, out[l - 1][:n] if l > 0 else x, out=self._grad[l])
                W[l] -= self._grad[l]
                np.sum(d, axis=0, out=self._grad_b[l])
                b[l] -= self._grad_b[l]


class TorchMiniBatch:
    """The same training with PyTorch autograd and ``torch.optim.SGD``, the
    way a PyTorch user writes it; one thread.

    Parameters and attributes as for ``NumpyMiniBatch``.
    """

    def __init__(self, net, batch):
        import torch

        torch.set_num_threads(1)
        self._torch = torch
        layers = []
        for W, b in zip(net.weights, net.biases):
            linear = torch.nn.Linear(W.shape[1], W.shape[0])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W))
                linear.bias.copy_(torch.from_numpy(b))
            layers += [linear, torch.nn.Sigmoid()]
        self.model = torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.batch = batch

    def __call__(self, X, Y):
        X, Y = self._torch.from_numpy(X), self._torch.from_numpy(Y)
        for start in range(0, X.shape[0], self.batch):
            x, t = X[start:start + self.batch], Y[start:start + self.batch]
            self.optimizer.zero_grad()
            loss = 0.5 * ((self.model(x) - t) ** 2).sum(dim=1).mean()
            loss.backward()
            self.optimizer.step()

    @property
    def weights(self):
        return [m.weight.detach().numpy() for m in self.model[::2]]

    @property
    def biases(self):
        return [m.bias.detach().numpy() for m in self.model[::2]]


def fit_fastbp(net, X, Y, n_jobs=1):
    net.fit(X, Y, n_jobs=n_jobs, **FIT)
    return net


def fit_core(net, X, Y):
    """fastbp's compiled core alone: the whole epoch in one call, without
    MLP.fit's input checks and its blocks of a few ms (between which it
    checks for divergence and Ctrl-C)."""
    options = _core.FitOptions(_core.Optimizer(OPTIMIZER_CODES["sgd"], LR), BATCH,
                               1.0 / X.shape[0], True)
    _core.fit(net._top, options, net.params, X, Y, np.empty(0, DTYPE),
              np.arange(X.shape[0], dtype=np.intp), net._workspace, np.zeros_like(net.params),
              np.empty(0, DTYPE), 0)
    return net


def train_peer(peer, X, Y):
    peer(X, Y)
    return peer


def describe(benchmark, implementation, group, n_samples):
    """Fill extra_info; return samples/s of the median round, or None when
    nothing was timed."""
    benchmark.extra_info.update({
        "implementation": implementation, "group": group, "samples": n_samples,
        "kernel_path": fastbp.kernel_path(), "cpus": os.cpu_count(),
        "loadavg_1min": os.getloadavg()[0],
    })
    if benchmark.stats is None:
        return None
    rate = n_samples / benchmark.stats.stats.median
    benchmark.extra_info["samples_per_s"] = rate
    if implementation.startswith("fastbp"):
        _FASTBP_RATE[group] = rate
    elif group in _FASTBP_RATE:
        benchmark.extra_info["fastbp_speedup"] = _FASTBP_RATE[group] / rate
    return rate


def assert_same_training(got, want):
    for a, b in zip(got.weights + got.biases, want.weights + want.biases):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


# -- pytest-benchmark ----------------------------------------------------------------

MINIBATCH = "minibatch 784-128-10 float32 batch 64"
THREADS = "minibatch 256-512-512-10 float32 batch 64 threads"
PREDICT = "predict 784-128-10 float32"


@pytest.mark.benchmark(group=MINIBATCH)
def test_minibatch_fastbp(benchmark):
    n = samples(benchmark, "784-128-10")
    X, Y, start = problem("784-128-10", n)
    net = benchmark.pedantic(fit_fastbp, setup=lambda: ((start.copy(), X, Y), {}),
                             rounds=ROUNDS, warmup_rounds=1)
    describe(benchmark, "fastbp", MINIBATCH, n)
    assert start._top.takes_matrix_path(BATCH)
    assert net.loss(X, Y) < start.loss(X, Y)


def run_peer(benchmark, implementation, make):
    n = samples(benchmark, "784-128-10")
    X, Y, start = problem("784-128-10", n)
    with one_blas_thread():
        peer = benchmark.pedantic(train_peer, setup=lambda: ((make(start, BATCH), X, Y), {}),
                                  rounds=ROUNDS, warmup_rounds=1)
    describe(benchmark, implementation, MINIBATCH, n)
    assert_same_training(peer, fit_fastbp(start.copy(), X, Y))


@pytest.mark.benchmark(group=MINIBATCH)
def test_minibatch_numpy(benchmark):
    run_peer(benchmark, "numpy", NumpyMiniBatch)


@pytest.mark.benchmark(group=MINIBATCH)
def test_minibatch_torch(benchmark):
    pytest.importorskip("torch")
    run_peer(benchmark, "torch", TorchMiniBatch)


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.benchmark(group=THREADS)
def test_minibatch_threads(benchmark, n_jobs):
    n = samples(benchmark, "256-512-512-10")
    X, Y, start = problem("256-512-512-10", n)
    net = benchmark.pedantic(fit_fastbp, setup=lambda: ((start.copy(), X, Y, n_jobs), {}),
                             rounds=ROUNDS, warmup_rounds=1)
    rate = describe(benchmark, f"fastbp n_jobs={n_jobs}", THREADS, n)
    if rate is not None and n_jobs == 2 and THREADS in _FASTBP_RATE:
        benchmark.extra_info["ratio_vs_one_thread"] = rate / _FASTBP_RATE[THREADS]
    one = fit_fastbp(start.copy(), X, Y)
    np.testing.assert_allclose(net.params, one.params, rtol=1e-6, atol=1e-7)


@functools.lru_cache(maxsize=None)
def predict_problem(n_samples):
    X = np.random.default_rng(2).random((n_samples, 784)).astype(DTYPE)
    return X, fastbp.MLP((784, 128, 10), dtype=DTYPE, seed=0)


class NumpyChain:
    """``X @ W1.T @ W2.T`` in NumPy, bare or (``activations``) with the
    biases and sigmoids added in place into buffers allocated once."""

    def __init__(self, net, n_samples, activations):
        self.weights, self.biases = net.weights, net.biases
        self.activations = activations
        self._out = [np.empty((n_samples, n), DTYPE) for n in net.layer_sizes[1:]]

    def __call__(self, X):
        if not self.activations:
            return X @ self.weights[0].T @ self.weights[1].T
        a = X
        for W, b, z in zip(self.weights, self.biases, self._out):
            np.matmul(a, W.T, out=z)
            z += b
            np.negative(z, out=z)
            np.exp(z, out=z)
            z += 1
            np.reciprocal(z, out=z)
            a = z
        return a


@pytest.mark.parametrize("implementation", ["fastbp", "numpy bare", "numpy activations"])
@pytest.mark.benchmark(group=PREDICT)
def test_predict(benchmark, implementation):
    n = PREDICT_SAMPLES[benchmark.disabled]
    X, net = predict_problem(n)
    run = (net.predict if implementation == "fastbp"
           else NumpyChain(net, n, implementation == "numpy activations"))
    with one_blas_thread():
        out = benchmark.pedantic(run, args=(X,), rounds=ROUNDS, warmup_rounds=1)
    describe(benchmark, implementation, PREDICT, n)
    expected = net.predict(X)
    if implementation == "numpy bare":
        expected = X @ net.weights[0].T @ net.weights[1].T
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


# -- script mode ---------------------------------------------------------------------

def interleaved(cases, repeats):
    """Median seconds per case over repeats after one warm-up round, the
    cases taking turns (``fastbp.bench.timing``). Each entry of ``cases``
    maps a name to (setup, run): setup's result, made outside the timing, is
    what run gets."""
    costs, _ = timing.interleaved(
        {name: timing.setup_and_run(setup, run) for name, (setup, run) in cases.items()},
        repeats, warmup=1)
    return timing.medians(costs)


def training_cases(torch):
    X, Y, start = problem("784-128-10", SHAPES["784-128-10"][1])
    cases = {
        "fastbp MLP.fit": (start.copy, lambda net: fit_fastbp(net, X, Y)),
        "fastbp core, one call per epoch": (start.copy, lambda net: fit_core(net, X, Y)),
        "numpy by hand": (lambda: NumpyMiniBatch(start, BATCH), lambda p: p(X, Y)),
    }
    if torch:
        cases["torch autograd + SGD"] = (lambda: TorchMiniBatch(start, BATCH),
                                         lambda p: p(X, Y))
    return X.shape[0], cases


def thread_cases():
    X, Y, start = problem("256-512-512-10", SHAPES["256-512-512-10"][1])
    return X.shape[0], {
        f"fastbp n_jobs={k}": (start.copy, lambda net, k=k: fit_fastbp(net, X, Y, k))
        for k in (1, 2)}


def predict_cases():
    n = PREDICT_SAMPLES[0]
    X, net = predict_problem(n)
    return n, {
        "fastbp MLP.predict": (lambda: net, lambda m: m.predict(X)),
        "numpy X @ W1.T @ W2.T": (lambda: NumpyChain(net, n, False), lambda c: c(X)),
        "numpy chain + biases, sigmoid": (lambda: NumpyChain(net, n, True), lambda c: c(X)),
    }


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    torch = torch_available()
    before = os.getloadavg()
    tables = []
    with one_blas_thread():
        for title, (n, cases) in (("784-128-10 float32, batch 64, one thread",
                                   training_cases(torch)),
                                  ("predict 784-128-10 float32, one thread", predict_cases())):
            tables.append((title, n, interleaved(cases, args.repeats)))
    n, cases = thread_cases()
    tables.append(("256-512-512-10 float32, batch 64", n, interleaved(cases, args.repeats)))

    print(f"fastbp {fastbp.__version__}, kernel path {fastbp.kernel_path()}, "
          f"{os.cpu_count()} CPUs; medians of {args.repeats} interleaved repeats")
    print(f"{'case':<34} {'samples/s':>12} {'ms':>9}")
    rates = {}
    for title, n, seconds in tables:
        print(f"-- {title}, {n:,} samples")
        for name, s in seconds.items():
            rates[name] = n / s
            print(f"{name:<34} {n / s:>12,.0f} {1e3 * s:>9.1f}")
    # (what, value, target, whether higher is better)
    checks = [("fastbp MLP.fit / numpy by hand, samples/s",
               rates["fastbp MLP.fit"] / rates["numpy by hand"], TARGETS["numpy"], True)]
    if torch:
        checks.append(("fastbp MLP.fit / torch, samples/s",
                       rates["fastbp MLP.fit"] / rates["torch autograd + SGD"],
                       TARGETS["torch"], True))
    checks += [("fastbp n_jobs=2 / n_jobs=1, samples/s",
                rates["fastbp n_jobs=2"] / rates["fastbp n_jobs=1"], TARGETS["threads"], True),
               ("fastbp predict / numpy bare chain, time",
                rates["numpy X @ W1.T @ W2.T"] / rates["fastbp MLP.predict"],
                TARGETS["predict"], False)]
    print("-- targets")
    for what, value, target, higher in checks:
        met = value >= target if higher else value <= target
        print(f"{what:<44} {value:6.2f}x  (target {'>=' if higher else '<='} {target:.1f}x) "
              f"{'met' if met else 'MISSED'}")
    if not torch:
        print("torch not installed: no PyTorch figures (pip install torch)")
    print("load average before: " + " ".join(f"{v:.2f}" for v in before)
          + ", after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
