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

The parameters' names, documentation and checks are in ``_estimator_params.py``,
the fitting both estimators share in ``_estimator_base.py``, solver="lbfgs" in
``_lbfgs.py`` and the one-row stream path in ``_one_row.py``.
"""
import numpy as np

from fastbp._install import install_hint

try:
    from sklearn.base import ClassifierMixin, RegressorMixin
except ImportError as exc:  # scikit-learn is an optional dependency
    raise ImportError("fastbp.MLPClassifier and fastbp.MLPRegressor need scikit-learn: "
                      + install_hint("sklearn")) from exc
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import column_or_1d

from fastbp._estimator_base import BaseMLP
from fastbp._estimator_params import PARAMETERS


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


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = """A multi-layer perceptron classifier trained by fastbp's compiled core.

    scikit-learn's ``MLPClassifier`` API: binary labels train one sigmoid
    output with binary cross-entropy, more classes a softmax output with
    cross-entropy, and a label indicator matrix (multi-label) one sigmoid
    output per label. Labels may be of any type (ints, strings, ...).
    """ + PARAMETERS + """    classes_ : ndarray
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


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = """A multi-layer perceptron regressor trained by fastbp's compiled core.

    scikit-learn's ``MLPRegressor`` API: identity outputs, one per target,
    trained on the squared error (summed over the outputs), or exp outputs
    on the Poisson deviance.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        "poisson": half the Poisson deviance of exp outputs (targets >= 0),
        as scikit-learn's.
    """ + PARAMETERS.replace("""
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
