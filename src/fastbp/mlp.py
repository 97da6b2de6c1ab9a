"""MLP: a multi-layer perceptron trained by backpropagation in the compiled core.

This module holds policy and glue (validation, dtype, allocation, random
numbers, the epoch loop, divergence handling); the arithmetic is in csrc/,
reached through fastbp._core. The one-sample updates (train_step,
learn_one) are in fastbp._stepping, the optimizer state in
fastbp._optimizer_state.
"""
import math
import threading

import numpy as np

from fastbp import _core
from fastbp import _lbfgs
from fastbp import _training as training
from fastbp import _validation as check
from fastbp import optim
from fastbp._interrupts import DeferredInterrupt
from fastbp._layout import aligned_zeros, make_layout, views
from fastbp._optimizer_state import OptimizerState, compiled as _compiled
from fastbp._random import check_init, epoch_orders, initial_parameters, order_block
from fastbp._sparse import SparseRows, is_sparse
from fastbp._stepping import OneSampleSteps
from fastbp._vocabulary import ACTIVATION_CODES, FIT, LOSS_CODES
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




class MLP(OneSampleSteps):
    """A multi-layer perceptron trained by backpropagation.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_inputs, hidden..., n_outputs]``, at least two entries, each >= 1.
    activation : str or sequence of str, default "sigmoid"
        Activation of the hidden layers, or one name per weight layer:
        identity, sigmoid, tanh, relu, leaky_relu (slope 0.01 below zero),
        softmax (output layer only), exp.
    output_activation : str, optional
        Activation of the output layer; None keeps ``activation``'s.
    loss : str, default "squared_error"
        Per sample, summed over outputs: squared_error E = sum 1/2 (t - o)^2;
        binary_cross_entropy (needs a sigmoid output, targets in [0, 1]);
        cross_entropy (needs a softmax output, one-hot or probability targets);
        poisson, half the Poisson deviance sum o - t log o + t log t - t
        (needs an exp output, targets >= 0; scikit-learn's log link).
    bias : bool, default True
    dtype : float32 or float64, default float64
        Type of the parameters and of every computation.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for the initial parameters.
    init : str or callable, default "auto"
        How the initial parameters are drawn, layer by layer (weights U(-a, a)
        with n_in and n_out the layer's fan-in and fan-out):

        - "auto": a = sqrt(6 / (n_in + n_out)) (Glorot) for identity, tanh
          and softmax layers, sqrt(2 / (n_in + n_out)) for sigmoid layers,
          sqrt(6 / n_in) (He) for relu and leaky_relu layers; biases 0.
        - "glorot_uniform": a = sqrt(6 / (n_in + n_out)); biases 0.
        - "he_uniform": a = sqrt(6 / n_in); biases 0.
        - "sklearn": scikit-learn's MLP, a = sqrt(6 / (n_in + n_out)) for
          every layer, sqrt(2 / (n_in + n_out)) when the first layer is
          sigmoid; biases U(-a, a) too.
        - ``init(rng, n_in, n_out)``: returns the layer's (weights, biases),
          shapes (n_out, n_in) and (n_out,), drawn from ``rng``, the
          ``numpy.random.Generator`` seeded with ``seed``.

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
                 loss="squared_error", bias=True, dtype="float64", seed=None, init="auto"):
        sizes = check.check_layer_sizes(layer_sizes)
        activations = check.check_activations(activation, output_activation, len(sizes) - 1)
        loss = check.check_loss(loss, activations[-1])
        dtype, bias = check.check_dtype(dtype), check.check_bool(bias, "bias")
        check.check_memory(sizes, bias, dtype)
        weights, biases = initial_parameters(sizes, activations, check.check_seed(seed),
                                             check_init(init))
        self._build(sizes, activations, loss, dtype, bias)
        for dst, src in zip(self.weights + (self.biases or []), weights + biases):
            dst[...] = src

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
            np.array([ACTIVATION_CODES[a] for a in activations], np.intc),
            LOSS_CODES[loss])
        self._workspace = aligned_zeros(self._top.workspace_size, dtype)
        self._snapshot = np.empty_like(self._params)
        self._no_grad = np.empty(0, dtype)
        self._state = None
        self.history = None
        # One call at a time per model: fit, train_step and predict from two
        # threads are serialised rather than racing on params and workspace.
        self._lock = threading.RLock()
        self._stepper = _core.Stepper(self._top, self._params, self._workspace,
                                      self._snapshot, self._lock, *check.SAFE_LR)
        self._step_with = None
        self._entries = None

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
        # unpickling (or in a joblib worker) goes on exactly as it would have;
        # under the lock, so that a fit in another thread is not caught mid-block.
        with self._lock:
            state = self._state
            saved = None if state is None else (state.key, state.values.copy(),
                                                 state.n_updates, state.epochs)
            return (_rebuild, (self.layer_sizes, self.activations, self.loss_name,
                               self.dtype.name, self.bias, self._params.copy(), saved))

    def _widened(self, n_inputs):
        """A copy with ``n_inputs`` (>= n_inputs) inputs, the new inputs'
        weights 0 and the optimizer state carried, 0 at the new weights
        (where every rule that steps one sample starts; rprop, which starts
        at lr, is full-batch only). While a new input is 0 its weights get
        no gradient, so outputs and updates are those of this network:
        fastbp.river grows the input layer this way as features appear."""
        with self._lock:
            state = self._state
            wider = MLP.__new__(MLP)
            wider._build((n_inputs,) + self.layer_sizes[1:], self.activations,
                         self.loss_name, self.dtype, self.bias)
            _copy_widened(wider._params, wider._layout, self._params, self._layout)
            if state is not None:
                n_old, n_new = self._params.size, wider._params.size
                blocks = state.values.size // n_old
                values = aligned_zeros(blocks * n_new, self.dtype)
                for k in range(blocks):
                    _copy_widened(values[k * n_new:(k + 1) * n_new], wider._layout,
                                  state.values[k * n_old:(k + 1) * n_old], self._layout)
                wider._state = OptimizerState(state.key, values)
                wider._state.n_updates, wider._state.epochs = state.n_updates, state.epochs
            return wider

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
        """An independent model with the same parameters and optimizer state
        (a ``warm_start`` fit of the copy goes on as the original's would),
        as pickling makes it."""
        rebuild, args = self.__reduce__()
        return rebuild(*args)

    # -- inputs -------------------------------------------------------------

    def _samples(self, X, Y):
        X = check.as_matrix(X, "X", self.n_inputs, self.dtype, "features")
        return X, check.as_targets(Y, X.shape[0], self.n_outputs, self.dtype, self.loss_name)

    def _sample(self, x, t):
        x = check.as_vector(x, "x", self.n_inputs, self.dtype, "features")
        t = check.as_vector(t, "t", self.n_outputs, self.dtype, "outputs")
        check.check_target_range(t, self.loss_name)
        return x, t

    # -- evaluation (one sample's predict: _core.OneSampleCalls) ---------------

    def _predict_checked(self, X, n_jobs):
        """predict (OneSampleCalls.predict) for anything but its common call."""
        n_jobs = check.check_positive_int(n_jobs, "n_jobs")
        if is_sparse(X):
            return self._outputs(check.as_matrix(X, "X", self.n_inputs, self.dtype, "features"),
                                 n_jobs)
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
            if isinstance(X, SparseRows):
                _core.predict_csr(self._top, self._params, *X.arrays(), out, self._workspace)
            else:
                _core.predict(self._top, self._params, X, out, self._workspace)
        return out

    def loss(self, X, Y):
        """Mean over samples of the per-sample loss (a float); X may be a
        SciPy sparse matrix."""
        X, Y = self._samples(X, Y)
        n = X.shape[0]
        with self._lock, _core.blas_threads(self._top, n, 1):
            total = self._loss_sum(X, Y)
            if math.isfinite(total):
                return total / n
            # Finite losses whose sum overflows: average sample by sample.
            return sum(self._loss_sum(X[i:i + 1], Y[i:i + 1]) / n for i in range(n))

    def _loss_sum(self, X, Y):
        if isinstance(X, SparseRows):
            return _core.loss_sum_csr(self._top, self._params, *X.arrays(), Y, self._workspace)
        return _core.loss_sum(self._top, self._params, X, Y, self._workspace)

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

    # -- training (predict, train_step and learn_one: _core.OneSampleCalls) ----

    def fit(self, X, Y, epochs=FIT.epochs, lr=FIT.lr, batch_size=FIT.batch_size,
            shuffle=FIT.shuffle, seed=FIT.seed, update_biases=FIT.update_biases, *,
            optimizer=FIT.optimizer, schedule=FIT.schedule, sample_weight=FIT.sample_weight,
            validation_data=FIT.validation_data, validation_fraction=FIT.validation_fraction,
            patience=FIT.patience, tol=FIT.tol, restore_best=FIT.restore_best,
            target_loss=FIT.target_loss, warm_start=FIT.warm_start, progress=FIT.progress,
            verbose=FIT.verbose, callback=FIT.callback, n_jobs=FIT.n_jobs):
        """Train by gradient descent on the samples.

        Parameters
        ----------
        X : array-like or SciPy sparse matrix, shape (n_samples, n_inputs)
            A sparse X (any format; CSR is used as it is) is never made
            dense: the first layer's products and its weights' update run
            over the stored entries alone. Plain SGD (no momentum, no weight
            decay) then changes only the first-layer weights of stored
            columns; other optimizers step every parameter at each update,
            as for dense input (their state and weight decay reach every
            weight), from a gradient that is zero at the columns the
            batch does not store.
        Y : array-like, shape (n_samples, n_outputs), or (n_samples,) for one output
        epochs : int, default 1
            The most epochs to train (the stopping rules may end sooner).
        lr : float, optional
            Learning rate (Rprop's initial step size); it replaces the
            optimizer's own, which None keeps (``repr(fastbp.optim.Adam())``
            shows a default).
        batch_size : int or None, default 1
            1 is per-sample training (incremental backprop); k updates with
            the mean gradient of k consecutive samples (the last batch may be
            smaller); None, or more than n_samples, is full-batch descent.
        shuffle : bool, default True
            Draw a new sample order each epoch from
            ``numpy.random.default_rng(seed)``; False keeps the given order.
        seed : int or numpy.random.Generator, optional
            A Generator is drawn from where it stands, so that fits given
            the same one draw the orders of one long fit.
        update_biases : bool, default True

        Other Parameters
        ----------------
        optimizer : str or fastbp.optim.Optimizer, default "sgd"
            ``fastbp.optim.SGD(lr, momentum, nesterov, weight_decay)``,
            ``Adam(lr, betas, eps, weight_decay)`` or ``Rprop(lr, etas,
            step_sizes, weight_decay)`` (full-batch only), or the name of
            one ("sgd", "adam", "rprop") for its defaults. The rules are
            torch.optim's; csrc/fbp_kernels.h writes them out.
            ``LBFGS(max_iter, tol, max_fun, m, weight_decay)`` ("lbfgs") is
            SciPy's L-BFGS-B on the full-batch loss, an epoch per iteration
            (full-batch only, epochs=1, no lr or schedule: its Notes).
        schedule : str, fastbp.optim.Schedule or callable, default "constant"
            The learning rate of epoch e (from 0): ``optim.Constant()`` lr,
            ``optim.InvScaling(power_t)`` lr / (e + 1)^power_t,
            ``optim.Step(every, gamma)`` lr * gamma^(e // every), or a name
            of one ("constant", "invscaling", "step"); a callable ``f(e)``
            returns the rate itself.
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
            previous ``fit`` with the same kind of optimizer
            (``Optimizer.state_key``), so that training in several calls
            equals training in one.
        progress : bool, default False
            Show a progress bar (tqdm when installed).
        verbose : bool, default False
            Print one line per epoch.
        callback : callable, optional
            ``callback(history)`` after each epoch (History up to date, the
            model holding the epoch's parameters); returning True stops
            training (``History.stop_reason`` "callback").
        n_jobs : int, default 1
            Threads of the BLAS matrix products that batches of 8 or more
            samples run as (``_core.blas_threads``); per-sample training
            runs on one thread.

        Returns
        -------
        History

        Raises
        ------
        ValueError, TypeError
            Before any state changes: bad data or options, a read-only
            ``params``, or a built-in schedule whose rate is no longer a
            positive finite number by the last epoch.
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
        data = check.fit_data(self._samples, self.dtype, X, Y, sample_weight,
                              validation_data, validation_fraction, seed)
        n_samples = data.X.shape[0]
        epochs = check.check_positive_int(epochs, "epochs")
        batch = check.check_batch_size(batch_size, n_samples)
        settings = check.check_settings(
            batch, n_samples,
            optimizer=optim.as_optimizer(optimizer, lr, self.dtype, full_batch=True),
            schedule=optim.as_schedule(schedule), patience=patience, tol=tol,
            restore_best=restore_best, target_loss=target_loss, warm_start=warm_start,
            progress=progress, verbose=verbose, callback=callback)
        shuffle = check.check_bool(shuffle, "shuffle")
        update_biases = check.check_bool(update_biases, "update_biases")
        n_jobs = check.check_positive_int(n_jobs, "n_jobs")
        if isinstance(settings.optimizer, optim.LBFGS):
            return _lbfgs.fit_network(self, data, settings, epochs, update_biases, n_jobs)
        orders = epoch_orders(n_samples, epochs, shuffle, check.check_seed(seed))
        compiled = _compiled(settings.optimizer)
        options = _core.FitOptions(compiled, batch, 1.0 / n_samples, update_biases)
        grad = (aligned_zeros(self._params.size, self.dtype) if options.needs_grad
                else self._no_grad)
        weight = self._no_grad if data.weight is None else data.weight
        block = self._block_samples(batch, data.X)

        def run_epoch(epoch, lr):
            compiled.lr = lr
            order, mean = next(orders), 0.0
            for start in range(0, n_samples, block):
                options.batch_done = start % batch
                options.finish = start + block >= n_samples
                # Ctrl-C waits for the block's check (and rollback) and for the
                # counts of updates and epochs to match the parameters.
                with DeferredInterrupt():
                    mean += self._run_block(data.X, data.Y, weight,
                                            order_block(order, start, start + block),
                                            options, grad, state, saved_state,
                                            f"epoch {epoch}")
                    if options.finish:
                        state.epochs += 1
            return mean

        # The last checks need the model's state: under the lock, so that a
        # fit waiting for another thread's changes nothing before it is its turn.
        with self._lock:
            self._check_trainable()
            state = self._optimizer_state(settings.optimizer, settings.warm_start)
            _check_last_rate(settings, state.epochs + epochs - 1, self.dtype)
            self._state = state
            saved_state = np.empty_like(state.values)     # _run_block's, for a rollback
            # Kept on the model as it grows, so that after an interrupt (Ctrl-C
            # waits for the end of a compiled block, a few ms) or a divergence
            # the epochs completed so far are still at hand.
            self.history = history = History()
            # Also the per-sample path: the finiteness check of each block is a
            # BLAS dot, which should not spread over threads another fit uses.
            with _core.limit_blas(n_jobs if self._top.takes_matrix_path(batch) else 1):
                return training.run_epochs(
                    history, settings, epochs, state.epochs, n_samples, run_epoch,
                    None if data.X_val is None else lambda: self.loss(data.X_val, data.Y_val),
                    self._params.copy, self._set_params)

    def _check_trainable(self):
        if not self._params.flags.writeable:
            raise ValueError("params is read-only (its writeable flag was cleared): "
                             "fit cannot train it")

    def _block_samples(self, batch, X=None):
        """Samples per compiled call of fit on X: about BLOCK_WORK
        multiply-adds (MATRIX_BLOCK_FACTOR times more on the matrix path),
        counting SAMPLE_OVERHEAD per sample; whole batches when they fit,
        else a batch spans blocks (its sums carried over in grad)."""
        work = BLOCK_WORK * (MATRIX_BLOCK_FACTOR if self._top.takes_matrix_path(batch) else 1)
        block = max(1, work // (self._sample_work(X) + SAMPLE_OVERHEAD))
        return batch * (block // batch) if batch <= block else block

    def _sample_work(self, X):
        """Multiply-adds of one sample: every weight's, but for a sparse X
        only the first layer's at the stored entries (on average); every
        weight's for X None."""
        if not isinstance(X, SparseRows):
            return self._params.size
        n_in, n_out = self.layer_sizes[:2]
        return self._params.size - n_in * n_out + n_out * -(-X.nnz // X.shape[0])

    def _optimizer_state(self, optimizer, warm_start):
        """The optimizer state to train with: the previous fit's if
        warm_start asks for it and it matches, else a fresh one (which the
        caller keeps in ``_state``)."""
        previous = self._state
        if warm_start and previous is not None and previous.key == optimizer.state_key():
            return previous
        return OptimizerState.fresh(optimizer, self._params.size, self.dtype)

    def _set_params(self, values):
        self._params[...] = values

    def _run_block(self, X, Y, weight, order, options, grad, state, saved_state, where):
        """One compiled call with ``options`` (a ``_core.FitOptions``); returns
        its loss sum times the options' loss_scale. On divergence, restores params and the
        optimizer state (saved in ``saved_state`` before the call: an array like
        its values), and raises. A lone sample is checked weight by
        weight in C; longer blocks once at the end, where a pass over params
        is cheap."""
        np.copyto(self._snapshot, self._params)
        saved = state.save(saved_state)
        single = order.shape[0] == 1
        options.check_params = single
        if isinstance(X, SparseRows):
            total, done, n_updates = _core.fit_csr(
                self._top, options, self._params, *X.arrays(), Y, weight, order,
                self._workspace, grad, state.values, state.n_updates)
        else:
            total, done, n_updates = _core.fit(
                self._top, options, self._params, X, Y, weight, order, self._workspace,
                grad, state.values, state.n_updates)
        if done < order.shape[0] or not (single or check.all_finite(self._params)):
            state.restore(saved)
            self._restore(grad, where, options.optimizer.lr)
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

    def _repr_html_(self):
        """A notebook's summary: layers, activations, loss, parameters, dtype
        and the kernel path that runs them."""
        from fastbp._config import kernel_path
        n_biases = sum(self.layer_sizes[1:]) if self.bias else 0
        rows = {"layers": " &rarr; ".join(map(str, self.layer_sizes)),
                "activations": ", ".join(self.activations), "loss": self.loss_name,
                "parameters": f"{self.params.size:,} ({self.params.size - n_biases:,} weights, "
                              f"{n_biases:,} biases)",
                "dtype": self.dtype.name, "kernel path": kernel_path()}
        cells = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>"
                        f"{v}</td></tr>" for k, v in rows.items())
        return f"<table><caption>fastbp.MLP</caption>{cells}</table>"


def _check_last_rate(settings, last_epoch, dtype):
    """check_last_rate for a built-in schedule; a callable schedule's rates
    are checked epoch by epoch."""
    if isinstance(settings.schedule, optim.Schedule):
        check.check_last_rate(settings.schedule, settings.optimizer.lr,
                              lambda: training.scheduled_lr(settings, last_epoch),
                              last_epoch, dtype)


def _copy_widened(dst, dst_layout, src, src_layout):
    """Copy the parameter-shaped vector src into dst, laid out for a first
    layer at least as wide: dst's extra first-layer columns are left alone."""
    (dst_W, dst_b), (src_W, src_b) = views(dst, dst_layout), views(src, src_layout)
    dst_W[0][:, :src_W[0].shape[1]] = src_W[0]
    for d, s in zip(dst_W[1:] + (dst_b or []), src_W[1:] + (src_b or [])):
        d[...] = s


def _rebuild(sizes, activations, loss, dtype, bias, params, state=None):
    net = MLP.__new__(MLP)
    net._build(tuple(sizes), tuple(activations), loss, np.dtype(dtype), bias)
    net._params[...] = params
    if state is not None:
        key, values, n_updates, epochs = state
        net._state = OptimizerState(tuple(key), np.array(values, net.dtype))
        net._state.n_updates, net._state.epochs = n_updates, epochs
    return net
