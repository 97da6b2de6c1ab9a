"""The optimizer's side of training: the compiled core's view of a
``fastbp.optim`` optimizer, and the state it carries between updates.

Shared by ``MLP.fit`` (fastbp.mlp) and the one-sample steps (fastbp._stepping).
"""
from fastbp import _core
from fastbp._layout import aligned_zeros
from fastbp._vocabulary import OPTIMIZER_CODES


def compiled(optimizer):
    """The compiled core's view of a checked ``fastbp.optim`` optimizer, built
    once per fit; a schedule sets its ``lr`` epoch by epoch."""
    return _core.Optimizer(OPTIMIZER_CODES[optimizer.name], optimizer.lr,
                           optimizer.weight_decay, **optimizer.core_fields())


class OptimizerState:
    """What an optimizer carries from update to update, in a flat buffer
    beside params (one block of n_params values per buffer of
    ``Optimizer.state``, as many as ``_core.Optimizer.state_blocks``), with
    the number of updates made (Adam's t) and of epochs trained (the
    schedule's position)."""

    def __init__(self, key, values):
        self.key = key
        self.values = values
        self.n_updates = 0
        self.epochs = 0

    @classmethod
    def fresh(cls, optimizer, n_params, dtype):
        start = optimizer.initial_state()
        values = aligned_zeros(len(start) * n_params, dtype)
        for k, value in enumerate(start):
            values[k * n_params:(k + 1) * n_params] = value
        return cls(optimizer.state_key(), values)

    def save(self, scratch):
        """What ``restore`` takes back to: the values, copied into
        ``scratch`` (an array like them, reused from block to block: a fit
        saves before each, and a fresh copy of Adam's state on a large
        network cost a tenth of a sparse epoch), and the update count."""
        scratch[...] = self.values
        return scratch, self.n_updates

    def restore(self, saved):
        self.values[...], self.n_updates = saved
