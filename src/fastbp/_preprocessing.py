"""The data preparation of ``fastbp train`` and ``fastbp predict`` (``fastbp.cli``).

``train`` reads its columns from the CSV (``fastbp._csv``), chooses the task,
numbers the classes, holds rows out and standardises the features (and, for
regression, the targets) with the training rows' mean and standard
deviation; ``Preprocessing`` keeps what it learned in the model file's
``extra`` and applies it again in ``predict``.
"""
import json
import math
from dataclasses import dataclass

import numpy as np

import fastbp
from fastbp._csv import DataError, parse_number, read_csv
from fastbp.persistence import ModelFileError

TASKS = ("classification", "regression")
# With --task auto, a numeric target of whole numbers is taken for class
# labels when it has at most this many distinct values.
MAX_AUTO_CLASSES = 20
# The "extra" a model file from ``train`` holds: this key, with the version
# of its layout as value, and the keys of Preprocessing.to_extra.
EXTRA_SCHEMA = "fastbp_cli"
EXTRA_VERSION = 1


class UsageError(Exception):
    """Arguments that parse but cannot be used: exit status 2. Raised here
    (classification of several targets, a column both feature and target)
    and by the commands of ``fastbp.cli``."""


# -- preprocessing kept in the model file ---------------------------------------------

@dataclass
class Preprocessing:
    """What ``train`` learned besides the network, and ``predict`` applies.

    Attributes
    ----------
    task : {"classification", "regression"}
    features : list of str
        The input columns, in the network's input order.
    feature_mean, feature_std : ndarray of float64, shape (n_features,)
        Inputs are ``(X - feature_mean) / feature_std``.
    targets : list of str
        One column for classification; the output columns for regression.
    classes : list of str, or None for regression
        The class labels, one per network output (softmax).
    target_mean, target_std : ndarray of float64, shape (n_outputs,), or None
        For regression, the outputs are ``net output * target_std + target_mean``.
    """
    task: str
    features: list
    feature_mean: np.ndarray
    feature_std: np.ndarray
    targets: list
    classes: list = None
    target_mean: np.ndarray = None
    target_std: np.ndarray = None

    def inputs(self, X, path):
        """The network's inputs for raw feature values X, shape (n_samples,
        n_features), read from ``path``; DataError where they overflow."""
        with np.errstate(over="ignore", invalid="ignore"):
            return _finite((X - self.feature_mean) / self.feature_std, self.features, path)

    def values(self, outputs):
        """Regression values, float64, from the network's outputs."""
        return outputs * self.target_std + self.target_mean

    def to_extra(self):
        """A JSON-serialisable dict for ``persistence.save(..., extra=...)``."""
        extra = {EXTRA_SCHEMA: EXTRA_VERSION, "task": self.task, "features": self.features,
                 "feature_mean": self.feature_mean.tolist(),
                 "feature_std": self.feature_std.tolist(), "targets": self.targets}
        if self.task == "classification":
            extra["classes"] = self.classes
        else:
            extra["target_mean"] = self.target_mean.tolist()
            extra["target_std"] = self.target_std.tolist()
        return extra

    @classmethod
    def from_extra(cls, extra, net, path):
        """Check what ``to_extra`` wrote against the network read with it.

        Raises
        ------
        ModelFileError
            Naming ``path`` and the problem, if ``extra`` is missing (a model
            saved by ``MLP.save`` rather than ``fastbp train``) or is not what
            ``to_extra`` writes for this network.
        """
        def fail(problem):
            return ModelFileError(f"{path}: {problem}")

        if extra is None or EXTRA_SCHEMA not in extra:
            raise fail("the model file holds no column names or scaling; `fastbp predict` "
                       "reads models made by `fastbp train`")
        if extra[EXTRA_SCHEMA] != EXTRA_VERSION:
            raise fail(f"extra: {EXTRA_SCHEMA} {extra[EXTRA_SCHEMA]!r} is not supported "
                       f"(fastbp {fastbp.__version__} reads version {EXTRA_VERSION})")
        task = extra.get("task")
        if task not in TASKS:
            raise fail(f"extra: task must be one of {', '.join(TASKS)}, got {task!r}")
        keys = {EXTRA_SCHEMA, "task", "features", "feature_mean", "feature_std", "targets"}
        keys |= {"classes"} if task == "classification" else {"target_mean", "target_std"}
        if extra.keys() != keys:
            raise fail(f"extra: a {task} model needs the keys {sorted(keys)}, "
                       f"got {sorted(extra)}")
        n_in, n_out = net.n_inputs, net.n_outputs
        try:
            prep = cls(task, _labels(extra["features"], "features", n_in),
                       _floats(extra["feature_mean"], "feature_mean", n_in),
                       _floats(extra["feature_std"], "feature_std", n_in, positive=True),
                       _labels(extra["targets"], "targets",
                               1 if task == "classification" else n_out))
            if task == "classification":
                if net.activations[-1] != "softmax":
                    raise ValueError("a classification model needs a softmax output layer, "
                                     f"this one has {net.activations[-1]}")
                prep.classes = _labels(extra["classes"], "classes", n_out)
            else:
                prep.target_mean = _floats(extra["target_mean"], "target_mean", n_out)
                prep.target_std = _floats(extra["target_std"], "target_std", n_out,
                                          positive=True)
        except ValueError as e:
            raise fail(f"extra: {e}") from None
        return prep


def _finite(values, names, path):
    """Standardised ``values``, whose column k comes from column ``names[k]``
    of ``path``; DataError naming the first column where x - mean overflowed."""
    bad = ~np.isfinite(values).all(axis=0)
    if bad.any():
        raise DataError(f"{path}: column {names[int(np.argmax(bad))]!r} holds values too "
                        "large to standardise in float64 (x - mean overflows); rescale "
                        "the column")
    return values


def _labels(value, name, n):
    """``value`` as n distinct non-empty strings; ValueError otherwise."""
    if not (isinstance(value, list) and len(value) == n
            and all(isinstance(v, str) and v for v in value) and len(set(value)) == n):
        raise ValueError(f"{name} must be a list of {n} distinct non-empty strings, "
                         f"got {json.dumps(value)[:80]}")
    return value


def _floats(value, name, n, positive=False):
    """``value`` as a float64 array of n finite numbers (> 0 if ``positive``)."""
    ok = (isinstance(value, list) and len(value) == n
          and all(type(v) in (int, float) and math.isfinite(v) and (v > 0 or not positive)
                  for v in value))
    if not ok:
        kind = "positive finite numbers" if positive else "finite numbers"
        raise ValueError(f"{name} must be a list of {n} {kind}, got {json.dumps(value)[:80]}")
    return np.array(value, dtype=np.float64)


# -- training data --------------------------------------------------------------------

def choose_task(table, targets, requested):
    """The task and the reason for it, for the target columns' text.

    ``requested`` "auto" picks classification for one target column that is
    not numeric, or holds at most MAX_AUTO_CLASSES distinct whole numbers;
    regression otherwise.
    """
    if requested != "auto":
        if requested == "classification" and len(targets) > 1:
            raise UsageError(f"classification takes one target column, got {len(targets)} "
                             f"({', '.join(targets)})")
        return requested, f"--task {requested}"
    if len(targets) > 1:
        return "regression", f"auto: {len(targets)} target columns"
    name = targets[0]
    values = [parse_number(text) for text in table.column(name)]
    if None in values:
        return "classification", f"auto: target {name!r} is not numeric"
    distinct = set(values)
    if all(v.is_integer() for v in distinct) and len(distinct) <= MAX_AUTO_CLASSES:
        return ("classification",
                f"auto: target {name!r} holds {len(distinct)} distinct whole numbers")
    return "regression", f"auto: target {name!r} holds {len(distinct)} distinct numbers"


def encode_classes(table, name):
    """Class labels of column ``name`` and each row's class index.

    Labels that are all numbers are the same class when their values are
    equal ("1" and "1.0"), written as whole numbers where they are whole and
    sorted by value; other labels are the text, sorted.

    Returns
    -------
    classes : list of str
    index : ndarray of intp, shape (n_rows,)
    """
    fields = table.column(name)
    numbers = [parse_number(text) for text in fields]
    keys = fields if None in numbers else numbers
    order = sorted(set(keys))
    if len(order) < 2:
        raise DataError(f"{table.path}: target column {name!r} holds one class only "
                        f"({fields[0]!r}); classification needs at least 2")
    position = {key: k for k, key in enumerate(order)}
    classes = order if keys is fields else [_number_label(v) for v in order]
    return classes, np.array([position[key] for key in keys], dtype=np.intp)


def _number_label(value):
    return str(int(value)) if value.is_integer() else repr(value)


def scale_of(A):
    """Column means and standard deviations of A; a constant column gets
    std 1 (dividing by 0 would give NaN; the column becomes all zeros).
    Where the sums or squares of values up to 1e308 overflow, they are taken
    of A divided by the column's largest magnitude and scaled back."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = A.mean(axis=0), A.std(axis=0)
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        big = np.abs(A).max(axis=0)
        big = np.where(big > 0, big, 1.0)
        mean, std = (A / big).mean(axis=0) * big, (A / big).std(axis=0) * big
    return mean, np.where(std > 0, std, 1.0)


def split_rows(n_rows, fraction, seed, path):
    """Shuffled training and held-out row indices; ``fraction`` of the rows,
    rounded, are held out (none for 0)."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_test = round(n_rows * fraction)
    if fraction > 0 and not 0 < n_test < n_rows:
        raise DataError(f"{path}: {n_rows} rows are too few to hold out {fraction:g} of "
                        "them and train on the rest")
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def score(prep, net, X, y, path):
    """Accuracy (classification: y holds class indices) or R^2 averaged over
    the outputs (regression: y holds values), of net on raw features X."""
    out = net.predict(prep.inputs(X, path))
    if prep.task == "classification":
        return float(np.mean(out.argmax(axis=1) == y))
    # In units of the training targets' std, whose squares stay finite for
    # values up to 1e308.
    y = y / prep.target_std
    residual = ((y - (out + prep.target_mean / prep.target_std)) ** 2).sum(axis=0)
    total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    # A constant column has no variance to explain: R^2 is 1 if it is hit
    # exactly, else 0 (scikit-learn's r2_score does the same).
    r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1),
                  np.where(residual == 0, 1.0, 0.0))
    return float(r2.mean())


@dataclass
class TrainingData:
    """The columns ``train`` uses, read and checked.

    ``X`` holds the features (float64, shape (n_rows, n_features)); ``y`` the
    class indices (intp, shape (n_rows,)) for classification, the values
    (float64, shape (n_rows, n_targets)) for regression; ``classes`` the
    labels, or None; ``why`` says how the task was chosen.
    """
    features: list
    targets: list
    X: np.ndarray
    task: str
    why: str
    y: np.ndarray
    classes: list = None


def read_training_data(args):
    """The features and targets of ``args.data`` as ``train``'s options name them."""
    table = read_csv(args.data, args.delimiter)
    targets = args.target
    for name in targets:
        fields = table.column(name)
        if "" in fields:
            # As a class it would be "", which no model file can hold.
            raise DataError(f"{args.data}: column {name!r}, line "
                            f"{table.lines[fields.index('')]}: the target is empty; fill it "
                            "in or drop the row")
    features = args.features or [c for c in table.columns if c not in targets]
    both = [name for name in features if name in targets]
    if both:
        raise UsageError(f"column {both[0]!r} is both a feature and a target")
    if not features:
        raise DataError(f"{args.data}: there are no columns besides the target to learn from")
    X = table.numbers(features)
    task, why = choose_task(table, targets, args.task)
    if task == "regression":
        return TrainingData(features, targets, X, task, why, table.numbers(targets))
    classes, index = encode_classes(table, targets[0])
    return TrainingData(features, targets, X, task, why, index, classes)


def fit_preprocessing(data, rows, path):
    """The Preprocessing learned from the training ``rows``, and the network's
    targets for every row: one-hot classes, or standardised values."""
    prep = Preprocessing(data.task, data.features, *scale_of(data.X[rows]), data.targets,
                         data.classes)
    if data.task == "classification":
        return prep, np.eye(len(data.classes))[data.y]
    prep.target_mean, prep.target_std = scale_of(data.y[rows])
    with np.errstate(over="ignore", invalid="ignore"):
        Y = (data.y - prep.target_mean) / prep.target_std
    return prep, _finite(Y, data.targets, path)
