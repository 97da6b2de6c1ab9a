"""One flat parameter buffer for a whole network.

Layer l's weights, row-major (n_out, n_in), are followed by its biases; the C
core relies on that order (fbp_net_init in csrc/fbp_net.c checks it).
``weights`` and ``biases`` are views into the buffer, so writing to them
changes the model.
"""
from typing import NamedTuple

import numpy as np

# Buffers the kernels stream through start on a cache line: a register-wide
# load that straddles two lines costs the per-sample loop about 30% on large
# networks (256-512-512-10 float32: 77 against 59 us per sample with params
# 16 bytes past a line, as NumPy's allocator leaves large arrays).
ALIGN = 64


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


def aligned_zeros(n, dtype):
    """n zeros of dtype in a 1-D array whose data starts on an ALIGN-byte
    boundary."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(n * itemsize + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + n * itemsize].view(dtype)
