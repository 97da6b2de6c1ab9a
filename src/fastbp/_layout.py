"""One flat parameter buffer for a whole network.

Layer l's weights, row-major (n_out, n_in), are followed by its biases; the C
core (csrc/fbp_core.template.h) relies on that order. ``weights`` and
``biases`` are views into the buffer, so writing to them changes the model.
"""
from typing import NamedTuple


class Layout(NamedTuple):
    sizes: tuple        # units per layer, inputs first
    w_offsets: tuple    # start of each layer's weights
    b_offsets: tuple    # start of each layer's biases; -1 without biases
    n_params: int


def make_layout(sizes, bias):
    """Offsets of every layer's weights (and biases) in the flat buffer."""
    w_offsets, b_offsets, pos = [], [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w_offsets.append(pos)
        pos += n_out * n_in
        b_offsets.append(pos if bias else -1)
        pos += n_out if bias else 0
    return Layout(tuple(sizes), tuple(w_offsets), tuple(b_offsets), pos)


def views(params, layout):
    """(weights, biases): per-layer views of ``params``; biases is None
    for a network without them."""
    pairs = zip(layout.sizes[:-1], layout.sizes[1:], layout.w_offsets, layout.b_offsets)
    weights, biases = [], []
    for n_in, n_out, w, b in pairs:
        weights.append(params[w:w + n_out * n_in].reshape(n_out, n_in))
        biases.append(params[b:b + n_out] if b >= 0 else None)
    return weights, (biases if layout.b_offsets[0] >= 0 else None)
