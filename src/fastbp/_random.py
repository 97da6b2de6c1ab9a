"""The random numbers of training: initial weights and sample orders.

Shared by ``MLP`` and ``reference.MLP`` so that both start from the same
weights and visit samples in the same order for the same seed.
"""
import math

import numpy as np


def init_limit(activation, n_in, n_out):
    """Half-width of the uniform distribution of a layer's initial weights.

    Glorot/Xavier uniform, sqrt(6 / (n_in + n_out)), for identity, tanh and
    softmax; sqrt(2 / (n_in + n_out)) for sigmoid, whose slope at 0 is a quarter
    of tanh's (scikit-learn's MLP uses the same two); He uniform,
    sqrt(6 / n_in), for relu and leaky_relu, which halve the variance.
    """
    if activation in ("relu", "leaky_relu"):
        return math.sqrt(6.0 / n_in)
    factor = 2.0 if activation == "sigmoid" else 6.0
    return math.sqrt(factor / (n_in + n_out))


def initial_weights(sizes, activations, seed):
    """Float64 weight matrices (n_out, n_in), drawn layer by layer from
    ``numpy.random.default_rng(seed)``. Biases start at zero."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(-init_limit(act, n_in, n_out), init_limit(act, n_in, n_out),
                        size=(n_out, n_in))
            for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations)]


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
