"""MLP: a multi-layer perceptron trained by backpropagation in the compiled core.

This module holds policy and glue (validation, dtype, allocation, random
numbers, the epoch loop, divergence handling); the arithmetic is in csrc/,
reached through fastbp._core.
"""
import math
import threading

import numpy as np

from fastbp import _core
from fastbp import _training as training
from fastbp import _validation as check
from fastbp._core import STEP_BAD_INPUT, STEP_NOT_FAST, STEP_OK
from fastbp._layout import aligned_zeros, make_layout, views
from fastbp._random import epoch_orders, initial_weights, order_block
from fastbp.errors import DivergenceError
from fastbp.history import History

# Multiply-adds per compiled call in fit, roughly (a few ms of work): long
# enough that the per-call overhead (a copy and a finiteness check of params)
# vanishes, short enough that divergence and Ctrl-C are acted on quickly.
BLOCK_WORK = 1 << 25
# What a sample costs beyond its multiply-adds, in multiply-adds: the loop's
# own work, which dominates for tiny networks (2-2-2: ~40 ns a sample).
SAMPLE_OVERHEAD = 512
# Batches that run as BLAS matrix products (_core.ROWS_MIN samples or more)
# do the same multiply-adds several times faster than the per-sample loop,
# so their blocks hold this many times more work for the same few ms.
MATRIX_BLOCK_FACTOR = 2


class MLP:
    """A multi-layer perceptron trained by backpropagation.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_inputs, hidden..., n_outputs]``, at least two entries, each >= 1.
    activation : str or sequence of str, default "sigmoid"
        Activation of the hidden layers, or one name per weight layer:
        identity, sigmoid, tanh, relu, leaky_relu (slope 0.01 below zero),
        softmax (output layer only).
    output_activation : str, optional
        Activation of the output layer; None keeps ``activation``'s.
    loss : str, default "squared_error"
        Per sample, summed over outputs: squared_error E = sum 1/2 (t - o)^2;
        binary_cross_entropy (needs a sigmoid output, targets in [0, 1]);
        cross_entropy (needs a softmax output, one-hot or probability targets).
    bias : bool, default True
    dtype : float32 or float64, default float64
        Type of the parameters and of every computation.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for the initial weights: uniform
        in +-sqrt(6 / (n_in + n_out)) (Glorot) for identity, tanh and softmax
        layers, +-sqrt(2 / (n_in + n_out)) for sigmoid layers, +-sqrt(6 / n_in)
        (He) for relu and leaky_relu layers. Biases start at zero.

    Attributes
    ----------
    layer_sizes : tuple of int
    activations : tuple of str, one per weight layer
    loss_name : str
    dtype : numpy.dtype
    params : ndarray, shape (n_params,)
        Every parameter in one buffer: per layer, the weights row by row,
        then the biases.
    weights : list of ndarray, shapes (n_out, n_in)
        Views into ``params``: row j holds the weights into unit j.
    biases : list of ndarray, shapes (n_out,), or None without biases
        Views into ``params``.
    history : History or None
        Of the latest ``fit`` call, kept up to date while it runs.
    """

    def __init__(self, layer_sizes, activation="sigmoid", output_activation=None,
                 loss="squared_error", bias=True, dtype="float64", seed=None):
        sizes = check.check_layer_sizes(layer_sizes)
        activations = check.check_activations(activation, output_activation, len(sizes) - 1)
        loss = check.check_loss(loss, activations[-1])
        initial = initial_weights(sizes, activations, check.check_seed(seed))
        self._build(sizes, activations, loss, check.check_dtype(dtype),
                    check.check_bool(bias, "bias"))
        for W, W0 in zip(self.weights, initial):
            W[...] = W0

    @classmethod
    def from_weights(cls, weights, biases=None, activation="sigmoid",
                     output_activation=None, loss="squared_error", dtype=None):
        """A network with the given parameters.

        Parameters
        ----------
        weights : list of array-like, shapes (n_out, n_in)
            Row j of ``weights[l]`` holds the weights into unit j of layer l.
        biases : list of array-like, shapes (n_out,), optional
            None builds a network without biases.
        dtype : float32 or float64, optional
            None keeps all-float32 input float32 and makes anything else
            float64.
        activation, output_activation, loss
            As for ``MLP``.
        """
        W, b, dtype = check.check_weights(weights, biases, dtype)
        sizes = (W[0].shape[1],) + tuple(w.shape[0] for w in W)
        activations = check.check_activations(activation, output_activation, len(W))
        loss = check.check_loss(loss, activations[-1])
        net = cls.__new__(cls)
        net._build(sizes, activations, loss, dtype, b is not None)
        for dst, src in zip(net.weights, W):
            dst[...] = src
        for dst, src in zip(net.biases or (), b or ()):
            dst[...] = src
        return net

    def _build(self, sizes, activations, loss, dtype, bias):
        self.layer_sizes = sizes
        self.activations = activations
        self.loss_name = loss
        self.dtype = dtype
        self.bias = bias
        self._layout = make_layout(sizes, bias)
        self._params = aligned_zeros(self._layout.n_params, dtype)
        self.weights, self.biases = views(self._params, self._layout)
        self._top = _core.Topology(
            np.array(sizes, np.intp), np.array(self._layout.w_offsets, np.intp),
            np.array(self._layout.b_offsets, np.intp),
            np.array([_core.ACTIVATIONS[a] for a in activations], np.intc),
            _core.LOSSES[loss])
        self._workspace = aligned_zeros(self._top.workspace_size, dtype)
        self._snapshot = np.empty_like(self._params)
        self._no_grad = np.empty(0, dtype)
        self._state = None
        self._stepper = _core.Stepper(self._top, self._params, self._workspace)
        self._step_with = None
        self.history = None
        # One call at a time per model: fit, train_step and predict from two
        # threads are serialised rather than racing on params and workspace.
        self._lock = threading.RLock()

    @property
    def params(self):
        return self._params

    @property
    def n_inputs(self):
        return self.layer_sizes[0]

    @property
    def n_outputs(self):
        return self.layer_sizes[-1]

    def __repr__(self):
        return (f"MLP({list(self.layer_sizes)}, activations={list(self.activations)}, "
                f"loss={self.loss_name!r}, bias={self.bias}, dtype={self.dtype.name!r})")

    def __reduce__(self):
        # The optimizer state travels too, so that a warm_start after
        # unpickling (or in a joblib worker) goes on exactly as it would have.
        state = self._state
        saved = None if state is None else (state.key, state.values.copy(),
                                             state.n_updates, state.epochs)
        return (_rebuild, (self.layer_sizes, self.activations, self.loss_name,
                           self.dtype.name, self.bias, self._params.copy(), saved))

    def save(self, path):
        """Write the model to ``path``, to be read back by ``fastbp.load``.

        The file is a NumPy ``.npz`` archive holding ``params`` and JSON
        metadata (format in ``fastbp.persistence``), written under exactly
        the name given. It replaces any earlier file at ``path`` atomically:
        a failed save leaves that file as it was.
        """
        from fastbp import persistence    # it imports this module for MLP
        # A fit in another thread must not change params while they are written.
        with self._lock:
            persistence.save(self, path)

    def copy(self):
        """An independent model with the same parameters."""
        return _rebuild(self.layer_sizes, self.activations, self.loss_name,
                        self.dtype, self.bias, self._params)

    # -- inputs -------------------------------------------------------------

    def _samples(self, X, Y):
        X = check.as_matrix(X, "X", self.n_inputs, self.dtype, "features")
        return X, check.as_targets(Y, X.shape[0], self.n_outputs, self.dtype, self.loss_name)

    def _sample(self, x, t):
        x = check.as_vector(x, "x", self.n_inputs, self.dtype, "features")
        t = check.as_vector(t, "t", self.n_outputs, self.dtype, "outputs")
        check.check_target_range(t, self.loss_name)
        return x, t

    # -- evaluation ---------------------------------------------------------

    def predict(self, X, n_jobs=1):
        """Outputs of the network.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs), or (n_inputs,) for one sample
        n_jobs : int, default 1
            Threads of the BLAS matrix products that compute 8 or more
            samples at once (``_core.blas_threads``).

        Returns
        -------
        ndarray, shape (n_samples, n_outputs) or (n_outputs,), in the model's dtype
        """
        if n_jobs.__class__ is int and n_jobs > 0:
            # One sample of the model's dtype, in place: no checks in Python.
            # (acquire and release: `with` costs three times as much.)
            self._lock.acquire()
            try:
                out = self._stepper.predict(X)
            finally:
                self._lock.release()
            if out is not None:
                return out
        n_jobs = check.check_positive_int(n_jobs, "n_jobs")
        X = check.as_numeric(X, "X")
        if X.ndim == 1:
            x = check.as_vector(X, "X", self.n_inputs, self.dtype, "features")
            return self._outputs(x.reshape(1, -1), n_jobs)[0]
        return self._outputs(check.as_matrix(X, "X", self.n_inputs, self.dtype, "features"),
                             n_jobs)

    def _outputs(self, X, n_jobs):
        """predict for checked samples X."""
        out = np.empty((X.shape[0], self.n_outputs), self.dtype)
        with self._lock, _core.blas_threads(self._top, X.shape[0], n_jobs):
            _core.predict(self._top, self._params, X, out, self._workspace)
        return out

    def loss(self, X, Y):
        """Mean over samples of the per-sample loss (a float)."""
        X, Y = self._samples(X, Y)
        n = X.shape[0]
        with self._lock, _core.blas_threads(self._top, n, 1):
            total = _core.loss_sum(self._top, self._params, X, Y, self._workspace)
            if math.isfinite(total):
                return total / n
            # Finite losses whose sum overflows: average sample by sample.
            return sum(_core.loss_sum(self._top, self._params, X[i:i + 1], Y[i:i + 1],
                                      self._workspace) / n for i in range(n))

    def gradient(self, x, t):
        """Gradient of one sample's loss; the model is unchanged.

        Returns
        -------
        (grad_weights, grad_biases) : shaped like ``weights`` and ``biases``
            (grad_biases is None without biases).
        """
        x, t = self._sample(x, t)
        grad = np.zeros_like(self._params)
        with self._lock:
            _core.gradient(self._top, self._params, x, t, self._workspace, grad)
        return views(grad, self._layout)

    # -- training -----------------------------------------------------------

    def train_step(self, x, t, lr, update_biases=True, *, optimizer="sgd", **options):
        """One update on one sample, as ``fit(batch_size=1)`` makes it.

        Parameters
        ----------
        x : array-like, shape (n_inputs,)
        t : array-like, shape (n_outputs,), or a number for one output
        lr : float
            Learning rate.
        update_biases : bool, default True
        optimizer : {"sgd", "adam"}, default "sgd"
            As for ``fit``; plain "sgd" is params -= lr * dE/dparams. The
            state of "adam" and of "sgd" with momentum (Adam's step count
            too) is kept on the model between calls and shared with
            ``fit(warm_start=True)``: steps with the same optimizer go on
            from the previous step or fit, as one fit would. "rprop" is
            full-batch only, so refused.
        **options
            fit's options of the optimizer: momentum, nesterov, betas, eps,
            weight_decay.

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
        return self._step(x, t, lr, update_biases, False, optimizer, options)

    def learn_one(self, x, t, lr, update_biases=True, *, optimizer="sgd", **options):
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
        return self._step(x, t, lr, update_biases, True, optimizer, options)

    def _step(self, x, t, lr, update_biases, want_output, optimizer, options):
        """train_step or learn_one; the sample's checks run only when the
        compiled core does not take x and t as they are (or refuses them).
        Written for speed: the common call costs about a microsecond."""
        if lr.__class__ is not float or not _LR_LOW <= lr <= _LR_HIGH:
            lr = check.check_lr(lr, self.dtype)
        if update_biases.__class__ is not bool:
            update_biases = check.check_bool(update_biases, "update_biases")
        self._lock.acquire()
        try:
            rule, state, grad, undo = (
                (_PLAIN_SGD, None, None, self._snapshot) if optimizer == "sgd" and not options
                else self._step_optimizer(optimizer, options))
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

    def _step_optimizer(self, optimizer, options):
        """(rule, state, grad, undo) for a step with fit's optimizer name and
        options other than plain SGD's: the compiled optimizer; its state (the model's, when it
        matches, else a fresh one, kept by _step once a step succeeds) or
        None; the gradient buffer (None for plain SGD) and the scratch
        buffer of fbp_step. Checked as fit checks them, once for as long as
        the same option objects come in.

        Provisional, the one place that knows the option keywords: to take
        fastbp.optim objects instead."""
        cached = self._step_with
        if not (cached is not None and cached[0] is optimizer and len(options) == len(cached[1])
                and all(v is cached[1].get(k) for k, v in options.items())):
            self._step_with = cached = (optimizer, options, self._check_step_options(optimizer,
                                                                                    options))
        settings, rule, grad, undo = cached[2]
        if settings is None:
            return rule, None, None, self._snapshot
        state = self._state
        if state is None or state.key != settings.state_key():
            state = _OptimizerState.fresh(settings, self._params.size, self.dtype)
        return rule, state, grad, undo

    def _check_step_options(self, optimizer, options):
        """_step_optimizer's (settings, rule, grad, undo), from the checks fit
        makes of its optimizer options; settings None for plain SGD."""
        unknown = set(options) - {"momentum", "nesterov", "betas", "eps", "weight_decay"}
        if unknown:
            raise TypeError(f"unknown optimizer option {sorted(unknown)[0]!r}; the options are "
                            "momentum, nesterov, betas, eps, weight_decay")
        if optimizer == "rprop":
            raise ValueError("optimizer 'rprop' is full-batch only (iRprop- follows the sign "
                             "of the whole gradient): train with fit(batch_size=None)")
        # lr is given to each step; the one here only passes the check.
        settings = training.check_settings(self.dtype, 1, 1, lr=1.0, optimizer=optimizer,
                                           **options)
        rule = _optimizer(settings, settings.lr)
        if rule.fused:      # plain SGD after all: no state, no gradient buffer
            return None, rule, None, None
        n = self._params.size
        return (settings, rule, aligned_zeros(n, self.dtype),
                aligned_zeros((1 + rule.state_blocks) * n, self.dtype))

    def fit(self, X, Y, epochs=1, lr=0.1, batch_size=1, shuffle=True, seed=None,
            update_biases=True, *, optimizer="sgd", momentum=0.0, nesterov=False,
            betas=(0.9, 0.999), eps=1e-8, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0),
            weight_decay=0.0, schedule="constant", power_t=0.5, step_every=10,
            gamma=0.5, sample_weight=None, validation_data=None,
            validation_fraction=None, patience=None, tol=0.0, restore_best=False,
            target_loss=None, warm_start=False, progress=False, verbose=False, n_jobs=1):
        """Train by gradient descent on the samples.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
        Y : array-like, shape (n_samples, n_outputs), or (n_samples,) for one output
        epochs : int, default 1
            The most epochs to train (the stopping rules may end sooner).
        lr : float, default 0.1
            Learning rate; rprop's initial step size.
        batch_size : int or None, default 1
            1 is per-sample training (incremental backprop); k updates with
            the mean gradient of k consecutive samples (the last batch may be
            smaller); None, or more than n_samples, is full-batch descent.
        shuffle : bool, default True
            Draw a new sample order each epoch from
            ``numpy.random.default_rng(seed)``; False keeps the given order.
        seed : int, optional
        update_biases : bool, default True

        Other Parameters
        ----------------
        optimizer : {"sgd", "adam", "rprop"}, default "sgd"
            With g the batch's mean gradient plus ``weight_decay * params``:
            "sgd" is ``torch.optim.SGD`` (``momentum``, ``nesterov``; no
            dampening), "adam" is ``torch.optim.Adam`` (``betas``, ``eps``),
            "rprop" is iRprop- as ``torch.optim.Rprop`` (``etas`` = (eta_minus,
            eta_plus), ``step_sizes`` = (min, max), initial step ``lr``;
            full-batch only). The exact rules are in csrc/fbp_kernels.h.
        momentum, nesterov, betas, eps, etas, step_sizes, weight_decay
            As above; weight_decay applies to biases too, as in torch.optim.
        schedule : {"constant", "invscaling", "step"}, default "constant"
            Learning rate of epoch e (from 0): lr, lr / (e + 1)^power_t, or
            lr * gamma^(e // step_every).
        power_t : float, default 0.5
        step_every : int, default 10
        gamma : float in (0, 1], default 0.5
        sample_weight : array-like, shape (n_samples,), optional
            Each sample's gradient (and loss) is multiplied by its weight;
            a batch still averages over its number of samples.
        validation_data : (X_val, Y_val), optional
            Measured after each epoch into ``History.val_loss``.
        validation_fraction : float in (0, 1), optional
            Hold out this share of the samples (drawn with ``seed``) as
            validation data instead.
        patience : int, optional
            Early stopping: stop after this many epochs in a row without
            the monitored loss (validation loss if any, else training loss)
            falling more than ``tol`` below its best.
        tol : float, default 0.0
        restore_best : bool, default False
            At the end, go back to the parameters of the epoch with the best
            monitored loss (``History.best_epoch``).
        target_loss : float, optional
            Stop once an epoch's training loss is below this.
        warm_start : bool, default False
            Continue the optimizer state (momentum, Adam moments and step
            count, Rprop step sizes) and the schedule's epoch count of the
            previous ``fit`` with the same optimizer, so that training in
            several calls equals training in one.
        progress : bool, default False
            Show a progress bar (tqdm when installed).
        verbose : bool, default False
            Print one line per epoch.
        n_jobs : int, default 1
            Threads of the BLAS matrix products that batches of 8 or more
            samples run as (``_core.blas_threads``); per-sample training
            runs on one thread.

        Returns
        -------
        History

        Raises
        ------
        DivergenceError
            If a loss or a parameter becomes NaN or infinite. The model keeps
            the parameters (and optimizer state) it had before the block of
            samples that diverged.

        Notes
        -----
        The returned History is also ``self.history``, filled epoch by epoch:
        after a DivergenceError or a KeyboardInterrupt it holds the epochs
        that completed, and the parameters are those of the last completed
        block of samples (a few milliseconds of work).
        """
        data = training.prepare_data(self._samples, self.dtype, X, Y, sample_weight,
                                     validation_data, validation_fraction, seed)
        n_samples = data.X.shape[0]
        epochs = check.check_positive_int(epochs, "epochs")
        batch = check.check_batch_size(batch_size, n_samples)
        settings = training.check_settings(
            self.dtype, batch, n_samples, lr=lr, optimizer=optimizer, momentum=momentum,
            nesterov=nesterov, betas=betas, eps=eps, etas=etas, step_sizes=step_sizes,
            weight_decay=weight_decay, schedule=schedule, power_t=power_t,
            step_every=step_every, gamma=gamma, patience=patience, tol=tol,
            restore_best=restore_best, target_loss=target_loss, warm_start=warm_start,
            progress=progress, verbose=verbose)
        shuffle = check.check_bool(shuffle, "shuffle")
        update_biases = check.check_bool(update_biases, "update_biases")
        n_jobs = check.check_positive_int(n_jobs, "n_jobs")
        orders = epoch_orders(n_samples, epochs, shuffle, check.check_seed(seed))
        state = self._optimizer_state(settings)
        grad = (self._no_grad if batch == 1 and _optimizer(settings, settings.lr).fused
                else aligned_zeros(self._params.size, self.dtype))
        weight = self._no_grad if data.weight is None else data.weight
        block = self._block_samples(batch)

        def run_epoch(epoch, lr):
            optimizer = _optimizer(settings, lr)
            order, mean = next(orders), 0.0
            for start in range(0, n_samples, block):
                mean += self._run_block(data.X, data.Y, weight,
                                        order_block(order, start, start + block),
                                        batch, start % batch,
                                        start + block >= n_samples, optimizer,
                                        1.0 / n_samples, update_biases, grad, state,
                                        f"epoch {epoch}")
            state.epochs += 1
            return mean

        # Kept on the model as it grows, so that after an interrupt (Ctrl-C
        # lands between two compiled blocks, a few ms apart) or a divergence
        # the epochs completed so far are still at hand.
        self.history = history = History()
        with self._lock, _core.blas_threads(self._top, batch, n_jobs):
            return training.run_epochs(
                history, settings, epochs, state.epochs, n_samples, run_epoch,
                None if data.X_val is None else lambda: self.loss(data.X_val, data.Y_val),
                self._params.copy, self._set_params)

    def _block_samples(self, batch):
        """Samples per compiled call of fit: about BLOCK_WORK multiply-adds
        (MATRIX_BLOCK_FACTOR times more on the matrix path), counting
        SAMPLE_OVERHEAD per sample; whole batches when they fit, else a
        batch spans blocks (its sums carried over in grad)."""
        work = BLOCK_WORK * (MATRIX_BLOCK_FACTOR if self._top.takes_matrix_path(batch) else 1)
        block = max(1, work // (self._params.size + SAMPLE_OVERHEAD))
        return batch * (block // batch) if batch <= block else block

    def _optimizer_state(self, settings):
        """The optimizer state to train with: the previous fit's if
        warm_start asks for it and it matches, else a fresh one."""
        previous = self._state
        if settings.warm_start and previous is not None and previous.key == settings.state_key():
            return previous
        self._state = _OptimizerState.fresh(settings, self._params.size, self.dtype)
        return self._state

    def _set_params(self, values):
        self._params[...] = values

    def _run_block(self, X, Y, weight, order, batch, batch_done, finish, optimizer,
                   loss_scale, update_biases, grad, state, where):
        """One compiled call (``finish``: the last of an epoch); returns its
        loss sum times loss_scale. On divergence, restores params and the
        optimizer state, and raises. A lone sample is checked weight by
        weight in C; longer blocks once at the end, where a pass over params
        is cheap."""
        np.copyto(self._snapshot, self._params)
        saved = state.save()
        single = order.shape[0] == 1
        total, done, n_updates = _core.fit(
            self._top, optimizer, self._params, X, Y, weight, order, batch, batch_done,
            finish, loss_scale, update_biases, single, self._workspace, grad,
            state.values, state.n_updates)
        if done < order.shape[0] or not (single or check.all_finite(self._params)):
            state.restore(saved)
            self._restore(grad, where, optimizer.lr)
        state.n_updates = n_updates
        return total

    def _restore(self, grad, where, lr):
        """Back to the parameters from before the last block, and raise."""
        np.copyto(self._params, self._snapshot)
        grad[...] = 0
        raise DivergenceError(
            f"training diverged in {where}: a loss or a parameter became NaN or "
            f"infinite with lr={lr}; try a smaller learning rate. The model keeps "
            "the parameters it had before that block of samples.")


# train_step's and learn_one's default: plain SGD, at each call's lr.
_PLAIN_SGD = _core.Optimizer("sgd", 1.0)
# Learning rates that need no further check (check_lr).
_LR_LOW, _LR_HIGH = check.SAFE_LR


def _optimizer(settings, lr):
    """The compiled core's view of the settings' optimizer, at rate lr."""
    return _core.Optimizer(settings.optimizer, lr, settings.weight_decay, settings.momentum,
                           settings.nesterov, *settings.betas, settings.eps, *settings.etas,
                           *settings.step_sizes)


class _OptimizerState:
    """What an optimizer carries from update to update, in a flat buffer
    beside params (``_core.Optimizer.state_blocks`` blocks of n_params
    values), with the number of updates made (Adam's t) and of epochs
    trained (the schedule's position)."""

    def __init__(self, key, values):
        self.key = key
        self.values = values
        self.n_updates = 0
        self.epochs = 0

    @classmethod
    def fresh(cls, settings, n_params, dtype):
        blocks = _optimizer(settings, settings.lr).state_blocks
        values = aligned_zeros(blocks * n_params, dtype)
        if settings.optimizer == "rprop":
            values[n_params:] = settings.lr      # the initial step sizes
        return cls(settings.state_key(), values)

    def save(self):
        return self.values.copy(), self.n_updates

    def restore(self, saved):
        self.values[...], self.n_updates = saved


def _rebuild(sizes, activations, loss, dtype, bias, params, state=None):
    net = MLP.__new__(MLP)
    net._build(tuple(sizes), tuple(activations), loss, np.dtype(dtype), bias)
    net._params[...] = params
    if state is not None:
        key, values, n_updates, epochs = state
        net._state = _OptimizerState(tuple(key), np.array(values, net.dtype))
        net._state.n_updates, net._state.epochs = n_updates, epochs
    return net
