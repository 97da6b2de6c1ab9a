"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor`` wrap
``fastbp.MLP`` with scikit-learn's API, parameter names and fitted attributes.

Each ``fit`` is one ``MLP.fit`` call (the data checked once, ``net_.history``
holding every epoch) whose per-epoch callback does what scikit-learn's
``_fit_stochastic`` does between epochs: the learning-rate schedule, the
stopping rules (``tol``, ``n_iter_no_change``, ``early_stopping`` with the best
weights restored) and the ``ConvergenceWarning``. Where fastbp differs from
scikit-learn, on purpose:

- ``alpha`` becomes ``MLP.fit``'s ``weight_decay = alpha * n / (batch * sum of
  sample weights)`` (``alpha / batch`` without weights) on the weights alone
  (``decay_biases=False``), so a batch's gradient gets scikit-learn's
  ``alpha * W / n_batch``, and ``loss_curve_`` adds the matching penalty
  ``alpha * |W|^2 / 2`` per batch, from the weights the epoch starts with.
  solver="lbfgs" minimises scikit-learn's full-batch objective
  (``fastbp._lbfgs``).
- Momentum and Adam follow ``torch.optim``: the same steps as scikit-learn's at
  a constant learning rate; Adam adds ``epsilon`` to the bias-corrected root.
- Multi-output regression minimises the squared error summed over the outputs
  (scikit-learn averages it), so its losses are ``n_outputs_`` times larger.
- Sample weights are scaled to mean 1 over the training data: each batch's
  gradient is their weighted mean over its size, not over its weight total.
- Solvers are scikit-learn's "lbfgs", "sgd" and "adam", and fastbp's
  "rprop". Input must be dense.
- A stochastic fit whose loss stops being finite raises
  ``fastbp.DivergenceError`` (a ValueError, with scikit-learn's words) and
  keeps the last finite parameters; with ``early_stopping`` it records a NaN
  validation score, warns and keeps the best epoch's weights instead.
"""
import contextlib
import math
import numbers
import time
import warnings

import numpy as np

from fastbp._install import install_hint

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
except ImportError as exc:  # scikit-learn is an optional dependency
    raise ImportError("fastbp.MLPClassifier and fastbp.MLPRegressor need scikit-learn: "
                      + install_hint("sklearn")) from exc
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from fastbp import _lbfgs
from fastbp import _one_row
from fastbp import _validation as check
from fastbp import optim
from fastbp._layout import views
from fastbp._progress import make_reporter
from fastbp._random import check_init
from fastbp._vocabulary import HIDDEN_ACTIVATIONS, OPTIMIZERS
from fastbp.errors import DivergenceError
from fastbp.mlp import MLP

# scikit-learn's name of an activation fastbp names differently.
SKLEARN_ALIASES = {"logistic": "sigmoid"}
# Hidden activations under scikit-learn's names and fastbp's, to fastbp's.
ACTIVATIONS = {**{a: a for a in HIDDEN_ACTIVATIONS}, **SKLEARN_ALIASES}
SOLVERS = ("lbfgs",) + OPTIMIZERS
# MLPRegressor's losses, as scikit-learn names them.
REGRESSION_LOSSES = ("squared_error", "poisson")
# scikit-learn's words for parameters that stop being finite.
NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain "
              "large values and need to be preprocessed.")
# scikit-learn's learning_rate values, spelled as scikit-learn spells them.
SCHEDULES = ("constant", "invscaling", "adaptive")
# scikit-learn's adaptive schedule stops once a cut would take the rate below this.
MIN_ADAPTIVE_LR = 1e-6
# Largest seed drawn from random_state (numpy's legacy RandomState takes int32).
SEED_BOUND = np.iinfo(np.int32).max

_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer; () fits no hidden layer.
    activation : str, default="relu"
        Of the hidden layers: "identity", "logistic" (or "sigmoid"), "tanh",
        "relu" or fastbp's "leaky_relu".
    solver : {"lbfgs", "adam", "sgd", "rprop"}, default="adam"
        "lbfgs" is SciPy's L-BFGS-B on the full-batch loss (scikit-learn's
        recommendation for small data sets), the others the optimizer of
        ``MLP.fit``; "rprop" is fastbp's resilient backprop.
    alpha : float, default=0.0001
        L2 penalty on the weights (not the biases), as scikit-learn's:
        ``alpha / (2 n) * |W|^2`` added to the mean loss.
    batch_size : int or "auto", default="auto"
        Samples per update; "auto" is min(200, n_samples), and all of them
        for rprop (full-batch only). Larger than the training set, it is
        clipped (with a warning).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of the step size, for solver="sgd" only (as in scikit-learn):
        "invscaling" uses ``learning_rate_init / (t_ + 1) ** power_t`` after the
        first epoch; "adaptive" divides it by 5 whenever ``n_iter_no_change``
        epochs in a row fail to improve by ``tol``, and stops below 1e-6.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs of ``fit`` (iterations for lbfgs); ``partial_fit`` runs one.
    shuffle : bool, default=True
        A new sample order every epoch.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initial weights, the validation split and the sample orders.
    tol : float, default=1e-4
        Improvement of the training loss (or of the validation score with
        ``early_stopping``) that counts for ``n_iter_no_change``; for lbfgs,
        the largest projected gradient entry at which it stops (``gtol``).
    verbose : bool, default=False
        Print the loss (and validation score) of every epoch.
    warm_start : bool, default=False
        ``fit`` continues from the fitted weights (with a fresh optimizer
        state, as scikit-learn does).
    momentum : float in [0, 1], default=0.9
        For solver="sgd".
    nesterovs_momentum : bool, default=True
        For solver="sgd" with momentum > 0.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score
        stops improving, and keep the weights of the best epoch.
    validation_fraction : float in [0, 1), default=0.1
    beta_1, beta_2 : float in [0, 1), default=0.9 and 0.999
        Adam's decay rates of the first and second moments.
    epsilon : float, default=1e-8
        Adam's term added to the root of the second moment.
    n_iter_no_change : int or numpy.inf, default=10
        Epochs without improvement before stopping (or an adaptive cut).
    max_fun : int, default=15000
        For lbfgs: the most loss evaluations (``maxfun``).
    dtype : {None, "float32", "float64"}, default=None
        Of the parameters and the arithmetic; None follows X: float32 data
        trains in float32, anything else in float64.
    init : str or callable, default="sklearn"
        The initial weights and biases (``fastbp.MLP``'s ``init``, whose
        docstring gives the formulas): "sklearn" draws them as scikit-learn
        does, uniform in +-sqrt(6 / (fan_in + fan_out)) (2 instead of 6 for
        logistic), biases too; also "auto", "glorot_uniform", "he_uniform"
        or ``init(rng, n_in, n_out) -> (weights, biases)``.
    progress : bool, default=False
        Show a progress bar over the epochs (``MLP.fit``'s ``progress``).

    Attributes
    ----------
    net_ : fastbp.MLP
        The network.
    coefs_ : list of ndarray, shapes (n_in, n_out)
        Views of the network's weights (``net_.weights[l].T``).
    intercepts_ : list of ndarray, shapes (n_out,)
        Views of the network's biases.
    loss_ : float
        The training loss of the last epoch.
    loss_curve_ : list of float
        The training loss of every epoch (iteration for lbfgs), penalty
        included (see the module).
    best_loss_ : float or None
        The lowest of ``loss_curve_``; None with ``early_stopping``.
    validation_scores_ : list of float or None
        Score on the held-out data after every epoch, with ``early_stopping``.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs (lbfgs: iterations) run by the latest ``fit`` (1 after
        ``partial_fit``).
    t_ : int
        Training samples seen, over all calls.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X has string column names.
    n_layers_ : int
        Layers, inputs and outputs included.
    n_outputs_ : int
        Output units.
    out_activation_ : str
        "logistic", "softmax" or "identity".
"""


def _hidden_sizes(hidden_layer_sizes):
    """The hidden layer sizes as a list of ints, checked."""
    if isinstance(hidden_layer_sizes, numbers.Integral):
        hidden_layer_sizes = [hidden_layer_sizes]
    if isinstance(hidden_layer_sizes, str) or not hasattr(hidden_layer_sizes, "__iter__"):
        raise TypeError("hidden_layer_sizes must be an int or a sequence of ints, "
                        f"got {hidden_layer_sizes!r}")
    sizes = list(hidden_layer_sizes)
    for size in sizes:
        check.check_positive_int(size, "hidden_layer_sizes entries")
    return [int(s) for s in sizes]


def _check_params(est):
    """Every hyper-parameter, checked before fit changes anything; raises
    ValueError or TypeError naming the first bad one."""
    params = vars(est)     # get_params inspects the signature: slower than a small fit
    _hidden_sizes(est.hidden_layer_sizes)
    check.check_choice(est.activation, "activation", tuple(ACTIVATIONS))
    check.check_choice(est.solver, "solver", SOLVERS)
    if not is_classifier(est):
        check.check_choice(est.loss, "loss", REGRESSION_LOSSES)
    check_init(est.init)
    check.check_positive_int(est.max_fun, "max_fun")
    check.check_choice(est.learning_rate, "learning_rate", SCHEDULES)
    if est.batch_size != "auto":
        check.check_positive_int(est.batch_size, "batch_size")
    check.check_positive_int(est.max_iter, "max_iter")
    if est.n_iter_no_change != np.inf:
        check.check_positive_int(est.n_iter_no_change, "n_iter_no_change")
    for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping", "progress"):
        check.check_bool(params[name], name)
    for name in ("alpha", "power_t", "tol"):
        check.check_real(params[name], name, 0)
    for name in ("learning_rate_init", "epsilon"):
        check.check_real(params[name], name, 0, low_open=True)
    check.check_real(est.momentum, "momentum", 0, 1)
    for name in ("validation_fraction", "beta_1", "beta_2"):
        check.check_real(params[name], name, 0, 1, high_open=True)
    if not isinstance(est.verbose, (bool, np.bool_, numbers.Integral)):
        raise TypeError(f"verbose must be a bool or an int, got {est.verbose!r}")
    if est.dtype is not None and est.dtype not in ("float32", "float64", np.float32, np.float64):
        raise ValueError(f"dtype must be None, 'float32' or 'float64', got {est.dtype!r}")


@contextlib.contextmanager
def _unchanged_on_error(est):
    """On an exception, put back every attribute est had: the checks and set-up
    of fit may fail after scikit-learn's validate_data has recorded the
    features, and a refused call must leave the estimator as it was."""
    saved = dict(vars(est))
    try:
        yield
    except BaseException:
        vars(est).clear()
        vars(est).update(saved)
        raise


class _Data:
    """Training (and held-out) data of one fit call, ready for MLP.fit."""

    def __init__(self, X, Y, y, sample_weight):
        self.X, self.Y, self.y, self.sample_weight = X, Y, y, sample_weight

    def subset(self, index):
        sw = None if self.sample_weight is None else self.sample_weight[index]
        return _Data(self.X[index], self.Y[index], self.y[index], sw)

    @property
    def n_samples(self):
        return self.X.shape[0]

    def total_weight(self):
        return self.n_samples if self.sample_weight is None else float(self.sample_weight.sum())

    def mean_one_weights(self):
        """The sample weights scaled to mean 1, or None."""
        if self.sample_weight is None:
            return None
        return self.sample_weight * (self.n_samples / self.total_weight())


def _stochastic(est):
    """partial_fit's condition, as scikit-learn's: a stochastic solver."""
    if est.solver == "lbfgs":
        raise AttributeError("partial_fit is only available for stochastic optimizers. "
                             f"{est.solver} is not stochastic.")
    return True


def _one_hot(y, classes):
    """LabelBinarizer's transform of labels y (1-D) with the sorted classes
    (at least two), as float64, or None if y has other labels. A lookup in
    classes: LabelBinarizer's own checks of y cost more than a small fit."""
    index = np.searchsorted(classes, y)
    known = index < len(classes)
    known[known] = classes[index[known]] == y[known]
    if not known.all():
        return None
    if len(classes) == 2:
        return (index == 1).astype(np.float64).reshape(-1, 1)
    Y = np.zeros((len(y), len(classes)))
    Y[np.arange(len(y)), index] = 1.0
    return Y


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, checks, the
    epoch loop and the fitted attributes."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dtype=None, init="sklearn",
                 progress=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.init = init
        self.progress = progress

    # -- fitted attributes ----------------------------------------------------

    @property
    def coefs_(self):
        check_is_fitted(self, "net_")
        return [W.T for W in self.net_.weights]

    @property
    def intercepts_(self):
        check_is_fitted(self, "net_")
        return list(self.net_.biases)

    # -- fitting --------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit the network to X and y for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like or SciPy sparse matrix, shape (n_samples, n_features)
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            Class labels (an indicator matrix for multi-label) or targets.
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weights; each sample's gradient is scaled by its
            weight over the mean weight.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        with _unchanged_on_error(self):
            self.__dict__.pop("_one_row", None)     # what it knows may change
            _check_params(self)
            if self.early_stopping and incremental:
                raise ValueError("partial_fit does not support early_stopping=True")
            first = not (hasattr(self, "net_") and (incremental or self.warm_start))
            X, y = validate_data(self, X, y, accept_sparse="csr",
                                 dtype=(np.float64, np.float32), multi_output=True,
                                 y_numeric=not is_classifier(self), reset=first)
            sample_weight = check.as_sample_weight(sample_weight, X.shape[0], np.float64)
            y, Y = self._encode_targets(y, first, incremental, classes)
            init_seed, split_seed, epoch_seed = (int(seed) for seed in check_random_state(
                self.random_state).randint(SEED_BOUND, size=3))
            if first:
                self._initialize(X, Y, init_seed)
            else:
                self._check_architecture(Y)
            data = _Data(X, Y, y, sample_weight)
            if self.solver != "lbfgs":
                train, val = self._split(data, split_seed)
                batch = self._batch(train.n_samples)
                optimizer = self._optimizer(train, batch)
        if self.solver == "lbfgs":
            self._run_lbfgs(data)
        else:
            self._run_epochs(train, val, batch, optimizer, incremental, epoch_seed)
        return self

    def _run_lbfgs(self, data):
        """scikit-learn's _fit_lbfgs: SciPy's L-BFGS-B on the full-batch loss
        (fastbp._lbfgs), with max_iter, tol and max_fun as scikit-learn reads them."""
        net = self.net_
        objective = _lbfgs.Objective(net, check.as_matrix(data.X, "X", net.n_inputs, net.dtype,
                                                          "features"),
                                     np.ascontiguousarray(data.Y, net.dtype),
                                     data.sample_weight, self.alpha)
        reporter = make_reporter(self.max_iter, data.n_samples, self.progress, False)
        start = time.perf_counter()
        self.loss_curve_ = []

        def after_iteration(n_iter, loss):
            self.loss_curve_.append(loss)
            if self.verbose:
                print(f"Iteration {n_iter}, loss = {loss:.8f}")
            if reporter is not None:
                reporter.epoch_end(n_iter, loss, None, time.perf_counter() - start)

        try:
            result = _lbfgs.minimize(objective, self.max_iter, self.tol, self.max_fun,
                                     after_iteration)
        finally:
            if reporter is not None:
                reporter.close()
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        self.best_loss_ = min(self.loss_curve_, default=self.loss_)
        if not check.all_finite(net.params):
            raise DivergenceError(NON_FINITE)
        if result.status != 0:
            more = (f"\nIncrease the number of iterations to improve the convergence "
                    f"(max_iter={self.max_iter})." if self.n_iter_ == self.max_iter else "")
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                          f"(status={result.status}):\n{result.message}\n{more}",
                          ConvergenceWarning)

    def _loss_grad_lbfgs(self, packed_coef_inter, X, Y, sample_weight, *buffers):
        """scikit-learn's hook of its gradient test: the lbfgs objective
        (fastbp._lbfgs) and its gradient at parameters packed as scikit-learn
        packs them (every ``coefs_[l].ravel()``, then every ``intercepts_[l]``);
        the network takes them on. ``buffers`` are scikit-learn's work arrays,
        unused."""
        net = self.net_
        index_views = views(np.arange(net.params.size), net._layout)
        packing = np.concatenate([W.T.ravel() for W in index_views[0]] + index_views[1])
        params = np.empty(net.params.size)
        params[packing] = packed_coef_inter
        objective = _lbfgs.Objective(net, np.ascontiguousarray(X, net.dtype),
                                     np.ascontiguousarray(np.asarray(Y).reshape(len(X), -1),
                                                          net.dtype),
                                     sample_weight, self.alpha)
        loss, grad = objective(params)
        return loss, grad[packing]

    def _layer_sizes(self, n_features, n_outputs):
        return [n_features] + _hidden_sizes(self.hidden_layer_sizes) + [n_outputs]

    def _initialize(self, X, Y, seed):
        """A new network and fresh bookkeeping, for the first fit."""
        output, loss = self._output()
        dtype = X.dtype if self.dtype is None else np.dtype(self.dtype)
        self.net_ = MLP(self._layer_sizes(X.shape[1], Y.shape[1]),
                        activation=ACTIVATIONS[self.activation], output_activation=output,
                        loss=loss, dtype=dtype, seed=seed, init=self.init)
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(self.net_.layer_sizes)
        self.out_activation_ = {v: k for k, v in SKLEARN_ALIASES.items()}.get(output, output)
        self.t_ = 0
        self.n_iter_ = 0
        self.loss_curve_ = []
        self._reset_stopping()

    def _check_architecture(self, Y):
        """warm_start and partial_fit continue the network they have."""
        sizes = tuple(self._layer_sizes(self.n_features_in_, Y.shape[1]))
        hidden = (ACTIVATIONS[self.activation],) * (len(sizes) - 2)
        if (self.net_.layer_sizes, self.net_.activations[:-1]) != (sizes, hidden):
            raise ValueError(
                f"cannot continue training a {list(self.net_.layer_sizes)} network with "
                f"hidden activations {list(self.net_.activations[:-1])} as a "
                f"{list(sizes)} one with {list(hidden)}; set warm_start=False to start "
                "afresh")
        output = (self.net_.activations[-1], self.net_.loss_name)
        if output != self._output():
            raise ValueError(f"cannot continue training a network with output {output} as "
                             f"one with output {self._output()}; set warm_start=False to "
                             "start afresh")

    def _reset_stopping(self):
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _split(self, data, seed):
        """(training data, held-out data or None); stratified for a single
        output, as scikit-learn does."""
        if not self.early_stopping:
            return data, None
        # scikit-learn's: the binarized labels (its error messages name them).
        stratify = (data.Y.astype(bool) if is_classifier(self) and self.n_outputs_ == 1
                    else None)
        train, val = train_test_split(np.arange(data.n_samples), random_state=seed,
                                      test_size=self.validation_fraction, stratify=stratify)
        if val.shape[0] < 2:
            raise ValueError("The validation set is too small: increase "
                             "validation_fraction or the number of samples")
        return data.subset(train), data.subset(val)

    def _batch(self, n_samples):
        """Samples per update: "auto" is min(200, n_samples), or all of them
        for rprop, which follows the sign of the whole gradient."""
        if self.batch_size == "auto":
            return n_samples if self.solver == "rprop" else min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(f"batch_size={self.batch_size} is larger than the "
                          f"{n_samples} training samples; it is clipped to {n_samples}")
            return n_samples
        if self.solver == "rprop":
            raise ValueError(f"solver='rprop' is full-batch only: batch_size must be 'auto' "
                             f"or at least the {n_samples} training samples, got "
                             f"{self.batch_size}")
        return self.batch_size

    def _optimizer(self, train, batch):
        """MLP.fit's optimizer for the solver and its parameters."""
        # alpha * n / (batch * weight total): scikit-learn's alpha * W / n_batch
        # with unit weights, and its alpha * W / (weight of the batch) on average.
        weight_decay = self.alpha * train.n_samples / (batch * train.total_weight())
        if self.solver == "adam":
            return optim.Adam(self.learning_rate_init, (self.beta_1, self.beta_2),
                              self.epsilon, weight_decay, decay_biases=False)
        if self.solver == "rprop":
            return optim.Rprop(self.learning_rate_init, weight_decay=weight_decay,
                               decay_biases=False)
        return optim.SGD(self.learning_rate_init, self.momentum,
                         bool(self.nesterovs_momentum) and self.momentum > 0, weight_decay,
                         decay_biases=False)

    def _run_epochs(self, train, val, batch, optimizer, incremental, epoch_seed):
        """scikit-learn's _fit_stochastic: epochs, stopping and the best weights,
        in one MLP.fit call whose callback ends each epoch. The sample orders
        come from one generator, seeded with epoch_seed by fit and drawn on
        by partial_fit, so that epochs one call at a time are those of one fit."""
        n_batches = math.ceil(train.n_samples / batch)
        if self.early_stopping and self.validation_scores_ is None:
            self._reset_stopping()     # a warm start switching early stopping on
        best_params = self.net_.params.copy() if self.early_stopping else None
        # fit starts a fresh optimizer (momentum, Adam moments) as scikit-learn
        # does; partial_fit carries on with the one before, and its learning rate.
        warm = incremental and bool(self.loss_curve_)
        if not warm:
            self._lr = self.learning_rate_init
        if not warm or getattr(self, "_orders", None) is None:
            self._orders = np.random.default_rng(epoch_seed)
        self.n_iter_ = 0
        # The data loss is measured before each update; the penalty before
        # the epoch's first.
        penalty = self._penalty(n_batches, train.total_weight())

        def end_epoch(history):
            nonlocal penalty, best_params
            self._end_epoch(history.loss[-1] + penalty, train.n_samples)
            penalty = self._penalty(n_batches, train.total_weight())
            if self.early_stopping and self._score_epoch(val):
                best_params = self.net_.params.copy()
            return self._schedule_says_stop()

        epochs = 1 if incremental else self.max_iter
        try:
            history = self.net_.fit(
                train.X, train.Y, epochs=epochs, batch_size=batch, shuffle=self.shuffle,
                seed=self._orders, optimizer=optimizer,
                schedule=lambda epoch: self._lr, sample_weight=train.mean_one_weights(),
                warm_start=warm, progress=self.progress, callback=end_epoch)
            if history.stop_reason == "epochs" and not incremental:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                              "reached and the optimization hasn't converged yet.",
                              ConvergenceWarning)
        except DivergenceError as exc:
            if not self.early_stopping:
                raise DivergenceError(f"{NON_FINITE} ({exc})") from exc
            # As scikit-learn, whose diverged epochs score NaN: the best
            # epoch's weights are kept.
            self.validation_scores_.append(np.nan)
            warnings.warn(f"Training diverged after {self.n_iter_} epochs; the weights of "
                          "the best validation score are kept.", ConvergenceWarning)
        except KeyboardInterrupt:
            # As scikit-learn: keep what was learned (the parameters of the last
            # completed block of samples) and the best weights so far.
            warnings.warn("Training interrupted by user.")
        if self.early_stopping:
            self.net_.params[...] = best_params

    def _penalty(self, n_batches, total_weight):
        """The L2 term of an epoch's loss: scikit-learn adds alpha |W|^2 / (2
        weight of the batch) to each batch's mean loss, and averages those
        over the samples."""
        with np.errstate(over="ignore"):     # inf for diverged weights, as it should
            squares = sum(float(np.dot(W.ravel(), W.ravel())) for W in self.net_.weights)
        return 0.5 * self.alpha * squares * n_batches / total_weight

    def _end_epoch(self, loss, n_samples):
        """Record an epoch's loss and samples; update the stopping counters of
        the training loss and the invscaling learning rate."""
        self.loss_ = loss
        self.loss_curve_.append(loss)
        self.n_iter_ += 1
        self.t_ += n_samples
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
        if not self.early_stopping:
            self._count_improvement(-self.loss_, -self.best_loss_)
            self.best_loss_ = min(self.best_loss_, self.loss_)
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t

    def _score_epoch(self, val):
        """Score the held-out data (NaN when the predictions are not all
        finite, as scikit-learn); True if it is the best so far."""
        out = self.net_.predict(val.X)
        score = self._score_validated(val, out) if check.all_finite(out) else np.nan
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        self._count_improvement(score, self.best_validation_score_)
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _count_improvement(self, score, best):
        """Epochs in a row whose score (higher is better) beat the best by less than tol."""
        if score < best + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0

    def _schedule_says_stop(self):
        """After n_iter_no_change epochs without improvement: stop, or (sgd
        with the adaptive schedule) divide the learning rate by 5."""
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        what = "Validation score" if self.early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
        if adaptive and self._lr > MIN_ADAPTIVE_LR:
            self._lr /= 5.0
            self._no_improvement_count = 0
            if self.verbose:
                print(f"{msg} Setting learning rate to {self._lr:f}")
            return False
        if self.verbose:
            print(f"{msg} Stopping.")
        return True

    # -- prediction -----------------------------------------------------------

    def _partial_fit(self, X, y, sample_weight, classes=None):
        """partial_fit: one step on a row of a stream (_one_row), else the
        full path, after which the next rows may take the step."""
        one_row = self.__dict__.get("_one_row")
        if one_row is not None and sample_weight is None and \
                one_row.partial_fit(self, X, y, classes):
            return self
        self._fit(X, y, sample_weight, incremental=True, classes=classes)
        self._one_row = _one_row.OneRow.after(
            self, X, sample_weight, classes, lambda: self._optimizer(_Data(X, None, y, None), 1))
        return self

    def _outputs(self, X):
        """The network's outputs for X, shape (n_samples, n_outputs)."""
        out = _one_row.outputs(self, X)
        if out is not None:
            return out.reshape(1, -1)
        X = self._validated_X(X)
        return self.net_.predict(X)

    def _validated_X(self, X):
        check_is_fitted(self, "net_")
        return validate_data(self, X, accept_sparse="csr", dtype=(np.float64, np.float32),
                             reset=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = """A multi-layer perceptron classifier trained by fastbp's compiled core.

    scikit-learn's ``MLPClassifier`` API: binary labels train one sigmoid
    output with binary cross-entropy, more classes a softmax output with
    cross-entropy, and a label indicator matrix (multi-label) one sigmoid
    output per label. Labels may be of any type (ints, strings, ...).
    """ + _PARAMETERS + """    classes_ : ndarray
        The class labels (the label indices for multi-label y).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fastbp.estimators import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((16,), max_iter=300, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """
    @available_if(_stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over X and y, continuing the fitted network.

        Parameters
        ----------
        X : array-like or SciPy sparse matrix, shape (n_samples, n_features)
        y : array-like, shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like, shape (n_samples,), optional
        classes : array-like, shape (n_classes,), optional
            Every class of all the calls: required on the first call (y need
            not hold them all), optional after it, where it must not change.
            Not needed for multi-label y.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, sample_weight, classes)

    def _encode_targets(self, y, first, incremental, classes):
        """Targets for the network (one column per output unit); fits the
        label binarizer on the first call."""
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        binarizer = self._binarizer_for(y, first, incremental, classes)
        if y.ndim == 1 and len(binarizer.classes_) >= 2:
            Y = _one_hot(y, binarizer.classes_)
        else:
            Y = None if set(unique_labels(y)) - set(binarizer.classes_) else (
                binarizer.transform(y).astype(np.float64))
        if Y is None:
            raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` has "
                             f"{binarizer.classes_}. 'y' has {unique_labels(y)}.")
        self._binarizer, self.classes_ = binarizer, binarizer.classes_
        return y, Y

    def _binarizer_for(self, y, first, incremental, classes):
        if incremental and first and classes is None and y.ndim == 1:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if not first:
            self._check_same_classes(y, incremental, classes)
            return self._binarizer
        return LabelBinarizer().fit(y if classes is None or y.ndim == 2 else classes)

    def _check_same_classes(self, y, incremental, classes):
        if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes!r} is not the same as on the first call to "
                             f"partial_fit, {self.classes_!r}")
        if not incremental and set(unique_labels(y)) != set(self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as "
                             f"in the previous call to fit. Previously got {self.classes_}, "
                             f"`y` has {unique_labels(y)}")

    def _output(self):
        # Two classes are one column of the binarizer: one sigmoid unit.
        if self._binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "binary_cross_entropy"

    def _score_validated(self, data, out):
        return accuracy_score(data.y, self._labels(out), sample_weight=data.sample_weight)

    def _labels(self, out):
        if out.shape[0] == 1 and len(self.classes_) > 1 and \
                self._binarizer.y_type_ in ("binary", "multiclass"):
            # What inverse_transform gives (above its threshold 0.5, or the
            # first largest), in a microsecond rather than its 40.
            i = int(out[0, 0] > 0.5) if self.n_outputs_ == 1 else int(out[0].argmax())
            return self.classes_[i:i + 1]
        return self._binarizer.inverse_transform(out.ravel() if self.n_outputs_ == 1 else out)

    def predict(self, X):
        """Class labels, shape (n_samples,) (or (n_samples, n_labels) for multi-label)."""
        return self._labels(self._outputs(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the order
        of ``classes_``; multi-label: each label's probability."""
        out = self._outputs(X)
        if self.n_outputs_ == 1:
            return np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``."""
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = """A multi-layer perceptron regressor trained by fastbp's compiled core.

    scikit-learn's ``MLPRegressor`` API: identity outputs, one per target,
    trained on the squared error (summed over the outputs), or exp outputs
    on the Poisson deviance.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        "poisson": half the Poisson deviance of exp outputs (targets >= 0),
        as scikit-learn's.
    """ + _PARAMETERS.replace("""
    Parameters
    ----------""", "", 1) + """
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastbp.estimators import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> reg = MLPRegressor((32,), solver="sgd", learning_rate_init=0.01,
    ...                    max_iter=100, random_state=0).fit(X, y / y.std())
    >>> reg.score(X, y / y.std()) > 0.5
    True
    """
    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error",
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dtype=None, init="sklearn",
                 progress=False):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, dtype=dtype, init=init, progress=progress)
        self.loss = loss

    @available_if(_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X and y, continuing the fitted network.

        Parameters
        ----------
        X : array-like or SciPy sparse matrix, shape (n_samples, n_features)
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like, shape (n_samples,), optional

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, sample_weight)

    def _encode_targets(self, y, first, incremental, classes):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for "
                             "Poisson regression.")
        return y, y.reshape(y.shape[0], -1)

    def _output(self):
        # Poisson: exp outputs, the mean's log link, as scikit-learn's.
        return ("exp", "poisson") if self.loss == "poisson" else ("identity", "squared_error")

    def _score_validated(self, data, out):
        return r2_score(data.y, self._values(out), sample_weight=data.sample_weight)

    @staticmethod
    def _values(out):
        return out.ravel() if out.shape[1] == 1 else out

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs)."""
        return self._values(self._outputs(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
