"""The random numbers of training: initial weights and sample orders.

Shared by ``MLP`` and ``reference.MLP`` so that both start from the same
weights and visit samples in the same order for the same seed.
"""
import math

import numpy as np

from fastbp._vocabulary import INITS


def init_limit(activation, n_in, n_out):
    """Half-width of the uniform distribution of a layer's initial weights
    under init="auto".

    Glorot/Xavier uniform, sqrt(6 / (n_in + n_out)), for identity, tanh and
    softmax; sqrt(2 / (n_in + n_out)) for sigmoid, whose slope at 0 is a quarter
    of tanh's (scikit-learn's MLP uses the same two); He uniform,
    sqrt(6 / n_in), for relu and leaky_relu, which halve the variance.
    """
    if activation in ("relu", "leaky_relu"):
        return math.sqrt(6.0 / n_in)
    factor = 2.0 if activation == "sigmoid" else 6.0
    return math.sqrt(factor / (n_in + n_out))


def _limits(init, activations, n_in, n_out, layer):
    """(weight limit, bias limit) of a named scheme (the vocabulary's INITS)."""
    if init == "auto":
        return init_limit(activations[layer], n_in, n_out), 0.0
    if init == "glorot_uniform":
        return math.sqrt(6.0 / (n_in + n_out)), 0.0
    if init == "he_uniform":
        return math.sqrt(6.0 / n_in), 0.0
    # "sklearn": scikit-learn's _init_coef, whose factor follows its one
    # `activation` (the hidden layers', here the first layer's) for every
    # layer, and whose biases are drawn like the weights.
    factor = 2.0 if activations[0] == "sigmoid" else 6.0
    limit = math.sqrt(factor / (n_in + n_out))
    return limit, limit


def check_init(init):
    """init itself if it is a scheme's name or a callable; raises otherwise."""
    if callable(init):
        return init
    if isinstance(init, str) and init in INITS:
        return init
    raise ValueError(f"init must be one of {', '.join(map(repr, INITS))} or a callable "
                     f"init(rng, n_in, n_out) -> (weights, biases), got {init!r}")


def initial_parameters(sizes, activations, seed, init="auto"):
    """Float64 (weights, biases) of every layer, shapes (n_out, n_in) and
    (n_out,), drawn layer by layer from ``numpy.random.default_rng(seed)``:
    by a named scheme (``MLP``'s docstring gives the formulas), weights then
    biases, or by ``init(rng, n_in, n_out)``, which returns the pair."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if callable(init):
            W, b = _called(init, rng, n_in, n_out, layer)
        else:
            w_limit, b_limit = _limits(init, activations, n_in, n_out, layer)
            W = rng.uniform(-w_limit, w_limit, size=(n_out, n_in))
            b = rng.uniform(-b_limit, b_limit, size=n_out) if b_limit else np.zeros(n_out)
        weights.append(W)
        biases.append(b)
    return weights, biases


def _called(init, rng, n_in, n_out, layer):
    """A callable init's (weights, biases) of one layer, checked."""
    result = init(rng, n_in, n_out)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ValueError(f"init must return a pair (weights, biases), got {result!r} for "
                         f"layer {layer}")
    W, b = (np.asarray(a, dtype=np.float64) for a in result)
    if W.shape != (n_out, n_in) or b.shape != (n_out,):
        raise ValueError(f"init returned shapes {W.shape} and {b.shape} for layer {layer}; "
                         f"expected ({n_out}, {n_in}) and ({n_out},)")
    if not (np.isfinite(W).all() and np.isfinite(b).all()):
        raise ValueError(f"init returned non-finite values for layer {layer}")
    return W, b


def epoch_orders(n_samples, epochs, shuffle, seed):
    """The sample order of each epoch: a fresh permutation per epoch from
    ``numpy.random.default_rng(seed)``, or ``range(n_samples)`` when not
    shuffling (a slice of it can be made an array block by block, which
    costs nothing like a whole epoch's index array)."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        yield rng.permutation(n_samples) if shuffle else range(n_samples)


def order_block(order, start, stop):
    """order[start:stop] as an intp array (of an epoch_orders item)."""
    if isinstance(order, range):
        return np.arange(start, min(stop, order.stop), dtype=np.intp)
    return order[start:stop]
