"""Pictures of training with matplotlib: loss curves, the class regions of a
classifier of two features, and the network with its weights (``network``,
drawn by ``fastbp._plot_network``).

matplotlib is optional (``pip install "fastbp[plot]"``): it is imported only
inside the functions that draw (``fastbp._matplotlib``), so ``import
fastbp.plot`` works without it. The displays follow scikit-learn's Display pattern: a constructor that
holds the numbers, ``plot(ax=None, ...)`` that draws them and returns the
display, and ``ax_``, ``figure_`` and the drawn artists as attributes.
"""
import numpy as np

from fastbp import _validation as check
from fastbp._matplotlib import axes, pyplot
# The network picture lives in a module of its own; its names are this module's too.
from fastbp._plot_network import (  # noqa: F401
    COLUMN_GAP, DIGITS, HIGHLIGHT, INCHES_PER_UNIT, LABEL_AT, MAX_ANNOTATED_UNITS, MAX_EDGES,
    MAX_INCHES, MAX_LABELLED_EDGES, MAX_SPREAD, MAX_WIDTH, MIN_WIDTH, NEGATIVE, POSITIVE,
    RADIUS, ROW_GAP, ZERO, NetworkDisplay, StepDisplay, edge_width, network, number_text)

__all__ = ["plot_history", "LossCurveDisplay", "decision_boundary",
           "DecisionBoundaryDisplay", "network", "NetworkDisplay", "StepDisplay"]


def _curve(values, name):
    """values as a 1-D float array, None when absent or empty (a History
    without validation data has ``val_loss == []``)."""
    if values is None:
        return None
    a = check.as_numeric(values, name).astype(np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per epoch), got shape {a.shape}")
    return a if a.size else None


# -- loss curves ---------------------------------------------------------------


class LossCurveDisplay:
    """Training loss per epoch, with the validation loss or score if recorded.

    Parameters
    ----------
    loss : array-like of float, shape (n_epochs,)
        Training loss per epoch (``History.loss``, scikit-learn's ``loss_curve_``).
    val_loss : array-like of float, shape (n_epochs,), optional
        Validation loss per epoch (``History.val_loss``), drawn on the same
        axes; empty counts as absent.
    val_score : array-like of float, shape (n_epochs,), optional
        A validation *score* per epoch, where higher is better (scikit-learn's
        ``validation_scores_``, an accuracy or R²). It is not on the loss's
        scale, so it is drawn against a second y-axis at the right.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the loss curves (after ``plot``).
    figure_ : matplotlib Figure
    lines_ : list of matplotlib Line2D
        The training loss, then the validation loss and the validation score,
        each when present.
    score_ax_ : matplotlib Axes or None
        The right-hand axes of ``val_score``; None without it.

    Examples
    --------
    >>> history = net.fit(X, Y, epochs=100)                  # doctest: +SKIP
    >>> LossCurveDisplay.from_history(history).ax_.set_yscale("log")  # doctest: +SKIP
    """

    def __init__(self, loss, val_loss=None, val_score=None):
        self.loss = _curve(loss, "loss")
        if self.loss is None:
            raise ValueError("loss is empty: there is no epoch to draw")
        self.val_loss = _curve(val_loss, "val_loss")
        self.val_score = _curve(val_score, "val_score")

    def plot(self, ax=None, **kwargs):
        """Draw the curves against the epoch number (1, 2, ...).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            None draws on a new figure.
        **kwargs
            Style keywords of ``Axes.plot`` for every curve (e.g.
            ``linewidth``); the labels stay those of the legend.

        Returns
        -------
        self
        """
        ax = axes(ax)
        self.lines_ = [self._line(ax, self.loss, "training loss", kwargs)]
        if self.val_loss is not None:
            self.lines_.append(self._line(ax, self.val_loss, "validation loss", kwargs))
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        self.score_ax_ = None
        if self.val_score is not None:
            self.score_ax_ = ax.twinx()
            # The twin axes start their own colour cycle: continue the loss
            # axes' one ("C2" after two curves), so on fresh axes no two
            # curves share a colour.
            style = {"color": f"C{len(self.lines_)}", **kwargs}
            self.lines_.append(self._line(self.score_ax_, self.val_score, "validation score",
                                          style))
            self.score_ax_.set_ylabel("validation score")
        # One legend for both axes, in a row above them, where it covers no
        # curve (inside, the validation curve often runs under it).
        ax.legend(handles=self.lines_, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                  ncol=len(self.lines_), frameon=False)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @staticmethod
    def _line(ax, values, label, kwargs):
        epochs = np.arange(1, values.size + 1)
        (line,) = ax.plot(epochs, values, **{**kwargs, "label": label})
        return line

    @classmethod
    def from_history(cls, history, *, ax=None, **kwargs):
        """Draw a ``fastbp.History``'s loss and validation loss.

        Parameters
        ----------
        history : fastbp.History
        ax, **kwargs
            As for ``plot``.

        Returns
        -------
        LossCurveDisplay
        """
        return cls(history.loss, history.val_loss).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, **kwargs):
        """Draw the loss curve of a fitted model.

        Parameters
        ----------
        estimator : object
            A scikit-learn-style estimator with ``loss_curve_`` and optionally
            ``validation_scores_`` (scikit-learn's MLPClassifier/MLPRegressor,
            fastbp's estimators), or a ``fastbp.MLP`` whose ``history`` is set
            by ``fit``.
        ax, **kwargs
            As for ``plot``.

        Returns
        -------
        LossCurveDisplay
        """
        if getattr(estimator, "loss_curve_", None) is not None:
            display = cls(estimator.loss_curve_,
                          val_score=getattr(estimator, "validation_scores_", None))
            return display.plot(ax=ax, **kwargs)
        if getattr(estimator, "history", None) is not None:
            return cls.from_history(estimator.history, ax=ax, **kwargs)
        raise ValueError(f"{type(estimator).__name__} has no loss curve to draw: it needs "
                         "loss_curve_ (a fitted scikit-learn-style estimator) or history "
                         "(a fastbp.MLP after fit); fit it first")


def plot_history(history, ax=None):
    """Draw a ``fastbp.History``: training loss and, if recorded, validation
    loss per epoch. ``History.plot`` calls this.

    Parameters
    ----------
    history : fastbp.History
    ax : matplotlib Axes, optional
        None draws on a new figure.

    Returns
    -------
    matplotlib Axes
        Call ``ax.set_yscale("log")`` on it for losses spanning decades.
    """
    return LossCurveDisplay.from_history(history, ax=ax).ax_


# -- decision regions ----------------------------------------------------------


class DecisionBoundaryDisplay:
    """The class a classifier gives each point of a grid over two features,
    with samples drawn on top. Made by ``decision_boundary``.

    Parameters
    ----------
    xx0, xx1 : ndarray of float, shape (n_rows, n_columns)
        Coordinates of the grid points (as from ``numpy.meshgrid``).
    response : ndarray of int, shape (n_rows, n_columns)
        Class index at each grid point: ``classes[response]`` is its label.
    classes : array-like, shape (n_classes,)
        Label of each class index.
    X : ndarray, shape (n_samples, 2), optional
        Samples to draw as points.
    y_index : ndarray of int, shape (n_samples,), optional
        Class index of each sample, which sets its colour.
    feature_names : pair of str, default ("x1", "x2")
        The labels of the horizontal and the vertical axis.

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure (after ``plot``)
    surface_ : matplotlib QuadContourSet
        The filled regions; its levels are the halfway points between class
        indices.
    scatters_ : list of matplotlib PathCollection
        One per class that has samples, labelled with the class.
    colors_ : list of matplotlib colours
        One per class (after ``plot``).
    """

    def __init__(self, xx0, xx1, response, classes, X=None, y_index=None,
                 feature_names=("x1", "x2")):
        self.xx0, self.xx1, self.response = xx0, xx1, response
        self.classes = np.asarray(classes)
        self.X, self.y_index = X, y_index
        self.feature_names = feature_names

    def plot(self, ax=None, *, colors=None, alpha=0.35, **kwargs):
        """Fill each class's region in its colour and draw the samples in the
        colour of their true class, so misclassified samples stand out.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            None draws on a new figure.
        colors : list of matplotlib colours, optional
            One per class; by default matplotlib's "tab10" palette (or
            "viridis" steps beyond 10 classes).
        alpha : float, default 0.35
            Opacity of the regions.
        **kwargs
            Passed to ``Axes.contourf``.

        Returns
        -------
        self
        """
        plt = pyplot()
        k = self.classes.size
        if colors is None:
            colors = (list(plt.get_cmap("tab10").colors[:k]) if k <= 10
                      else list(plt.get_cmap("viridis")(np.linspace(0, 1, k))))
        if len(colors) != k:
            raise ValueError(f"colors needs one colour per class ({k}), got {len(colors)}")
        ax = axes(ax)
        # One band per class index i: [i - 0.5, i + 0.5].
        levels = np.arange(k + 1) - 0.5
        self.surface_ = ax.contourf(self.xx0, self.xx1, self.response, levels=levels,
                                    colors=colors, alpha=alpha, **kwargs)
        self.scatters_ = []
        if self.X is not None:
            for i in np.unique(self.y_index):
                mine = self.y_index == i
                self.scatters_.append(ax.scatter(self.X[mine, 0], self.X[mine, 1],
                                                 color=colors[i], edgecolors="black",
                                                 label=str(self.classes[i]), zorder=3))
            ax.legend(title="class")
        ax.set_xlabel(self.feature_names[0])
        ax.set_ylabel(self.feature_names[1])
        self.colors_ = colors
        self.ax_, self.figure_ = ax, ax.figure
        return self


def decision_boundary(model, X, y, ax=None, resolution=200, threshold=0.5, margin=0.1,
                      feature_names=None, **kwargs):
    """Draw the class regions of a classifier of two features, and the samples.

    Parameters
    ----------
    model : fastbp.MLP, fastbp.reference.MLP or a fitted classifier
        A network with 2 inputs, whose outputs are read as classes: one output
        means class 1 where it is >= ``threshold`` (0.5 suits a sigmoid
        output, 0 a tanh output), k outputs (softmax) mean the class of the
        largest. A model with ``classes_`` (a scikit-learn classifier, a
        fastbp estimator) is asked for ``predict`` labels instead.
    X : array-like, shape (n_samples, 2)
        The samples; the grid spans their range plus ``margin``.
    y : array-like, shape (n_samples,) or (n_samples, n_outputs)
        Their true classes. For a model with ``classes_``: labels from
        ``classes_``. For a network: the targets as given to ``fit``, read
        like its outputs (one column by ``threshold``, one-hot rows by their
        largest entry), or, for k outputs, class numbers 0 to k-1.
    ax : matplotlib Axes, optional
        None draws on a new figure.
    resolution : int, default 200
        Grid points along each axis (resolution² predictions).
    threshold : float, default 0.5
    margin : float, default 0.1
        Added on each side of each feature's range, as a fraction of it.
    feature_names : pair of str, optional
        The axis labels. Default: the model's ``feature_names_in_`` (a
        scikit-learn estimator fitted on a DataFrame), else X's column names
        (a DataFrame), else "x1" and "x2".
    **kwargs
        Passed to ``DecisionBoundaryDisplay.plot`` (``colors``, ``alpha``, and
        keywords of ``Axes.contourf``).

    Returns
    -------
    DecisionBoundaryDisplay
        Holds the grid (``xx0``, ``xx1``), each grid point's class index
        (``response``) and labels (``classes``), and the matplotlib artists.

    Raises
    ------
    ValueError
        If X is not (n_samples, 2) and finite, y does not match X or the
        model's classes, resolution or margin is out of range, or
        feature_names is not two names; raised before anything is drawn.
    """
    feature_names = _feature_names(feature_names, model, X)
    X = _two_features(X)
    resolution = check.check_positive_int(resolution, "resolution")
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2 (grid points per axis), got {resolution}")
    if not (np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    xx0, xx1 = _grid(X, resolution, margin)
    points = np.column_stack([xx0.ravel(), xx1.ravel()])
    response, classes, y_index = _classify(model, points, y, X.shape[0], threshold)
    display = DecisionBoundaryDisplay(xx0, xx1, response.reshape(xx0.shape), classes, X,
                                      y_index, feature_names)
    return display.plot(ax=ax, **kwargs)


def _feature_names(names, model, X):
    """The two axis labels: ``names``, the model's or X's column names, or x1, x2."""
    if names is None:
        names = getattr(model, "feature_names_in_", getattr(X, "columns", ("x1", "x2")))
    names = [str(name) for name in names] if not isinstance(names, str) else [names]
    if len(names) != 2:
        raise ValueError(f"feature_names must be two names (x, y axis), got {len(names)}")
    return tuple(names)


def _two_features(X):
    """X as a finite float (n_samples, 2) array."""
    X = check.as_numeric(X, "X").astype(np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError("X must have shape (n_samples, 2): decision_boundary draws a "
                         f"classifier of two features on the plane; got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError("X is empty: it needs at least one sample")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity")
    return X


def _grid(X, resolution, margin):
    """Coordinates of a resolution x resolution grid over X's range."""
    low, high = X.min(axis=0), X.max(axis=0)
    # A feature with one value still gets a band of width 2 * margin.
    pad = margin * np.where(high > low, high - low, 1.0)
    return np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
                       np.linspace(low[1] - pad[1], high[1] + pad[1], resolution))


def _classify(model, points, y, n_samples, threshold):
    """Class index of each grid point, the classes' labels, and the class
    index of each sample from y (see ``decision_boundary``)."""
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != n_samples:
        raise ValueError(f"y must have one entry or row per sample of X ({n_samples}), "
                         f"got shape {y.shape}")
    if hasattr(model, "classes_"):
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError("y must hold one label per sample for a model with classes_, "
                             f"got shape {y.shape}")
        classes = np.asarray(model.classes_)
        return (_label_index(np.asarray(model.predict(points)), classes, "predict"),
                classes, _label_index(y.ravel(), classes, "y"))
    outputs = np.asarray(model.predict(points), dtype=np.float64).reshape(len(points), -1)
    n_outputs = outputs.shape[1]
    return (_output_classes(outputs, threshold), np.arange(max(2, n_outputs)),
            _target_classes(y, n_outputs, threshold))


def _output_classes(outputs, threshold):
    """Class index of each row of network outputs, shape (n, n_outputs)."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] >= threshold).astype(np.intp)
    return outputs.argmax(axis=1)


def _target_classes(y, n_outputs, threshold):
    """Class index of each sample from a network's targets or class numbers."""
    y = check.as_numeric(y, "y").astype(np.float64)
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity")
    if y.ndim == 1 and n_outputs > 1:
        if not np.isin(y, np.arange(n_outputs)).all():
            raise ValueError(f"y as a 1-D array holds class numbers 0 to {n_outputs - 1} "
                             "for this network's outputs; got other values")
        return y.astype(np.intp)
    y = y.reshape(y.shape[0], -1)
    if y.shape[1] != n_outputs:
        raise ValueError(f"y has {y.shape[1]} columns, but the network has {n_outputs} "
                         "outputs")
    return _output_classes(y, threshold)


def _label_index(labels, classes, name):
    """Position of each label in classes (which need not be sorted)."""
    match = labels.reshape(-1, 1) == classes.reshape(1, -1)
    unknown = ~match.any(axis=1)
    if unknown.any():
        raise ValueError(f"{name} gives a label that is not in the model's classes_ "
                         f"{classes.tolist()}: {labels[unknown][:1].tolist()[0]!r}")
    return match.argmax(axis=1)
