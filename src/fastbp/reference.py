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
import math

import numpy as np

from fastbp import _validation as check
from fastbp._random import epoch_orders, initial_weights
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
             "relu": relu, "leaky_relu": leaky_relu}

DERIVATIVES = {
    "identity": lambda a: 1.0,
    "sigmoid": lambda a: a * (1.0 - a),
    "tanh": lambda a: 1.0 - a * a,
    "relu": lambda a: 1.0 if a > 0 else 0.0,
    "leaky_relu": lambda a: 1.0 if a > 0 else LEAKY_SLOPE,
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


LOSS_FUNCTIONS = {"squared_error": squared_error,
                  "binary_cross_entropy": binary_cross_entropy,
                  "cross_entropy": cross_entropy}


def _rounded(matrix, dtype):
    """Lists of floats holding the values of ``matrix`` in ``dtype``."""
    return np.asarray(matrix, dtype=dtype).astype(float).tolist()


class MLP:
    """A multi-layer perceptron in plain Python; see ``fastbp.MLP`` for the
    parameters, and the module docstring for conventions and types."""

    def __init__(self, layer_sizes, activation="sigmoid", output_activation=None,
                 loss="squared_error", bias=True, dtype="float64", seed=None):
        sizes = check.check_layer_sizes(layer_sizes)
        activations = check.check_activations(activation, output_activation, len(sizes) - 1)
        loss = check.check_loss(loss, activations[-1])
        initial = initial_weights(sizes, activations, check.check_seed(seed))
        dtype = check.check_dtype(dtype)
        self._build(sizes, activations, loss, dtype, check.check_bool(bias, "bias"))
        self.weights = [_rounded(W, dtype) for W in initial]
        self.biases = [[0.0] * n for n in sizes[1:]] if self.bias else None

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

    def _inputs(self, X, Y):
        X = check.as_matrix(X, "X", self.layer_sizes[0], self.dtype, "features")
        Y = check.as_targets(Y, X.shape[0], self.layer_sizes[-1], self.dtype, self.loss_name)
        return X.astype(float).tolist(), Y.astype(float).tolist()

    def _sample(self, x, t):
        x = check.as_vector(x, "x", self.layer_sizes[0], self.dtype, "features")
        t = check.as_vector(t, "t", self.layer_sizes[-1], self.dtype, "outputs")
        check.check_target_range(t, self.loss_name)
        return x.astype(float).tolist(), t.astype(float).tolist()

    def predict(self, X):
        X = check.as_numeric(X, "X")
        if X.ndim == 1:
            x = check.as_vector(X, "X", self.layer_sizes[0], self.dtype, "features")
            return self.forward(x.astype(float).tolist())[1][-1]
        X = check.as_matrix(X, "X", self.layer_sizes[0], self.dtype, "features")
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

    def train_step(self, x, t, lr, update_biases=True):
        x, t = self._sample(x, t)
        lr = check.check_lr(lr, self.dtype)
        update_biases = check.check_bool(update_biases, "update_biases")
        saved = self._copy_params()
        E, inputs, deltas = self._deltas(x, t)
        if not math.isfinite(E):
            raise DivergenceError(f"the loss became NaN or infinite with lr={lr}")
        self._update(inputs, deltas, lr, update_biases)
        self._check_finite(saved, f"the step with lr={lr}")
        return E

    def fit(self, X, Y, epochs=1, lr=0.1, batch_size=1, shuffle=True, seed=None,
            update_biases=True):
        """As ``fastbp.MLP.fit``. On divergence the parameters from the start of
        the epoch are restored before DivergenceError is raised."""
        X, Y = self._inputs(X, Y)
        epochs = check.check_positive_int(epochs, "epochs")
        lr = check.check_lr(lr, self.dtype)
        batch = check.check_batch_size(batch_size, len(X))
        shuffle = check.check_bool(shuffle, "shuffle")
        update_biases = check.check_bool(update_biases, "update_biases")
        orders = epoch_orders(len(X), epochs, shuffle, check.check_seed(seed))
        self.history = history = History()
        for epoch, order in enumerate(orders, 1):
            saved = self._copy_params()
            total = 0.0
            for start in range(0, len(X), batch):
                rows = [int(s) for s in order[start:start + batch]]
                total += self._batch_step(rows, X, Y, lr, update_biases, saved,
                                          f"epoch {epoch} with lr={lr}")
            self._check_finite(saved, f"epoch {epoch} with lr={lr}")
            history.loss.append(total)
        return history

    def _batch_step(self, rows, X, Y, lr, update_biases, saved, where):
        """One update from the samples ``rows``; returns the sum of their
        losses before it, each divided by the number of samples (so an epoch
        adds up to its mean, which cannot overflow). A loss that is not
        finite restores ``saved``."""
        scale = 1.0 / len(X)
        total, grads = 0.0, None
        for r in rows:
            E, inputs, deltas = self._deltas(X[r], Y[r])
            if not math.isfinite(E):
                self.weights, self.biases = saved
                raise DivergenceError(f"training diverged in {where}: the loss became "
                                      "NaN or infinite; try a smaller learning rate")
            total += E * scale
            if len(rows) == 1:          # per-sample SGD
                self._update(inputs, deltas, lr, update_biases)
                return E * scale
            grads = self._accumulate(grads, inputs, deltas)
        self._apply_mean(grads, lr / len(rows), update_biases)
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

    def _apply_mean(self, grads, scale, update_biases):
        """w -= (lr / batch) * sum of dE/dw, likewise b."""
        for l, W in enumerate(self.weights):
            for j, row in enumerate(W):
                for i in range(len(row)):
                    row[i] -= scale * grads[0][l][j][i]
                if update_biases and self.biases is not None:
                    self.biases[l][j] -= scale * grads[1][l][j]

    # -- keeping the model whole ----------------------------------------------

    def _copy_params(self):
        return ([[list(row) for row in W] for W in self.weights],
                [list(b) for b in self.biases] if self.biases is not None else None)

    def _check_finite(self, saved, where):
        if all(math.isfinite(p) for p in self.params):
            return
        self.weights, self.biases = saved
        raise DivergenceError(f"training diverged in {where}: a loss or a parameter "
                              "became NaN or infinite; try a smaller learning rate")
