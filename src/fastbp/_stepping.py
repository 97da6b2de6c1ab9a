"""train_step and learn_one: one update on one sample, of a stream.

``OneSampleSteps`` holds them for ``MLP`` (fastbp.mlp), which inherits them;
they are the hot path of online learning, written for speed: the common call
goes straight to the compiled ``_core.Stepper`` (about a microsecond).
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
# default optimizer's own when lr is None). _SGD is the default's name, which
# the compiled fast path (Stepper.sgd) recognises by identity.
_SGD = "sgd"
_PLAIN_SGD = _core.Optimizer(OPTIMIZER_CODES["sgd"], 1.0)
_SGD_LR = optim.SGD().lr
# Learning rates that need no further check (check_lr).
_LR_LOW, _LR_HIGH = check.SAFE_LR


class OneSampleSteps:
    """MLP's one-sample updates. They use the model's ``_stepper``,
    ``_lock``, ``_snapshot``, ``_params``, ``dtype``, ``_sample`` and the
    optimizer state ``_state`` (shared with ``fit(warm_start=True)``), all
    set by ``MLP._build``, and cache a checked optimizer in ``_step_with``."""

    def train_step(self, x, t, lr=None, update_biases=True, *, optimizer="sgd"):
        """One update on one sample, as ``fit(batch_size=1)`` makes it.

        Parameters
        ----------
        x : array-like, shape (n_inputs,)
        t : array-like, shape (n_outputs,), or a number for one output
        lr : float, optional
            Learning rate; None takes the optimizer's own.
        update_biases : bool, default True
        optimizer : str or fastbp.optim.Optimizer, default "sgd"
            As for ``fit``; plain "sgd" is params -= lr * dE/dparams. The
            state of Adam and of SGD with momentum (Adam's step count too)
            is kept on the model between calls and shared with
            ``fit(warm_start=True)``: steps with the same optimizer go on
            from the previous step or fit, as one fit would. Rprop is
            full-batch only, so refused. Pass the same object on each call:
            it is checked once.

        Returns
        -------
        float
            The sample's loss before the update.

        Raises
        ------
        DivergenceError
            If the loss or an updated parameter would be NaN or infinite;
            the model (parameters and optimizer state) is then unchanged.
        """
        if optimizer is _SGD and update_biases is True:
            loss = self._stepper.sgd(x, t, lr, False)     # a stream's common call
            if loss is not None:
                return loss
        return self._step(x, t, lr, update_biases, False, optimizer)

    def learn_one(self, x, t, lr=None, update_biases=True, *, optimizer="sgd"):
        """Predict, then learn, one sample (test-then-train) in one call.

        Parameters are those of ``train_step``.

        Returns
        -------
        ndarray, shape (n_outputs,), in the model's dtype
            The network's outputs for x before the update: what
            ``predict(x)`` returned just before the call.

        Raises
        ------
        DivergenceError
            As for ``train_step``.

        Examples
        --------
        Prequential (test-then-train) evaluation of a stream:

        >>> net = MLP([2, 4, 1], seed=0)
        >>> for x, t in [([0.0, 1.0], 1.0), ([1.0, 1.0], 0.0)]:
        ...     y = net.learn_one(x, t, lr=0.5)
        """
        if optimizer is _SGD and update_biases is True:
            out = self._stepper.sgd(x, t, lr, True)       # a stream's common call
            if out is not None:
                return out
        return self._step(x, t, lr, update_biases, True, optimizer)

    def _step(self, x, t, lr, update_biases, want_output, optimizer):
        """train_step or learn_one; the sample's checks run only when the
        compiled core does not take x and t as they are (or refuses them).
        Written for speed: the common call costs about a microsecond."""
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
                raise DivergenceError(
                    f"training diverged in the step: a loss or a parameter would become "
                    f"NaN or infinite with lr={lr}; try a smaller learning rate. The model "
                    "keeps the parameters and optimizer state it had before the step.")
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
