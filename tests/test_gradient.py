"""Central finite differences of the loss against ``gradient``, for every
valid pair of activation and loss, with and without biases, 1 to 3 weight
layers: on the compiled core (scikit-learn's ``test_gradient`` on
``_loss_grad_lbfgs``), on the pure-Python reference, and float32 gradients
against float64 ones.

The loss is the mean over a few samples, so its derivative is the mean of
the per-sample gradients; both are compared flat, in ``params`` order (per
layer the weights row by row, then the biases).
"""
import numpy as np
import pytest

import fastbp
from fastbp import reference
from helpers import flat_gradient

EPS = 1e-5
# Central differences err by eps^2/6 |L'''| ~ 1e-11 (truncation) plus
# 1e-16 |L| / eps ~ 1e-11 (rounding of the two losses): far below these.
FD_RTOL, FD_ATOL = 1e-6, 1e-8
# No net input of a relu or leaky_relu unit may lie this close to the kink:
# a step of EPS in one parameter moves every net input by much less.
KINK_MARGIN = 1e-3
N_SAMPLES = 3

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
# (output activation, loss, kind of targets)
OUTPUTS = [
    ("identity", "squared_error", "real"),
    ("sigmoid", "squared_error", "unit"),
    ("tanh", "squared_error", "real"),
    ("relu", "squared_error", "real"),
    ("leaky_relu", "squared_error", "real"),
    ("softmax", "squared_error", "distribution"),
    ("sigmoid", "binary_cross_entropy", "unit"),
    ("softmax", "cross_entropy", "one_hot"),
    ("softmax", "cross_entropy", "distribution"),
    # Probability targets need not sum to 1: dE/dz_k = o_k sum(t) - t_k.
    ("softmax", "cross_entropy", "unnormalised"),
]
SIZES = {1: [3, 3], 2: [3, 4, 3], 3: [3, 4, 4, 3]}


def make_cases():
    """One case per (hidden activations, output, loss, targets, bias, depth);
    3-layer stacks mix two hidden activations."""
    cases = []
    for depth in (1, 2, 3):
        stacks = [[]] if depth == 1 else (
            [[h] for h in HIDDEN] if depth == 2
            else [[h, HIDDEN[(k + 2) % len(HIDDEN)]] for k, h in enumerate(HIDDEN)])
        for hidden in stacks:
            for output, loss, targets in OUTPUTS:
                for bias in (True, False):
                    cases.append(pytest.param(
                        hidden + [output], loss, targets, bias,
                        id=f"{'-'.join(hidden + [output])}-{loss}-{targets}-"
                           f"{'bias' if bias else 'nobias'}"))
    return cases


CASES = make_cases()


def targets_of(kind, rng, n_samples, n_outputs):
    if kind == "real":
        return rng.normal(size=(n_samples, n_outputs))
    if kind == "unit":
        T = rng.uniform(size=(n_samples, n_outputs))
        T[0, 0], T[-1, -1] = 0.0, 1.0           # the ends of [0, 1] too
        return T
    if kind == "distribution":
        T = rng.uniform(size=(n_samples, n_outputs))
        return T / T.sum(axis=1, keepdims=True)
    if kind == "one_hot":
        return np.eye(n_outputs)[rng.integers(n_outputs, size=n_samples)]
    # unnormalised: probability rows scaled to sum to 0.4, 1.7, 0.65, ...
    mass = np.resize([0.4, 1.7, 0.65], n_samples)[:, None]
    return rng.dirichlet(np.ones(n_outputs), n_samples) * mass


def net_inputs(weights, biases, activations, X):
    """Net inputs of every layer, in NumPy, to keep samples off relu kinks."""
    nets, a = [], X
    for l, (W, act) in enumerate(zip(weights, activations)):
        z = a @ W.T + (biases[l] if biases is not None else 0.0)
        nets.append(z)
        if act == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = {"identity": z, "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z),
                 "relu": np.maximum(z, 0), "leaky_relu": np.where(z > 0, z, 0.01 * z)}[act]
    return nets


def problem(activations, loss, targets, bias, seed, dtype=np.float64):
    """Weights, biases and samples drawn from ``seed``, redrawn until no relu
    or leaky_relu net input is within KINK_MARGIN of 0 and no relu layer is
    dead on a sample (its gradient would be 0, and the check empty). Values
    are rounded to ``dtype`` (so a float32 problem is exactly representable)."""
    sizes = SIZES[len(activations)]
    for attempt in range(100):
        rng = np.random.default_rng([seed, attempt])
        W = [rng.normal(scale=1.2 / np.sqrt(n_in), size=(n_out, n_in))
             for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        b = [rng.normal(scale=0.5, size=n_out) for n_out in sizes[1:]] if bias else None
        X = rng.normal(size=(N_SAMPLES, sizes[0]))
        Y = targets_of(targets, rng, N_SAMPLES, sizes[-1])
        W, X, Y = ([a.astype(dtype).astype(np.float64) for a in W],
                   X.astype(dtype).astype(np.float64), Y.astype(dtype).astype(np.float64))
        b = [v.astype(dtype).astype(np.float64) for v in b] if bias else None
        nets = net_inputs(W, b, activations, X)
        off_kinks = all(np.abs(z).min() > KINK_MARGIN for z, act in zip(nets, activations)
                        if act in ("relu", "leaky_relu"))
        alive = all((z > 0).any(axis=1).all() for z, act in zip(nets, activations)
                    if act == "relu")
        if off_kinks and alive:
            return W, b, X, Y
    raise AssertionError("could not draw a problem away from the relu kinks")


def mean_gradient(net, X, Y):
    return np.mean([flat_gradient(*net.gradient(x, t)) for x, t in zip(X, Y)], axis=0)


def assert_matches_finite_differences(numeric, analytic):
    # Some entry must be far from 0, or the check could not fail.
    assert np.abs(analytic).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)


def case_seed(activations, loss, targets, bias):
    return sum(map(ord, "".join(activations) + loss + targets)) * 2 + bias


@pytest.mark.parametrize("activations, loss, targets, bias", CASES)
def test_core_gradient_matches_finite_differences(kernel_path, activations, loss,
                                                  targets, bias):
    W, b, X, Y = problem(activations, loss, targets, bias,
                         case_seed(activations, loss, targets, bias))
    net = fastbp.MLP.from_weights(W, b, activation=activations, loss=loss)
    analytic = mean_gradient(net, X, Y)
    params = net.params
    start = params.copy()
    numeric = np.empty(params.size)
    for k in range(params.size):
        params[k] = start[k] + EPS
        up = net.loss(X, Y)
        params[k] = start[k] - EPS
        down = net.loss(X, Y)
        params[k] = start[k]
        numeric[k] = (up - down) / (2 * EPS)
    np.testing.assert_array_equal(net.params, start)
    assert analytic.shape == start.shape
    assert_matches_finite_differences(numeric, analytic)


def reference_slots(net):
    """(list, index) of every parameter of a reference.MLP, in params order."""
    slots = []
    for l, W in enumerate(net.weights):
        slots += [(row, i) for row in W for i in range(len(row))]
        if net.biases is not None:
            slots += [(net.biases[l], j) for j in range(len(net.biases[l]))]
    return slots


@pytest.mark.parametrize("activations, loss, targets, bias", CASES)
def test_reference_gradient_matches_finite_differences(activations, loss, targets, bias):
    W, b, X, Y = problem(activations, loss, targets, bias,
                         case_seed(activations, loss, targets, bias))
    net = reference.MLP.from_weights(W, b, activation=activations, loss=loss)
    analytic = mean_gradient(net, X, Y)
    slots = reference_slots(net)
    assert [s[i] for s, i in slots] == net.params
    numeric = np.empty(len(slots))
    for k, (slot, i) in enumerate(slots):
        start = slot[i]
        slot[i] = start + EPS
        up = net.loss(X, Y)
        slot[i] = start - EPS
        down = net.loss(X, Y)
        slot[i] = start
        numeric[k] = (up - down) / (2 * EPS)
    assert analytic.shape == numeric.shape
    assert_matches_finite_differences(numeric, analytic)


@pytest.mark.parametrize("activations, loss, targets, bias", CASES)
def test_float32_gradient_matches_float64(kernel_path, activations, loss, targets, bias):
    # The same problem, exactly representable in float32, in both types.
    W, b, X, Y = problem(activations, loss, targets, bias,
                         case_seed(activations, loss, targets, bias), dtype=np.float32)
    grads = {}
    for dtype in ("float32", "float64"):
        net = fastbp.MLP.from_weights(W, b, activation=activations, loss=loss, dtype=dtype)
        g = [flat_gradient(*net.gradient(x, t)) for x, t in zip(X, Y)]
        assert net.gradient(X[0], Y[0])[0][0].dtype == np.dtype(dtype)
        grads[dtype] = np.array(g)
    # Float32 rounds each operation to 6e-8 relative; a gradient entry is a
    # product of a few sums of such numbers, good to ~1e-6 relative. Entries
    # that are themselves a cancelling sum (small next to the largest one)
    # are held to that largest entry's scale instead.
    g64 = grads["float64"]
    scale = np.abs(g64).max()
    assert scale > 1e-3
    np.testing.assert_allclose(grads["float32"], g64, rtol=1e-4, atol=1e-5 * scale)
