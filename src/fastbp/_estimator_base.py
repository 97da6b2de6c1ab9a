"""What ``MLPClassifier`` and ``MLPRegressor`` (``fastbp.estimators``) share:
the base class with its parameters, ``fit`` and ``partial_fit``'s full path,
the per-epoch callback of the one ``MLP.fit`` call (the learning-rate
schedule and the stopping rules, as scikit-learn's ``_fit_stochastic``) and
the fitted attributes. solver="lbfgs" is driven by ``fastbp._lbfgs``.
"""
import contextlib
import math
import warnings

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from fastbp import _lbfgs
from fastbp import _one_row
from fastbp import _validation as check
from fastbp import optim
from fastbp._estimator_params import (ACTIVATIONS, NON_FINITE, SKLEARN_ALIASES, check_params,
                                      hidden_sizes)
from fastbp.errors import DivergenceError
from fastbp.mlp import MLP

# scikit-learn's adaptive schedule stops once a cut would take the rate below this.
MIN_ADAPTIVE_LR = 1e-6
# Largest seed drawn from random_state (numpy's legacy RandomState takes int32).
SEED_BOUND = np.iinfo(np.int32).max


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


class BaseMLP(BaseEstimator):
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
            check_params(self)
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
            _lbfgs.fit_estimator(self, data)
        else:
            self._run_epochs(train, val, batch, optimizer, incremental, epoch_seed)
        return self

    def _loss_grad_lbfgs(self, packed_coef_inter, X, Y, *rest):
        """scikit-learn's hook of its gradient test: the lbfgs objective
        (fastbp._lbfgs) and its gradient at parameters packed as scikit-learn
        packs them; the network takes them on. ``rest`` is sample_weight
        then scikit-learn's four work arrays (unused), or those arrays alone
        as scikit-learn 1.6 passes them, without sample_weight."""
        sample_weight = None if len(rest) == 4 else rest[0]
        return _lbfgs.packed_loss_grad(self.net_, self.alpha, packed_coef_inter, X, Y,
                                       sample_weight)

    def _layer_sizes(self, n_features, n_outputs):
        return [n_features] + hidden_sizes(self.hidden_layer_sizes) + [n_outputs]

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
