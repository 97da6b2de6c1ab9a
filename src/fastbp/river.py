"""River estimators: fastbp's compiled MLP learning one dict of features at a time.

``MLPClassifier`` and ``MLPRegressor`` follow River's interface (``learn_one``,
``predict_one``, ``predict_proba_one``, and their ``*_many`` twins on pandas
DataFrames), so they run in ``river.evaluate.progressive_val_score`` and in a
``river.compose.Pipeline``. Install with ``pip install "fastbp[river]"``.

Features. The network is built at the first sample learned: its inputs are
that sample's features, sorted by name (so the order of a dict's keys never
matters). A missing feature counts as 0. A feature first seen later (a new
word of ``feature_extraction.BagOfWords``, say) becomes a new input when a
sample that has it is learned, with weights 0 into every first-layer unit, as
River's linear models grow a weight for it; predictions ignore features not
yet learned. The first layer grows by doubling its width, ahead of the
features to come: an input that no feature holds yet is 0 in every sample, so
its weights get no gradient and stay 0, and the network computes what one
built with exactly the features seen would (``net.n_inputs`` may exceed
``len(features)``). ``grow_features=False`` keeps the first sample's features
and ignores any other, as deep-river does by default
(``is_feature_incremental=False``). Scale features first
(``preprocessing.StandardScaler() | model``), as for any River linear model.

Sparse samples. A sample with few of many inputs (a text's words: at most an
eighth of a network at least 256 inputs wide) is predicted, and under plain
SGD stepped, through the compiled sparse loop (``MLP._entry_calls``): its
cost is that of its features, not of the width. The results equal the dense
path's to rounding.

Classes. Labels are numbered in the order they first appear. While two or
fewer are known, the network has one sigmoid output, P(second label), trained
with binary cross-entropy; a third label turns it into a softmax output with
cross-entropy (the old output's weights become the second row, the first and
the new rows start at zero), and each later label adds a row of zeros. Growing
the output layer restarts the optimizer's state (momentum, Adam moments), not
the learning rate's decay.
"""
import operator

import numpy as np

from fastbp._install import install_hint

try:
    from river import base
except ImportError as error:      # River is optional: the "river" extra
    raise ImportError("fastbp.river needs River: " + install_hint("river")) from error

import pandas as pd

from fastbp.mlp import MLP

# A sample takes the sparse path (see _Estimator._sparse) when the network
# has at least _SPARSE_WIDTH inputs and the sample at most 1 / _SPARSE_SHARE
# of them. A 12-input sample's sparse step costs ~1.5-2.5 us and its
# prediction ~1-1.5 us whatever the width (16 hidden units, float64, Xeon);
# the dense ones cost as much at about 256 inputs (2.3 and 1.5 us) and grow
# with the width (5.3 and 3.2 us at 1,024).
_SPARSE_WIDTH, _SPARSE_SHARE = 256, 8


# The hyper-parameters and attributes both estimators document ({lr} and
# {power_t}: each estimator's defaults).
_PARAMETERS = """    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (16,)
    activation : str, default "tanh"
        Of the hidden layers: identity, sigmoid, tanh, relu, leaky_relu.
    lr : float, default {lr}
        Learning rate of the first sample learned.
    power_t : float >= 0, default {power_t}
        The n-th sample learned (from 0) learns at lr / (n + 1) ** power_t,
        River's ``optim.schedulers.InverseScaling``; 0 keeps lr constant.
    optimizer : str or optimizer, default "sgd"
        Passed unchanged to ``fastbp.MLP.learn_one``: "sgd", "adam", ...
    seed : int, optional
        Seed of the initial weights.
    dtype : float32 or float64, default float64
    grow_features : bool, default True
        Whether a feature first seen after the first sample becomes an input
        (its weights starting at 0, the optimizer's state carried) or is
        ignored.

    Attributes
    ----------
    net : fastbp.MLP or None
        The network, built at the first sample learned.
    features : tuple or None
        The input features, in the network's order (the network's inputs
        after them, if any, wait for features to come and are 0).
"""


class _Estimator(base.Estimator):
    """What the classifier and the regressor share: hyper-parameters, the
    lazily built network and the conversion of features to arrays."""

    # Hidden size 16, tanh: of sizes 16 and 32, the one within 0.6 points of
    # the best prequential accuracy on each of Phishing and Hyperplane, raw and
    # scaled (benchmarks/bench_stream.py). Each estimator's __init__ gives the
    # defaults (River reads them from its signature) and calls this one.
    def __init__(self, *, hidden_layer_sizes, activation, lr, power_t, optimizer, seed, dtype,
                 grow_features):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.lr = lr
        self.power_t = power_t
        self.optimizer = optimizer
        self.seed = seed
        self.dtype = dtype
        self.grow_features = grow_features
        # A throwaway network checks the hyper-parameters now, not at the
        # first sample.
        MLP([1, *hidden_layer_sizes, 1], activation, dtype=dtype, seed=seed)
        if not (isinstance(lr, (int, float)) and 0 < lr < float("inf")):
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        if not (isinstance(power_t, (int, float)) and 0 <= power_t < float("inf")):
            raise ValueError(f"power_t must be a finite number >= 0, got {power_t!r}")
        if not isinstance(grow_features, bool):
            raise TypeError(f"grow_features must be True or False, got {grow_features!r}")
        self._forget()

    @classmethod
    def _unit_test_params(cls):
        yield {"hidden_layer_sizes": (8,), "seed": 0}

    def _start(self, features):
        """Build the network for these features (any order)."""
        if not features:
            raise ValueError("the first sample to learn has no features")
        features = _sorted(features)
        self.net = MLP([len(features), *self.hidden_layer_sizes, 1], self.activation,
                       *self._OUTPUT, dtype=self.dtype, seed=self.seed)
        self._features = list(features)
        self._position = {f: i for i, f in enumerate(features)}
        self._values = None
        self._x = np.zeros(self.net.n_inputs, self.net.dtype)

    @property
    def features(self):
        return None if self.net is None else tuple(self._features)

    def _add_features(self, names):
        """New inputs for ``names``, after the others; the first layer
        doubles its width when it has no room left. In place: a stream of
        text brings new words at most samples."""
        n = len(self._features) + len(names)
        if n > self.net.n_inputs:
            self.net = self.net._widened(max(2 * self.net.n_inputs, n))
            self._x = np.zeros(self.net.n_inputs, self.net.dtype)
        for name in _sorted(names):
            self._position[name] = len(self._features)
            self._features.append(name)
        self._values = None

    def _drop_features(self, net, n):
        """Back to ``net`` and the first ``n`` features (undoes _add_features)."""
        for name in self._features[n:]:
            del self._position[name]
        del self._features[n:]
        self._values = None
        if net is not self.net:
            self.net = net
            self._x = np.zeros(net.n_inputs, net.dtype)

    def _forget(self):
        """Back to before the first sample."""
        self.net = None
        self._n_learned = 0         # the samples learned: the lr schedule's clock

    def _vector(self, x):
        """x (a dict) as the reused input buffer, in feature order; features
        the network lacks are left out."""
        n = len(self._features)
        if len(x) >= n:
            try:
                self._x[:n] = (self._values or self._getter())(x)
                return self._x
            except KeyError:
                pass
        return self._scatter(x)

    def _getter(self):
        """x's values of every feature, in order, in one call (cached until
        the features change): ~0.55 us for Phishing's 9 features, against
        ~0.85 us for a comprehension with x.get()."""
        self._values = operator.itemgetter(*self._features)
        return self._values

    def _scatter(self, x):
        """The buffer from x, a feature it lacks 0: a loop over x, not over
        the features (a text has a few of a stream's thousands of words)."""
        buffer, position = self._x, self._position
        buffer[:len(self._features)] = 0.0
        for k, v in x.items():
            i = position.get(k)
            if i is not None:
                buffer[i] = v
        return buffer

    def _sparse(self, x):
        """Whether x goes to the network as its nonzero inputs alone: when it
        has few of many inputs (a text's words), where the dense step's
        cost, that of every input, outgrows the sparse call's overhead."""
        width = len(self._x)            # the network's inputs
        return width >= _SPARSE_WIDTH and len(x) * _SPARSE_SHARE <= width

    def _row(self, x):
        """x as the step takes it: x itself, as a dict, under plain SGD when
        ``_sparse`` says so (the step reads its entries), else the dense
        buffer."""
        if self.optimizer == "sgd" and self._sparse(x):
            return x if x.__class__ is dict else dict(x)
        return self._vector(x)

    def _known_row(self, x):
        """``_row(x)``, or None when x has a feature to grow an input for."""
        if not self.grow_features:
            return self._row(x)
        n = len(self._features)
        if len(x) == n:
            # With as many keys as features, x lacks one iff it has a new one.
            try:
                self._x[:n] = (self._values or self._getter())(x)
                return self._x
            except KeyError:
                return None
        if len(x) < n and x.keys() <= self._position.keys():
            return self._row(x)
        return None

    def _output(self, x):
        """The network's output for x (a dict)."""
        # _sparse(x), written out: this is every prediction's path, and the
        # call cost a tenth of a small network's predict_one.
        width = len(self._x)
        if width >= _SPARSE_WIDTH and len(x) * _SPARSE_SHARE <= width:
            # A copy: EntryCalls.predict's array is its own, reused.
            return self.net._entry_calls().predict(
                x if x.__class__ is dict else dict(x), self._position).copy()
        return self.net.predict(self._vector(x))

    def _matrix(self, X):
        """X (a DataFrame) as an array of the network's inputs, missing
        columns 0, columns the network lacks left out."""
        known = X.reindex(columns=self._features, fill_value=0.0).to_numpy(self.net.dtype)
        if known.shape[1] == self.net.n_inputs:
            return known
        out = np.zeros((len(X), self.net.n_inputs), self.net.dtype)
        out[:, :known.shape[1]] = known
        return out

    def _learn_first(self, x, y):
        """learn_one's first call: build, learn, and build nothing if the
        sample is refused."""
        self._start(x)
        try:
            self._learn(self._row(x), y)
        except BaseException:
            self._forget()
            raise

    def learn_one(self, x, y):
        """Test-then-train's second half: one update on one sample.

        Parameters
        ----------
        x : dict
            Feature name to number.
        y
            A label (classifier) or a number (regressor).
        """
        if self.net is None:
            self._learn_first(x, y)
            return
        row = self._known_row(x)
        if row is not None:
            self._learn(row, y)
            return
        net, n = self.net, len(self._features)
        self._add_features([k for k in x if k not in self._position])
        try:
            self._learn(self._row(x), y)
        except BaseException:           # a refused sample adds no input
            self._drop_features(net, n)
            raise

    def learn_many(self, X, y):
        """``learn_one`` on each row of X in turn (the same updates).

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
        y : pandas.Series, shape (n_samples,)
        """
        if len(X) == 0:
            return
        if self.net is None or (self.grow_features and
                                not set(X.columns) <= self._position.keys()):
            # The first row builds or grows the network, as learn_one does.
            self.learn_one(X.iloc[0].to_dict(), y.iloc[0])
            X, y = X.iloc[1:], y.iloc[1:]
        for row, target in zip(self._matrix(X), y):
            self._learn(row, target)

    def _step(self, row, t):
        n = self._n_learned
        lr = self.lr / (n + 1) ** self.power_t
        if row.__class__ is dict:           # _row's sparse sample
            self.net._entry_sgd(row, self._position, t, lr)
        else:
            self.net.learn_one(row, t, lr=lr, optimizer=self.optimizer)
        self._n_learned = n + 1     # after the step: a refused sample does not count


class MLPClassifier(_Estimator, base.MiniBatchClassifier):
    __doc__ = """A multi-layer perceptron classifier for River, trained sample by sample.

    Binary: one sigmoid output with binary cross-entropy; three or more
    labels: softmax with cross-entropy (the output layer grows as labels
    appear; see the module docstring for features and labels).

""" + _PARAMETERS.format(lr=1.0, power_t=0.5) + """    classes : list
        The labels seen, in the order they appeared.

    Examples
    --------
    >>> from river import datasets, evaluate, metrics, preprocessing
    >>> from fastbp.river import MLPClassifier
    >>> model = preprocessing.StandardScaler() | MLPClassifier(seed=0)
    >>> evaluate.progressive_val_score(datasets.Phishing(), model, metrics.Accuracy())
    Accuracy: 90.15%
    """

    _OUTPUT = ("sigmoid", "binary_cross_entropy")     # until a third label

    # A rate decaying as 1 / sqrt(n): on noisy labels a constant rate leaves
    # the model jittering in proportion to its step, and the network's step
    # in its output (every weight moves it: at lr 0.05, ~10x that of
    # LogisticRegression at its 0.01) changes as its weights grow, so no
    # constant lr both learns fast at first and settles finely later
    # (Hyperplane after StandardScaler: at most 93.7% at constant rates, 94.5%
    # decaying, River's LogisticRegression 94.2%). The logistic loss's
    # gradient, p - t in [-1, 1], keeps a first rate of 1.0 safe.
    def __init__(self, hidden_layer_sizes=(16,), activation="tanh", lr=1.0, power_t=0.5,
                 optimizer="sgd", seed=None, dtype="float64", grow_features=True):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, lr=lr,
                         power_t=power_t, optimizer=optimizer, seed=seed, dtype=dtype,
                         grow_features=grow_features)

    @property
    def _multiclass(self):
        return True

    def _forget(self):
        super()._forget()
        self.classes, self._index = [], {}

    def _start(self, features):
        super()._start(features)
        # Row i: the target of label i (one sigmoid output: 0 or 1).
        self._targets = np.array([[0.0], [1.0]], self.net.dtype)

    def _learn(self, row, y):
        i = self._index.get(y)
        if i is not None:
            self._step(row, self._targets[i])
            return
        saved = self.net, self._targets
        self._add_class(y)
        try:
            self._step(row, self._targets[len(self.classes) - 1])
        except BaseException:           # a refused sample adds no label
            self.net, self._targets = saved
            del self._index[self.classes.pop()]
            raise

    def _add_class(self, y):
        self._index[y] = len(self.classes)
        self.classes.append(y)
        k = len(self.classes)
        if k > 2:
            self.net = _grown(self.net, k)
            self._targets = np.eye(k, dtype=self.net.dtype)

    def _proba(self, out):
        """The network's output as the probability of each known label."""
        if len(self.classes) <= 2:
            p = float(out[0])
            return dict(zip(self.classes, (1.0 - p, p))) if len(self.classes) == 2 \
                else {self.classes[0]: 1.0}
        return dict(zip(self.classes, out.tolist()))

    def predict_proba_one(self, x):
        """Probability of each label seen so far ({} before any learning)."""
        if self.net is None:
            return {}
        return self._proba(self._output(x))

    def predict_one(self, x):
        """The most probable label (None before any learning)."""
        if self.net is None:
            return None
        out = self._output(x)
        if len(self.classes) == 1:
            return self.classes[0]
        if len(self.classes) == 2:
            return self.classes[1] if out[0] > 0.5 else self.classes[0]
        return self.classes[int(out.argmax())]

    def predict_proba_many(self, X):
        """predict_proba_one of each row, as a DataFrame with one column per label."""
        if self.net is None:
            return pd.DataFrame(index=X.index)
        out = self.net.predict(self._matrix(X)) if len(X) else \
            np.empty((0, self.net.n_outputs), self.net.dtype)
        if len(self.classes) <= 2:
            p = out[:, 0]
            out = np.column_stack([1.0 - p, p]) if len(self.classes) == 2 else np.ones((len(X), 1))
        return pd.DataFrame(out, index=X.index, columns=self.classes)

    def predict_many(self, X):
        """predict_one of each row, as a Series."""
        proba = self.predict_proba_many(X)
        if proba.empty:
            return pd.Series([None] * len(X), index=X.index, dtype=object)
        labels = np.array(self.classes, dtype=object)[proba.to_numpy().argmax(axis=1)]
        return pd.Series(labels, index=X.index)


class MLPRegressor(_Estimator, base.MiniBatchRegressor):
    __doc__ = """A multi-layer perceptron regressor for River, trained sample by sample.

    One identity output and squared error E = 1/2 (y - o)^2. Targets are
    learned as given: wrap the model in ``preprocessing.TargetStandardScaler``
    when they are far from unit scale (see the module docstring for features).

""" + _PARAMETERS.format(lr=0.05, power_t=0.0) + """    """

    _OUTPUT = ("identity", "squared_error")

    # A constant rate: squared error's gradient is unbounded, and the decay
    # the classifier uses diverged from lr 1.0 (TrumpApproval, Friedman) and
    # from 0.5 learned worse than 0.05 constant.
    def __init__(self, hidden_layer_sizes=(16,), activation="tanh", lr=0.05, power_t=0.0,
                 optimizer="sgd", seed=None, dtype="float64", grow_features=True):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, lr=lr,
                         power_t=power_t, optimizer=optimizer, seed=seed, dtype=dtype,
                         grow_features=grow_features)

    def _start(self, features):
        super()._start(features)
        self._t = np.empty(1, self.net.dtype)

    def _learn(self, row, y):
        self._t[0] = y
        self._step(row, self._t)

    def predict_one(self, x):
        """The network's output (0.0 before any learning)."""
        if self.net is None:
            return 0.0
        return float(self._output(x)[0])

    def predict_many(self, X):
        """predict_one of each row, as a Series."""
        if self.net is None or len(X) == 0:
            return pd.Series(0.0, index=X.index)
        return pd.Series(self.net.predict(self._matrix(X))[:, 0], index=X.index)


def _sorted(names):
    """names as a sorted tuple (by repr when their types do not compare)."""
    try:
        return tuple(sorted(names))
    except TypeError:
        return tuple(sorted(names, key=repr))


def _grown(net, n_classes):
    """net with a softmax output of n_classes units: the same hidden layers;
    from one sigmoid output z, rows [0, z, 0...] (softmax of (0, z) is the
    sigmoid's (1 - p, p)); from a softmax, the old rows then zero rows."""
    W, b = net.weights[-1], net.biases[-1]
    first = 1 if net.n_outputs == 1 else 0
    W_out = np.zeros((n_classes, W.shape[1]), net.dtype)
    b_out = np.zeros(n_classes, net.dtype)
    W_out[first:first + W.shape[0]] = W
    b_out[first:first + b.shape[0]] = b
    return MLP.from_weights(net.weights[:-1] + [W_out], net.biases[:-1] + [b_out],
                            list(net.activations[:-1]) + ["softmax"],
                            loss="cross_entropy", dtype=net.dtype)
