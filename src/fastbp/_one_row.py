"""partial_fit, predict and predict_proba of the scikit-learn estimators on
one row, at the cost of ``MLP.train_step`` and ``MLP.predict``.

A stream calls ``partial_fit(X[i:i+1], y[i:i+1])`` once a sample, and
scikit-learn's checks (``validate_data``, the label binarizer, the parameter
checks) cost a millisecond a call. After a ``partial_fit`` has run the full
path, ``OneRow`` remembers what that path established (the parameters it
checked, the label of each output row, the optimizer), and later calls whose
input is the common case of a stream (a float NumPy array of shape
``(1, n_features_in_)``, a known label, no sample weight, unchanged
parameters and classes) take one step directly. Anything else, and anything
the step refuses or that diverges (which changes nothing), takes the full
path, which raises scikit-learn's errors: both paths give the same model.
"""
import operator

import numpy as np

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def row(est, X):
    """X's only row, when X is a float NumPy array of shape (1,
    n_features_in_) for a network fitted without feature names; else None."""
    if (X.__class__ is not np.ndarray or X.ndim != 2 or X.shape[0] != 1
            or X.dtype not in _FLOATS):
        return None
    fitted = est.__dict__
    if "net_" not in fitted or "feature_names_in_" in fitted or \
            X.shape[1] != fitted["n_features_in_"]:
        return None
    return X[0]


def outputs(est, X):
    """The network's outputs for X's one row (shape (n_outputs,)), or None
    where the full checks must run."""
    x = row(est, X)
    if x is None:
        return None
    try:
        return est.net_.predict(x)
    except ValueError:    # NaN or infinity: scikit-learn's words for it
        return None


class OneRow:
    """What a ``partial_fit`` through the full path established, for the
    calls on one row after it (see the module docstring). The parameters
    it checked are compared by identity: set_params, even to an equal
    value, runs the checks again.

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor, just partially fitted on one row
    targets : dict or None
        The network's target row of each label (classifier), or None
        (regressor: y is the target).
    classes : object
        That call's ``classes`` argument, which the full path accepted: later
        calls may pass it again, or an equal list, tuple or array, or None.
    optimizer : fastbp.optim.Optimizer
        The one partial_fit trains a single sample with.
    """

    def __init__(self, est, targets, classes, optimizer):
        self.key = operator.attrgetter(*est._get_param_names())
        self.classes = _listed(classes)
        self.params = self.key(est)
        self.targets = targets
        self.n_outputs = est.n_outputs_
        self.optimizer = optimizer

    @classmethod
    def after(cls, est, X, sample_weight, classes, optimizer):
        """The cache for calls like this partial_fit, or None where the full
        path must run every time (sample weights, lbfgs and rprop, batches
        of more than one sample, feature names, multi-label y); optimizer()
        gives the one this call trained with."""
        if (sample_weight is not None or row(est, X) is None or est.solver not in
                ("sgd", "adam") or est.batch_size not in ("auto", 1)):
            return None
        targets = None
        if hasattr(est, "classes_"):
            if getattr(est._binarizer, "y_type_", None) not in ("binary", "multiclass"):
                return None
            codes = est._binarizer.transform(est.classes_).astype(est.net_.dtype)
            targets = {label: code for label, code in zip(est.classes_.tolist(), codes)}
        return cls(est, targets, classes, optimizer())

    def target(self, y):
        """The network's target for y's one label or row, or None where
        the full path must check (or convert, or warn about) y."""
        if y.__class__ is list:
            if len(y) != 1 or y[0].__class__ in _NESTED:
                return None
            label = y[0]
        elif y.__class__ is np.ndarray and y.ndim == 1 and y.shape[0] == 1:
            label = y[0].item()
        elif y.__class__ is np.ndarray and y.ndim == 2 and y.shape[0] == 1:
            # A regressor's row of outputs (one output: the full path warns).
            return y[0] if self.targets is None and y.shape[1] == self.n_outputs > 1 else None
        else:
            return None
        if self.targets is None:
            return label if self.n_outputs == 1 else None
        try:
            return self.targets.get(label)
        except TypeError:                   # unhashable: not a label
            return None

    def same_classes(self, classes):
        """Whether classes lists what the full path accepted."""
        try:
            return bool(_listed(classes) == self.classes)
        except (TypeError, ValueError):     # elements that do not compare
            return False

    def partial_fit(self, est, X, y, classes):
        """One step of partial_fit on one row; False if the full path must run."""
        x = row(est, X)
        if x is None or not all(map(operator.is_, self.key(est), self.params)) or \
                (classes is not None and not self.same_classes(classes)):
            return False
        t = self.target(y)
        if t is None:
            return False
        penalty = est._penalty(1, 1.0)      # from the parameters before the step
        try:
            loss = est.net_.train_step(x, t, est._lr, optimizer=self.optimizer)
        except (TypeError, ValueError):     # refused or diverged: nothing changed
            return False
        est.n_iter_ = 0
        est._end_epoch(loss + penalty, 1)
        est._schedule_says_stop()
        return True


# What a list of one label may not hold: the full path takes it as a row.
_NESTED = (list, tuple, np.ndarray)


def _listed(classes):
    """classes as a tuple, to compare with those of an earlier call; a
    different object (never equal) when it is not a list, tuple or array."""
    if classes.__class__ is np.ndarray:
        return tuple(classes.tolist())
    if classes.__class__ in (list, tuple):
        return tuple(classes)
    return object()
