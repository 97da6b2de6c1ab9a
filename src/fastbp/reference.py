"""Backpropagation in plain Python, written to be read.

The ground truth for fastbp's tests and the baseline of its benchmarks: the
same API as ``fastbp.MLP``, with numerics in lists of floats and ``math``.

Conventions (the same as ``fastbp.MLP`` and the classic worked examples):

- Layer l maps n_in inputs a_i to n_out units. ``weights[l][j][i]`` is the
  weight from input i into unit j, ``biases[l][j]`` is unit j's bias.
- Forward: net_j = sum_i w_ji a_i + b_j and out_j = f(net_j).
- Loss per sample, summed over the outputs k: squared_error
  E = sum_k 1/2 (t_k - o_k)^2; binary_cross_entropy
  E = -sum_k t_k log o_k + (1 - t_k) log(1 - o_k); cross_entropy
  E = -sum_k t_k log o_k.
- Backward: delta_j = dE/dnet_j. A hidden unit's delta is
  f'(net_i) * sum_j w_ji delta_j, with the weights from *before* the update.
- Update: w_ji <- w_ji - lr * delta_j * a_i and b_j <- b_j - lr * delta_j.

Types: ``weights`` is a list (per layer) of lists (per unit) of lists of
Python floats; ``biases`` a list of lists of floats, or None; ``params`` a new
flat list in ``fastbp.MLP``'s order (per layer the weights row by row, then
the biases) on each access. ``predict`` returns lists. Arithmetic is in double
precision whatever ``dtype`` says; a float32 model starts from float32 values.
NumPy is used only to read inputs and for the random numbers shared with
``fastbp.MLP`` (initial weights, sample order), never in the arithmetic.
"""
import copy
import math
import time

import numpy as np

from fastbp import _validation as check
from fastbp import optim
from fastbp._progress import make_reporter
from fastbp._random import check_init, epoch_orders, initial_parameters
from fastbp._sparse import SparseRows, is_sparse
from fastbp._vocabulary import FIT
from fastbp.errors import DivergenceError
from fastbp.history import History

LEAKY_SLOPE = 0.01


# -- activations f, and f' written in terms of the output a = f(net) ---------

def sigmoid(x):
    # exp of a non-positive number only, so no overflow for any finite x.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def relu(x):
    return x if x > 0 else 0.0


def leaky_relu(x):
    return x if x > 0 else LEAKY_SLOPE * x


def identity(x):
    return x


FUNCTIONS = {"identity": identity, "sigmoid": sigmoid, "tanh": math.tanh,
             "relu": relu, "leaky_relu": leaky_relu, "exp": math.exp}

DERIVATIVES = {
    "identity": lambda a: 1.0,
    "sigmoid": lambda a: a * (1.0 - a),
    "tanh": lambda a: 1.0 - a * a,
    "relu": lambda a: 1.0 if a > 0 else 0.0,
    "leaky_relu": lambda a: 1.0 if a > 0 else LEAKY_SLOPE,
    "exp": lambda a: a,
}


def softmax(nets):
    top = max(nets)
    exps = [math.exp(z - top) for z in nets]
    total = sum(exps)
    return [e / total for e in exps]


def activate(name, nets):
    if name == "softmax":
        return softmax(nets)
    f = FUNCTIONS[name]
    return [f(z) for z in nets]


def times_derivative(name, outs, grads):
    """dE/dnet from dE/dout: grads_j * f'(net_j), through the outputs."""
    if name == "softmax":
        # d out_k / d net_j = out_k (1[k = j] - out_j)
        s = sum(g * a for g, a in zip(grads, outs))
        return [a * (g - s) for g, a in zip(grads, outs)]
    df = DERIVATIVES[name]
    return [g * df(a) for g, a in zip(grads, outs)]


# -- losses: E and the output deltas dE/dnet --------------------------------

def squared_error(outs, targets, nets, activation):
    errors = [o - t for o, t in zip(outs, targets)]            # dE/dout_k
    E = sum(0.5 * e * e for e in errors)
    return E, times_derivative(activation, outs, errors)


def binary_cross_entropy(outs, targets, nets, activation):
    # E_k = softplus(z) - t z, where log1p(exp(-|z|)) never overflows.
    E = sum(max(z, 0.0) - z * t + math.log1p(math.exp(-abs(z)))
            for z, t in zip(nets, targets))
    return E, [o - t for o, t in zip(outs, targets)]            # sigmoid cancels


def cross_entropy(outs, targets, nets, activation):
    top = max(nets)
    logsumexp = top + math.log(sum(math.exp(z - top) for z in nets))
    E = sum(t * (logsumexp - z) for z, t in zip(nets, targets))
    mass = sum(targets)                                         # 1 for one-hot
    return E, [o * mass - t for o, t in zip(outs, targets)]     # softmax cancels


def poisson(outs, targets, nets, activation):
    # Half the Poisson deviance of o = exp(z): o - t z + t log t - t.
    E = sum(o - t * z + (t * math.log(t) if t > 0 else 0.0) - t
            for o, t, z in zip(outs, targets, nets))
    return E, [o - t for o, t in zip(outs, targets)]            # exp cancels


LOSS_FUNCTIONS = {"squared_error": squared_error,
                  "binary_cross_entropy": binary_cross_entropy,
                  "cross_entropy": cross_entropy,
                  "poisson": poisson}


def _rounded(matrix, dtype):
    """Lists of floats holding the values of ``matrix`` in ``dtype``."""
    return np.asarray(matrix, dtype=dtype).astype(float).tolist()


class MLP:
    """A multi-layer perceptron in plain Python; see ``fastbp.MLP`` for the
    parameters, and the module docstring for conventions and types."""

    def __init__(self, layer_sizes, activation="sigmoid", output_activation=None,
                 loss="squared_error", bias=True, dtype="float64", seed=None, init="auto"):
        sizes = check.check_layer_sizes(layer_sizes)
        activations = check.check_activations(activation, output_activation, len(sizes) - 1)
        loss = check.check_loss(loss, activations[-1])
        weights, biases = initial_parameters(sizes, activations, check.check_seed(seed),
                                             check_init(init))
        dtype = check.check_dtype(dtype)
        self._build(sizes, activations, loss, dtype, check.check_bool(bias, "bias"))
        self.weights = [_rounded(W, dtype) for W in weights]
        self.biases = [_rounded(b, dtype) for b in biases] if self.bias else None

    @classmethod
    def from_weights(cls, weights, biases=None, activation="sigmoid",
                     output_activation=None, loss="squared_error", dtype=None):
        W, b, dtype = check.check_weights(weights, biases, dtype)
        activations = check.check_activations(activation, output_activation, len(W))
        loss = check.check_loss(loss, activations[-1])
        net = cls.__new__(cls)
        sizes = (W[0].shape[1],) + tuple(w.shape[0] for w in W)
        net._build(sizes, activations, loss, dtype, b is not None)
        net.weights = [_rounded(w, dtype) for w in W]
        net.biases = [_rounded(v, dtype) for v in b] if b is not None else None
        return net

    def _build(self, sizes, activations, loss, dtype, bias):
        self.layer_sizes = sizes
        self.activations = activations
        self.loss_name = loss
        self.dtype = dtype
        self.bias = bias
        self.history = None

    @property
    def params(self):
        flat = []
        for l, W in enumerate(self.weights):
            for row in W:
                flat.extend(row)
            if self.biases is not None:
                flat.extend(self.biases[l])
        return flat

    # -- one sample, step by step --------------------------------------------

    def forward(self, x):
        """Net inputs and outputs of every layer: (nets, outs), lists per layer."""
        nets, outs = [], []
        a = list(x)
        for l, W in enumerate(self.weights):
            net = [sum(w_ji * a_i for w_ji, a_i in zip(row, a)) for row in W]
            if self.biases is not None:
                net = [n + b for n, b in zip(net, self.biases[l])]
            a = activate(self.activations[l], net)
            nets.append(net)
            outs.append(a)
        return nets, outs

    def output_deltas(self, nets, outs, t):
        """The sample's loss E and the output layer's deltas dE/dnet."""
        loss = LOSS_FUNCTIONS[self.loss_name]
        return loss(outs[-1], t, nets[-1], self.activations[-1])

    def backward(self, outs, output_deltas):
        """Deltas of every layer, from the top down, with the current weights."""
        deltas = [output_deltas]
        for l in range(len(self.weights) - 1, 0, -1):
            W, above = self.weights[l], deltas[0]
            # dE/dout_i of the layer below: sum_j w_ji delta_j
            grads = [0.0] * len(W[0])
            for j, row in enumerate(W):
                for i, w_ji in enumerate(row):
                    grads[i] += w_ji * above[j]
            deltas.insert(0, times_derivative(self.activations[l - 1], outs[l - 1], grads))
        return deltas

    def _deltas(self, x, t):
        nets, outs = self.forward(x)
        E, top = self.output_deltas(nets, outs, t)
        return E, [list(x)] + outs, self.backward(outs, top)

    def _update(self, inputs, deltas, lr, update_biases):
        """w_ji -= (lr delta_j) a_i and b_j -= lr delta_j."""
        for l, W in enumerate(self.weights):
            a = inputs[l]
            for j, row in enumerate(W):
                step = lr * deltas[l][j]
                for i in range(len(row)):
                    row[i] -= step * a[i]
                if update_biases and self.biases is not None:
                    self.biases[l][j] -= step

    # -- the public API --------------------------------------------------------

    def _arrays(self, X, Y):
        X = self._matrix(X)
        return X, check.as_targets(Y, X.shape[0], self.layer_sizes[-1], self.dtype,
                                   self.loss_name)

    def _matrix(self, X):
        """X checked as fastbp.MLP checks it; a sparse one made dense, as
        the reference reads rows as lists."""
        X = check.as_matrix(X, "X", self.layer_sizes[0], self.dtype, "features")
        return X.toarray() if isinstance(X, SparseRows) else X

    def _inputs(self, X, Y):
        X, Y = self._arrays(X, Y)
        return X.astype(float).tolist(), Y.astype(float).tolist()

    def _sample(self, x, t):
        x = check.as_vector(x, "x", self.layer_sizes[0], self.dtype, "features")
        t = check.as_vector(t, "t", self.layer_sizes[-1], self.dtype, "outputs")
        check.check_target_range(t, self.loss_name)
        return x.astype(float).tolist(), t.astype(float).tolist()

    def predict(self, X, n_jobs=1):
        """As ``fastbp.MLP.predict``; one thread whatever ``n_jobs`` says."""
        check.check_positive_int(n_jobs, "n_jobs")
        if not is_sparse(X):
            X = check.as_numeric(X, "X")
            if X.ndim == 1:
                x = check.as_vector(X, "X", self.layer_sizes[0], self.dtype, "features")
                return self.forward(x.astype(float).tolist())[1][-1]
        X = self._matrix(X)
        return [self.forward(x)[1][-1] for x in X.astype(float).tolist()]

    def loss(self, X, Y):
        X, Y = self._inputs(X, Y)
        total = 0.0
        for x, t in zip(X, Y):
            nets, outs = self.forward(x)
            total += self.output_deltas(nets, outs, t)[0]
        return total / len(X)

    def gradient(self, x, t):
        """(grad_weights, grad_biases): dE/dw_ji = delta_j a_i, dE/db_j = delta_j."""
        x, t = self._sample(x, t)
        _, inputs, deltas = self._deltas(x, t)
        grad_w = [[[d * a_i for a_i in a] for d in delta] for a, delta in zip(inputs, deltas)]
        grad_b = [list(delta) for delta in deltas] if self.biases is not None else None
        return grad_w, grad_b

    def train_step(self, x, t, lr=None, update_biases=True, *, optimizer="sgd"):
        """As ``fastbp.MLP.train_step``: one update on one sample, as
        ``fit(batch_size=1)`` makes it; returns the sample's loss before it."""
        return self._step(x, t, lr, update_biases, optimizer)[0]

    def learn_one(self, x, t, lr=None, update_biases=True, *, optimizer="sgd"):
        """As ``fastbp.MLP.learn_one``: the outputs for x, then the update."""
        return self._step(x, t, lr, update_biases, optimizer)[1]

    def _step(self, x, t, lr, update_biases, optimizer):
        """(loss, outputs before the update) of one step. An optimizer's state
        carries over between steps, and to and from fit's warm_start."""
        x, t = self._sample(x, t)
        update_biases = check.check_bool(update_biases, "update_biases")
        optimizer = optim.as_optimizer(optimizer, lr, self.dtype)
        if isinstance(optimizer, optim.Rprop):
            raise ValueError("optimizer 'rprop' is full-batch only (iRprop- follows the sign "
                             "of the whole gradient): train with fit(batch_size=None)")
        previous = getattr(self, "_state", None)
        state = (previous.copy() if previous is not None and previous.key ==
                 optimizer.state_key() else
                 OptimizerState(optimizer.state_key(), len(self.params), optimizer.lr))
        outputs = self.forward(x)[1][-1]
        saved = (self._copy_params(), previous)
        where = f"the step with lr={optimizer.lr}"
        E = self._batch_step([0], [x], [t], [1.0], optimizer, optimizer.lr, update_biases,
                             state, saved, where)
        self._check_finite(saved, where)
        self._state = state
        return E, outputs

    def fit(self, X, Y, epochs=FIT.epochs, lr=FIT.lr, batch_size=FIT.batch_size,
            shuffle=FIT.shuffle, seed=FIT.seed, update_biases=FIT.update_biases, *,
            optimizer=FIT.optimizer, schedule=FIT.schedule, sample_weight=FIT.sample_weight,
            validation_data=FIT.validation_data, validation_fraction=FIT.validation_fraction,
            patience=FIT.patience, tol=FIT.tol, restore_best=FIT.restore_best,
            target_loss=FIT.target_loss, warm_start=FIT.warm_start, progress=FIT.progress,
            verbose=FIT.verbose, callback=FIT.callback, n_jobs=FIT.n_jobs):
        """As ``fastbp.MLP.fit`` (``n_jobs`` is checked, and the reference
        runs in one thread). On divergence the parameters and optimizer
        state from the start of the epoch are restored before
        DivergenceError is raised."""
        check.check_positive_int(n_jobs, "n_jobs")
        data = check.fit_data(self._arrays, self.dtype, X, Y, sample_weight, validation_data,
                              validation_fraction, seed)
        n = data.X.shape[0]
        epochs = check.check_positive_int(epochs, "epochs")
        batch = check.check_batch_size(batch_size, n)
        settings = check.check_settings(
            batch, n, optimizer=optim.as_optimizer(optimizer, lr, self.dtype),
            schedule=optim.as_schedule(schedule), patience=patience, tol=tol,
            restore_best=restore_best, target_loss=target_loss, warm_start=warm_start,
            progress=progress, verbose=verbose, callback=callback)
        shuffle = check.check_bool(shuffle, "shuffle")
        update_biases = check.check_bool(update_biases, "update_biases")
        X, Y = data.X.astype(float).tolist(), data.Y.astype(float).tolist()
        weights = [1.0] * n if data.weight is None else data.weight.astype(float).tolist()
        orders = epoch_orders(n, epochs, shuffle, check.check_seed(seed))
        state = self._optimizer_state(settings)
        if isinstance(settings.schedule, optim.Schedule):
            last = state.epochs + epochs - 1
            check.check_last_rate(
                settings.schedule, settings.optimizer.lr,
                lambda: scheduled_lr(settings.optimizer, settings.schedule, last), last,
                self.dtype)
        self._state = state

        def run_epoch(epoch, lr):
            order = [int(s) for s in next(orders)]
            saved = (self._copy_params(), state.copy())
            where = f"epoch {epoch} with lr={lr}"
            total = 0.0
            for start in range(0, n, batch):
                total += self._batch_step(order[start:start + batch], X, Y, weights,
                                          settings.optimizer, lr, update_biases, state,
                                          saved, where)
            self._check_finite(saved, where)
            state.epochs += 1
            return total

        val = None
        if data.X_val is not None:
            val = lambda: self.loss(data.X_val, data.Y_val)  # noqa: E731
        self.history = History()
        return self._epochs(settings, epochs, n, run_epoch, val, state)

    def _epochs(self, settings, epochs, n, run_epoch, val, state):
        """The epoch loop of fit: the schedule's rate, one epoch, the
        validation loss, the stopping rules and the callback."""
        history = self.history
        stopping = Stopping(settings)
        reporter = make_reporter(epochs, n, settings.progress, settings.verbose)
        start = time.perf_counter()
        try:
            for epoch in range(1, epochs + 1):
                lr = scheduled_lr(settings.optimizer, settings.schedule, state.epochs)
                history.loss.append(run_epoch(epoch, lr))
                history.lr.append(lr)
                if val is not None:
                    history.val_loss.append(val())
                history.epoch_time.append(time.perf_counter() - start)
                if reporter is not None:
                    reporter.epoch_end(epoch, history.loss[-1],
                                       history.val_loss[-1] if history.val_loss else None,
                                       history.epoch_time[-1])
                reason = stopping.update(history, self.params)
                if settings.callback is not None and settings.callback(history):
                    reason = reason or "callback"
                if reason:
                    history.stop_reason = reason
                    break
        finally:
            history.wall_time = time.perf_counter() - start
            if reporter is not None:
                reporter.close()
        if stopping.best_params is not None:
            self._set_params(stopping.best_params)
        return history

    def _optimizer_state(self, settings):
        """The previous fit's optimizer state if warm_start asks for it and it
        matches, else a fresh one (zeros; rprop's step sizes start at lr)."""
        previous = getattr(self, "_state", None)
        key = settings.optimizer.state_key()
        if settings.warm_start and previous is not None and previous.key == key:
            return previous
        return OptimizerState(key, len(self.params), settings.optimizer.lr)

    def _batch_step(self, rows, X, Y, weights, optimizer, lr, update_biases, state, saved,
                    where):
        """One update from the samples ``rows``; returns the sum of their
        losses (times their weights) before it, each divided by the number
        of samples (so an epoch adds up to its mean, which cannot overflow).
        A loss that is not finite restores ``saved``."""
        scale = 1.0 / len(X)
        plain = isinstance(optimizer, optim.SGD) and not optimizer.momentum and \
            not optimizer.weight_decay
        total, grads = 0.0, None
        for r in rows:
            E, inputs, deltas = self._deltas(X[r], Y[r])
            if not math.isfinite(E):
                self._restore(saved)
                raise DivergenceError(f"training diverged in {where}: the loss became "
                                      "NaN or infinite; try a smaller learning rate")
            w = weights[r]
            deltas = [[w * d for d in layer] for layer in deltas]   # dE/dnet of w E
            total += w * E * scale
            if len(rows) == 1 and plain:    # per-sample SGD, as the textbooks do it
                self._update(inputs, deltas, lr, update_biases)
                return w * E * scale
            grads = self._accumulate(grads, inputs, deltas)
        state.t += 1
        self._optimizer_update(grads, len(rows), optimizer, lr, update_biases, state)
        return total

    def _accumulate(self, grads, inputs, deltas):
        """Add one sample's dE/dw (and dE/db) to the running sums."""
        if grads is None:
            grads = ([[[0.0] * len(row) for row in W] for W in self.weights],
                     [[0.0] * len(W) for W in self.weights])
        for l, (a, delta) in enumerate(zip(inputs, deltas)):
            for j, d in enumerate(delta):
                row = grads[0][l][j]
                for i, a_i in enumerate(a):
                    row[i] += d * a_i
                grads[1][l][j] += d
        return grads

    def _optimizer_update(self, grads, count, optimizer, lr, update_biases, state):
        """params -= step(g) for each trainable parameter, g its mean gradient
        over the batch plus weight_decay * param (of the weights alone unless
        decay_biases; the steps are below)."""
        step = STEPS[type(optimizer)]
        params = self.params
        sums = self._flat(grads)
        weights = set(self._trainable(False))
        for i in self._trainable(update_biases):
            decays = optimizer.decay_biases or i in weights
            g = sums[i] / count + (optimizer.weight_decay if decays else 0.0) * params[i]
            params[i] -= step(g, i, state, optimizer, lr)
        self._set_params(params)

    # -- the flat view of the parameters (fastbp.MLP.params' order) ------------

    def _flat(self, grads):
        """Gradient sums (per weight, per bias) in the order of ``params``."""
        flat = []
        for l, G in enumerate(grads[0]):
            for row in G:
                flat.extend(row)
            if self.biases is not None:
                flat.extend(grads[1][l])
        return flat

    def _trainable(self, update_biases):
        """Indices into ``params`` that an update changes."""
        at = 0
        for W in self.weights:
            n_w = len(W) * len(W[0])
            yield from range(at, at + n_w)
            at += n_w
            if self.biases is not None:
                if update_biases:
                    yield from range(at, at + len(W))
                at += len(W)

    def _set_params(self, flat):
        flat = list(flat)
        at = 0
        for l, W in enumerate(self.weights):
            for row in W:
                row[:] = flat[at:at + len(row)]
                at += len(row)
            if self.biases is not None:
                self.biases[l][:] = flat[at:at + len(W)]
                at += len(W)

    # -- keeping the model whole ----------------------------------------------

    def _copy_params(self):
        return ([[list(row) for row in W] for W in self.weights],
                [list(b) for b in self.biases] if self.biases is not None else None)

    def _restore(self, saved):
        """Back to (params, optimizer state) as saved at the start of an epoch."""
        (self.weights, self.biases), state = saved
        if state is not None:
            self._state = state

    def _check_finite(self, saved, where):
        if all(math.isfinite(p) for p in self.params):
            return
        self._restore(saved)
        raise DivergenceError(f"training diverged in {where}: a loss or a parameter "
                              "became NaN or infinite; try a smaller learning rate")

    @classmethod
    def from_model(cls, net):
        """A float64 reference holding another model's parameters exactly.

        Parameters
        ----------
        net : fastbp.MLP or fastbp.reference.MLP
            Read through its public attributes only (``layer_sizes``,
            ``activations``, ``loss_name``, ``bias``, ``weights``,
            ``biases``), so the copy shares no numerics with ``net``.

        Returns
        -------
        MLP
            The same sizes, activations, loss and bias, with float64
            parameters equal to ``net``'s (a float32 model's values are
            widened exactly); no History.
        """
        ref = cls.__new__(cls)
        ref._build(tuple(net.layer_sizes), tuple(net.activations), net.loss_name,
                     np.dtype(np.float64), bool(net.bias))
        ref.weights = [_rounded(W, np.float64) for W in net.weights]
        ref.biases = [_rounded(b, np.float64) for b in net.biases] if net.bias else None
        return ref


# -- optimizers: the step each takes for parameter i with gradient g ----------

class OptimizerState:
    """Per parameter: momentum buffer b, Adam's moments m and v, Rprop's
    previous gradient and step size; and t, the updates made so far."""

    def __init__(self, key, n, initial_step):
        self.key = key
        self.b, self.m, self.v, self.prev = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
        self.step = [initial_step] * n
        self.t = 0
        self.epochs = 0

    def copy(self):
        return copy.deepcopy(self)


def sgd_step(g, i, state, s, lr):
    """torch.optim.SGD: b = momentum b + g; step lr (g + momentum b) with
    Nesterov, lr b without, lr g without momentum."""
    if not s.momentum:
        return lr * g
    state.b[i] = s.momentum * state.b[i] + g
    return lr * (g + s.momentum * state.b[i] if s.nesterov else state.b[i])


def adam_step(g, i, state, s, lr):
    """torch.optim.Adam: moments m and v, corrected for their start at 0."""
    beta1, beta2 = s.betas
    state.m[i] = beta1 * state.m[i] + (1 - beta1) * g
    state.v[i] = beta2 * state.v[i] + (1 - beta2) * g * g
    m_hat_scale = lr / (1 - beta1 ** state.t)
    v_hat_root = math.sqrt(state.v[i]) / math.sqrt(1 - beta2 ** state.t)
    return m_hat_scale * state.m[i] / (v_hat_root + s.eps)


def rprop_step(g, i, state, s, lr):
    """iRprop-: a step size per parameter, grown while the gradient keeps its
    sign, shrunk when it flips (and that gradient then counts as 0)."""
    eta_minus, eta_plus = s.etas
    low, high = s.step_sizes
    agree = g * state.prev[i]
    if agree > 0:
        state.step[i] = min(state.step[i] * eta_plus, high)
    elif agree < 0:
        state.step[i] = max(state.step[i] * eta_minus, low)
        g = 0.0
    state.prev[i] = g
    return math.copysign(state.step[i], g) if g != 0 else 0.0


STEPS = {optim.SGD: sgd_step, optim.Adam: adam_step, optim.Rprop: rprop_step}


# -- between epochs: the learning-rate schedule and the stopping rules --------

def scheduled_lr(optimizer, schedule, epoch):
    """The learning rate of epoch ``epoch`` (from 0, over warm starts)."""
    lr = optimizer.lr
    if isinstance(schedule, optim.Constant):
        return lr
    if isinstance(schedule, optim.InvScaling):
        return lr / (epoch + 1) ** schedule.power_t
    if isinstance(schedule, optim.Step):
        return lr * schedule.gamma ** (epoch // schedule.every)
    return check.check_lr(schedule(epoch), name=f"the schedule's rate of epoch {epoch}")


class Stopping:
    """Early stopping: ``patience`` epochs in a row without the monitored
    loss (validation if any, else training) falling more than ``tol`` below
    its best; ``target_loss``: the training loss below it. Keeps the best
    parameters for ``restore_best``."""

    def __init__(self, settings):
        self.s = settings
        self.best = math.inf
        self.waited = 0
        self.best_params = None

    def update(self, history, params):
        """The reason to stop after the epoch just recorded, or None."""
        s = self.s
        if s.patience is not None or s.restore_best:
            monitored = (history.val_loss or history.loss)[-1]
            if monitored < self.best - s.tol:
                self.best, self.waited = monitored, 0
                history.best_epoch = history.n_epochs
                self.best_params = params if s.restore_best else None
            else:
                self.waited += 1
            if s.patience is not None and self.waited >= s.patience:
                return "early_stopping"
        if s.target_loss is not None and history.loss[-1] < s.target_loss:
            return "target_loss"
        return None
