"""Helpers shared by test files (plain functions, not fixtures)."""
import numpy as np


def flat_gradient(grad_weights, grad_biases):
    """A (grad_weights, grad_biases) pair as one float64 vector in params order."""
    parts = []
    for l, G in enumerate(grad_weights):
        parts.append(np.ravel(np.asarray(G, dtype=np.float64)))
        if grad_biases is not None:
            parts.append(np.asarray(grad_biases[l], dtype=np.float64))
    return np.concatenate(parts)
