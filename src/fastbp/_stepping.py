"""train_step and learn_one beyond their common call: one update on one
sample, of a stream, with any optimizer and any input; and the calls on a
sample given by its few nonzero inputs (``_entry_calls``).

``MLP`` (fastbp.mlp) inherits ``OneSampleSteps``, whose compiled base,
``_core.OneSampleCalls``, holds ``train_step`` and ``learn_one`` themselves:
it takes their common call (plain SGD on an array of the model's dtype: about
half a microsecond on a small network) and hands every other to ``_step``.
"""
from fastbp import _core
from fastbp import _validation as check
from fastbp import optim
from fastbp._core import STEP_BAD_INPUT, STEP_NOT_FAST, STEP_OK
from fastbp._layout import aligned_zeros
from fastbp._optimizer_state import OptimizerState, compiled
from fastbp._vocabulary import OPTIMIZER_CODES
from fastbp.errors import DivergenceError

# train_step's and learn_one's default: plain SGD, at each call's lr (the
# default optimizer's own when lr is None).
_PLAIN_SGD = _core.Optimizer(OPTIMIZER_CODES["sgd"], 1.0)
_SGD_LR = optim.SGD().lr
# Learning rates that need no further check (check_lr).
_LR_LOW, _LR_HIGH = check.SAFE_LR


class OneSampleSteps(_core.OneSampleCalls):
    """MLP's one-sample updates. They use the model's ``_stepper``,
    ``_lock``, ``_snapshot``, ``_params``, ``dtype``, ``_sample`` and the
    optimizer state ``_state`` (shared with ``fit(warm_start=True)``), all
    set by ``MLP._build``, and cache a checked optimizer in ``_step_with``."""

    def _step(self, x, t, lr, update_biases, want_output, optimizer):
        """train_step or learn_one; the sample's checks run only when the
        compiled core does not take x and t as they are (or refuses them).
        Written for speed: it is the hot path of a stream stepped with
        another optimizer than plain SGD."""
        if lr.__class__ is not float or not _LR_LOW <= lr <= _LR_HIGH:
            lr = None if lr is None else check.check_lr(lr, self.dtype)
        if update_biases.__class__ is not bool:
            update_biases = check.check_bool(update_biases, "update_biases")
        self._lock.acquire()
        try:
            rule, state, grad, undo, own_lr = (
                (_PLAIN_SGD, None, None, self._snapshot, _SGD_LR)
                if optimizer.__class__ is str and optimizer == "sgd"
                else self._step_optimizer(optimizer))
            if lr is None:
                lr = own_lr
            values, n_updates = (None, 0) if state is None else (state.values, state.n_updates)
            stepper = self._stepper
            status = stepper.step(x, t, rule, lr, update_biases, grad, values, undo,
                                  n_updates, want_output)
            if status == STEP_NOT_FAST or status == STEP_BAD_INPUT:
                # Raises the error that x or t deserve, or converts them.
                x, t = self._sample(x, t)
                status = stepper.step(x, t, rule, lr, update_biases, grad, values, undo,
                                      n_updates, want_output)
            if status != STEP_OK:
                raise _diverged(lr)
            if state is not None:
                state.n_updates = stepper.n_updates
                self._state = state
            return stepper.output if want_output else stepper.loss
        finally:
            self._lock.release()

    def _step_optimizer(self, optimizer):
        """(rule, state, grad, undo, lr) for a step with ``optimizer`` (a name or
        a ``fastbp.optim`` object, checked once for as long as the same one
        comes in): the compiled rule; its state (the model's, when it
        matches, else a fresh one, kept by _step once a step succeeds), or
        None for plain SGD; the gradient buffer (None for plain SGD),
        fbp_step's scratch buffer, and the optimizer's own learning rate."""
        cached = self._step_with
        if cached is None or cached[0] is not optimizer:
            self._step_with = cached = (optimizer, self._step_buffers(optimizer))
        checked, rule, grad, undo = cached[1]
        if grad is None:
            return rule, None, None, undo, checked.lr
        state = self._state
        if state is None or state.key != checked.state_key():
            state = OptimizerState.fresh(checked, self._params.size, self.dtype)
        return rule, state, grad, undo, checked.lr

    def _step_buffers(self, optimizer):
        """_step_optimizer's (checked optimizer, rule, grad, undo); grad
        None for plain SGD, whose update needs no state."""
        checked = optim.as_optimizer(optimizer, None, self.dtype)
        if checked.name == "rprop":
            raise ValueError("optimizer 'rprop' is full-batch only (iRprop- follows the sign "
                             "of the whole gradient): train with fit(batch_size=None)")
        rule = compiled(checked)
        if rule.plain_sgd:
            return checked, rule, None, self._snapshot
        n = self._params.size
        return (checked, rule, aligned_zeros(n, self.dtype),
                aligned_zeros((1 + rule.state_blocks) * n, self.dtype))

    def _entry_calls(self):
        """The model's ``_core.EntryCalls``: predict and plain-SGD steps of a
        sample given as a dict of its nonzero inputs (key to value, with a
        dict of key to input index), at the cost of its entries rather than
        of the width. fastbp.river's calls on a text's few words among
        thousands of inputs."""
        calls = self._entries
        if calls is None:
            self._entries = calls = _core.EntryCalls(self._top, self._params, self._workspace,
                                                     self._lock)
        return calls

    def _entry_sgd(self, x, position, t, lr):
        """``_entry_calls().sgd``, a diverging step (undone) raising
        DivergenceError as train_step's does."""
        if not self._entry_calls().sgd(x, position, t, lr):
            raise _diverged(lr)


def _diverged(lr):
    """The error of a one-sample step that diverged and was undone."""
    return DivergenceError(
        f"training diverged in the step: a loss or a parameter would become NaN or infinite "
        f"with lr={lr}; try a smaller learning rate. The model keeps the parameters and "
        "optimizer state it had before the step.")
