"""Pictures of training with matplotlib: loss curves and the class regions of
a classifier of two features.

matplotlib is optional (``pip install "fastbp[plot]"``): this module imports it
only inside the functions that draw, so ``import fastbp.plot`` works without
it. The displays follow scikit-learn's Display pattern: a constructor that
holds the numbers, ``plot(ax=None, ...)`` that draws them and returns the
display, and ``ax_``, ``figure_`` and the drawn artists as attributes.
"""
import numpy as np

from fastbp import _validation as check
from fastbp._install import install_hint
from fastbp import reference
from fastbp.trace import StepTrace, _as_reference, _unit_names, passes

__all__ = ["plot_history", "LossCurveDisplay", "decision_boundary",
           "DecisionBoundaryDisplay", "network", "NetworkDisplay", "StepDisplay"]


def _pyplot():
    """matplotlib.pyplot, or an ImportError that says what to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("fastbp.plot draws with matplotlib, which is not installed: "
                          + install_hint("plot")) from exc
    return plt


def _axes(ax):
    """ax, or the Axes of a new figure when ax is None (as scikit-learn's
    displays do: never draw over whatever figure happens to be current)."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
    return ax


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
        ax = _axes(ax)
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
        plt = _pyplot()
        k = self.classes.size
        if colors is None:
            colors = (list(plt.get_cmap("tab10").colors[:k]) if k <= 10
                      else list(plt.get_cmap("viridis")(np.linspace(0, 1, k))))
        if len(colors) != k:
            raise ValueError(f"colors needs one colour per class ({k}), got {len(colors)}")
        ax = _axes(ax)
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


# -- the network ---------------------------------------------------------------

# Numbers on the picture: 4 significant digits, enough to see one step of the
# worked examples move a weight (0.15 -> 0.1498) without crowding the edges.
DIGITS = 4
POSITIVE, NEGATIVE, ZERO = "tab:blue", "tab:red", "tab:gray"
HIGHLIGHT = "#ffd54f"
# Above these sizes the picture degrades gracefully: no weight on the edges,
# no numbers beside the units, and only the strongest edges drawn.
MAX_LABELLED_EDGES = 40
MAX_ANNOTATED_UNITS = 12
MAX_EDGES = 400
# Layout in data units: columns COLUMN_GAP apart, units ROW_GAP apart until a
# column holds more than MAX_SPREAD units, which are then squeezed into the
# height of MAX_SPREAD.
COLUMN_GAP, ROW_GAP, RADIUS, MAX_SPREAD = 3.4, 1.7, 0.32, 10
# Where along an edge (from its source) the weight is written: near the
# source, edges that fan out from one unit are far enough apart to label.
LABEL_AT = 0.3
MIN_WIDTH, MAX_WIDTH = 0.5, 4.0
# A new figure's size: inches per layout unit, so 8-point numbers fit
# between units ROW_GAP apart; capped for large networks.
INCHES_PER_UNIT, MAX_INCHES = 0.72, 16.0


def number_text(value):
    """A number as the network picture writes it (``DIGITS`` significant digits)."""
    return f"{value:.{DIGITS}g}"


def edge_width(w, scale, dense=False):
    """The line width of an edge of weight w: MIN_WIDTH at 0, growing with
    |w| to the widest at ``scale`` (a third as wide on a dense picture)."""
    widest = MAX_WIDTH / 3 if dense else MAX_WIDTH
    return MIN_WIDTH + (widest - MIN_WIDTH) * min(abs(w) / scale, 1.0)


class NetworkDisplay:
    """A network drawn as units in layers with every edge labelled by its
    weight; made by ``network``.

    Parameters
    ----------
    weights : list of list of list of float
        ``weights[l][j][i]``: the weight from unit i of layer l into unit j of
        layer l + 1, as ``MLP.weights``.
    biases : list of list of float, or None
        ``biases[l][j]``, drawn as the edge from a bias unit (output 1).
    activations : list of str
        One per weight layer.
    x : list of float, optional
        A sample: the input units show it, the others their net input and output.
    nets, outs : list of list of float, optional
        Per weight layer, the net inputs and outputs of its units for ``x``.
    t : list of float, optional
        The target; the output units show it.
    deltas : list of list of float, optional
        Per weight layer, each unit's delta dE/dnet.
    changed : set of tuple, optional
        Keys of ``edges_`` (see below) to highlight, as the weights a step changed.
    title : str, optional

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure (after ``plot``)
    names_ : list of list of str
        Unit names per layer: x1.. inputs, h1.. hidden (h1.1.. with several
        hidden layers), o1.. outputs, as ``trace_step``'s report names them.
    units_ : dict of str to matplotlib Circle
        Every unit, bias units included ("bias1" feeds the first weight layer).
    edges_ : dict of (str, str) to matplotlib Line2D
        Every edge drawn, keyed (target, source) as the report writes
        "w h1,x1"; a bias edge has the bias unit as source: ("h1", "bias1").
    edge_labels_ : dict of (str, str) to matplotlib Text
        The weight written on each edge (``number_text``); empty above
        ``MAX_LABELLED_EDGES`` edges unless asked for.
    unit_texts_ : dict of str to matplotlib Text
        What each unit shows for the sample, one "symbol value" per line:
        x for inputs; net, out, then t and delta where given.
    n_edges_ : int
        Edges of the network (weights and biases); ``len(edges_)`` of them
        are drawn.
    layer_texts_ : list of matplotlib Text
        Under each column: "inputs", then each weight layer's activation.
    """

    def __init__(self, weights, biases, activations, x=None, nets=None, outs=None, t=None,
                 deltas=None, changed=(), title=None):
        self.weights, self.biases, self.activations = weights, biases, list(activations)
        self.x, self.nets, self.outs, self.t, self.deltas = x, nets, outs, t, deltas
        self.changed, self.title = set(changed), title
        sizes = [len(weights[0][0])] + [len(W) for W in weights]
        self.names_ = _unit_names(len(weights), sizes)

    @classmethod
    def from_model(cls, net, x=None, t=None):
        """The display of a fastbp.MLP or reference.MLP, with the passes of
        sample ``x`` (and target ``t``) computed but not applied."""
        ref = _as_reference(net)
        if t is not None and x is None:
            raise ValueError("t needs x: a target is compared with the output for a sample")
        numbers = {}
        if x is not None:
            x, t, nets, outs, error, deltas = passes(ref, x, t)
            numbers = dict(x=x, nets=nets, outs=outs, t=t, deltas=deltas,
                           title=None if t is None else f"E = {number_text(error)}")
        return cls(ref.weights, ref.biases, ref.activations, **numbers)

    def edge_values(self):
        """{(target, source): weight} for every edge of the network."""
        return {key: w for layer in self._edge_layers() for key, w in layer.items()}

    def _edge_layers(self):
        """Per weight layer, {(target, source): weight} of its edges."""
        layers = []
        for l, W in enumerate(self.weights):
            layer = {}
            for j, u in enumerate(self.names_[l + 1]):
                for i, v in enumerate(self.names_[l]):
                    layer[(u, v)] = W[j][i]
                if self.biases is not None:
                    layer[(u, f"bias{l + 1}")] = self.biases[l][j]
            layers.append(layer)
        return layers

    def plot(self, ax=None, *, labels=None, max_edges=MAX_EDGES, scale=None):
        """Draw the network.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            None draws on a new figure.
        labels : bool, optional
            Write each weight on its edge; None: when there are at most
            ``MAX_LABELLED_EDGES`` edges.
        max_edges : int, default MAX_EDGES
            Above this many edges, only the strongest (largest ``|w|``) of
            each layer are drawn, in proportion to the layer's share.
        scale : float, optional
            The ``|w|`` drawn at the largest width; None: the network's largest.

        Returns
        -------
        self
        """
        max_edges = check.check_positive_int(max_edges, "max_edges")
        if ax is None:
            _, ax = _pyplot().subplots(figsize=self.figure_size(), layout="constrained")
        values = self.edge_values()
        self.n_edges_ = len(values)
        labels = self.n_edges_ <= MAX_LABELLED_EDGES if labels is None else labels
        scale = scale or max((abs(w) for w in values.values()), default=0.0) or 1.0
        centres = self._centres()
        self.units_, self.edges_, self.edge_labels_, self.unit_texts_ = {}, {}, {}, {}
        drawn = _strongest(self._edge_layers(), max_edges)
        # Many edges drawn wide hide each other: thin and fade them.
        dense = len(drawn) > MAX_LABELLED_EDGES
        for key in drawn:
            self._edge(ax, key, values[key], centres, scale, labels, dense)
        radius = self._radius()
        for name, (cx, cy) in centres.items():
            bias = name.startswith("bias")
            self.units_[name] = ax.add_patch(_circle((cx, cy), radius, bias))
            if radius >= 0.15:
                ax.text(cx, cy, "1" if bias else name, ha="center", va="center",
                        fontsize=9, zorder=4)
        annotated = self.x is not None and max(map(len, self.names_)) <= MAX_ANNOTATED_UNITS
        if annotated:
            for name, lines in self._annotations().items():
                cx, cy = centres[name]
                self.unit_texts_[name] = ax.text(
                    cx, cy + radius + 0.08, lines, ha="center", va="bottom", fontsize=7.5,
                    zorder=5, linespacing=1.15,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="0.8", alpha=0.9))
        xs, ys = zip(*centres.values())
        bottom = min(ys) - radius - 0.15
        self.layer_texts_ = [ax.text(c * COLUMN_GAP, bottom, caption, ha="center", va="top",
                                     fontsize=8, color="0.35")
                             for c, caption in enumerate(["inputs"] + self.activations)]
        ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
        # Room above the top units for their numbers (up to four lines), and
        # below the bottom ones for the captions.
        ax.set_ylim(bottom - 0.45, max(ys) + radius + (1.2 if annotated else 0.3))
        ax.set_aspect("equal")
        ax.set_axis_off()
        if self.title:
            ax.set_title(self.title, fontsize=10)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def figure_size(self):
        """(width, height) in inches that gives the numbers room:
        ``INCHES_PER_UNIT`` per unit of the layout, at most ``MAX_INCHES``."""
        columns = len(self.names_)
        rows = min(max(map(len, self.names_)), MAX_SPREAD) + (self.biases is not None)
        width = ((columns - 1) * COLUMN_GAP + 1.8) * INCHES_PER_UNIT
        height = ((rows - 1) * ROW_GAP + 2.6) * INCHES_PER_UNIT
        return min(width, MAX_INCHES), min(height, MAX_INCHES)

    def _centres(self):
        """(x, y) of every unit: columns by layer, bias units below their column."""
        spread = ROW_GAP * (min(max(map(len, self.names_)), MAX_SPREAD) - 1)
        centres = {}
        for c, names in enumerate(self.names_):
            n = len(names)
            span = min(spread, ROW_GAP * (n - 1))
            for r, name in enumerate(names):
                centres[name] = (c * COLUMN_GAP, span / 2 - (span / max(n - 1, 1)) * r)
            if self.biases is not None and c < len(self.weights):
                centres[f"bias{c + 1}"] = (c * COLUMN_GAP + 0.35 * COLUMN_GAP,
                                           -spread / 2 - ROW_GAP)
        return centres

    def _radius(self):
        """RADIUS, or less where a column is squeezed (see ``_centres``)."""
        widest = max(map(len, self.names_))
        gap = ROW_GAP if widest <= MAX_SPREAD else ROW_GAP * (MAX_SPREAD - 1) / (widest - 1)
        return min(RADIUS, 0.4 * gap)

    def _edge(self, ax, key, w, centres, scale, labels, dense):
        (x1, y1), (x0, y0) = centres[key[0]], centres[key[1]]
        colour = POSITIVE if w > 0 else NEGATIVE if w < 0 else ZERO
        (self.edges_[key],) = ax.plot([x0, x1], [y0, y1], color=colour,
                                      linewidth=edge_width(w, scale, dense),
                                      alpha=0.4 if dense else 0.75, zorder=1,
                                      solid_capstyle="round")
        if not labels:
            return
        changed = key in self.changed
        # Level text: on the steep edges from a bias unit, text along the
        # edge would stand upright and run into its neighbours' labels.
        self.edge_labels_[key] = ax.text(
            x0 + LABEL_AT * (x1 - x0), y0 + LABEL_AT * (y1 - y0), number_text(w),
            ha="center", va="center", fontsize=8,
            color=colour, fontweight="bold" if changed else "normal", zorder=2,
            bbox=dict(boxstyle="round,pad=0.12", fc=HIGHLIGHT if changed else "white",
                      ec="none", alpha=0.95))

    def _annotations(self):
        """{unit: text} for the sample: x at the inputs; net, out, t, delta."""
        texts = {u: f"x {number_text(v)}" for u, v in zip(self.names_[0], self.x)}
        top = len(self.weights) - 1
        for l, names in enumerate(self.names_[1:]):
            for j, u in enumerate(names):
                lines = [("net", self.nets[l][j]), ("out", self.outs[l][j])]
                if self.t is not None and l == top:
                    lines.append(("t", self.t[j]))
                if self.deltas is not None:
                    lines.append(("δ", self.deltas[l][j]))
                texts[u] = "\n".join(f"{s} {number_text(v)}" for s, v in lines)
        return texts


class StepDisplay:
    """One training step drawn as two networks side by side: before, with
    the sample's passes and deltas, and after, with the weights the step
    changed highlighted. Made by ``network(step_trace)``.

    Attributes
    ----------
    before_, after_ : NetworkDisplay
    changed_ : set of (str, str)
        The edges (keys of ``NetworkDisplay.edges_``) whose weight the step
        changed.
    figure_ : matplotlib Figure
    """

    def __init__(self, trace):
        layers = trace.layers
        acts = [layer.activation for layer in layers]
        biases = None if layers[0].biases is None else [layer.biases for layer in layers]
        self.before_ = NetworkDisplay(
            [layer.weights for layer in layers], biases, acts, x=trace.x,
            nets=[layer.nets for layer in layers], outs=[layer.outs for layer in layers],
            t=trace.t, deltas=[layer.deltas for layer in layers],
            title=f"before the step: E = {number_text(trace.error_before)}")
        new_biases = None if biases is None else [layer.new_biases for layer in layers]
        after = reference.MLP.from_weights([layer.new_weights for layer in layers],
                                           new_biases, activation=acts, loss=trace.loss_name)
        _, _, nets, outs, _, _ = passes(after, trace.x, trace.t)
        self.after_ = NetworkDisplay(after.weights, after.biases, acts, x=trace.x, nets=nets,
                                     outs=outs, t=trace.t)
        old, new = self.before_.edge_values(), self.after_.edge_values()
        self.changed_ = {key for key in old if new[key] != old[key]}
        self.after_.changed = self.changed_
        self.after_.title = (f"after the step (learning rate {number_text(trace.lr)}): "
                             f"E = {number_text(trace.error_after)}")

    def plot(self, ax=None, **kwargs):
        """Draw before and after on ``ax``, a pair of Axes (None: a new figure
        of two); ``kwargs`` as for ``NetworkDisplay.plot``. Returns self."""
        if ax is None:
            width, height = self.before_.figure_size()
            _, ax = _pyplot().subplots(1, 2, figsize=(2 * width, height), layout="constrained")
        if len(ax) != 2:
            raise ValueError(f"a step is drawn on two Axes (before, after), got {len(ax)}")
        scale = max(abs(w) for d in (self.before_, self.after_)
                    for w in d.edge_values().values()) or 1.0
        self.before_.plot(ax[0], scale=scale, **kwargs)
        self.after_.plot(ax[1], scale=scale, **kwargs)
        self.figure_ = ax[0].figure
        return self


def network(net, x=None, t=None, ax=None, **kwargs):
    """Draw a network: units by layer, every edge with its weight.

    Units are circles in columns (inputs at the left, outputs at the right),
    bias units (output 1) below the layer they feed, each edge coloured by
    its weight's sign (blue positive, red negative) and as wide as its size.

    Parameters
    ----------
    net : fastbp.MLP, fastbp.reference.MLP or fastbp.StepTrace
        A model, drawn as it is; or a step from ``trace_step``, drawn before
        and after side by side, the weights it changed highlighted.
    x : array-like, shape (n_inputs,), optional
        A sample: each unit shows its net input and output (a model only).
    t : array-like, shape (n_outputs,), optional
        With ``x``, a target: each unit shows its delta dE/dnet too, and the
        title the error E.
    ax : matplotlib Axes, optional
        None draws on a new figure; for a step, a pair of Axes.
    **kwargs
        ``labels``, ``max_edges``: see ``NetworkDisplay.plot``.

    Returns
    -------
    NetworkDisplay, or StepDisplay for a step
        Holding the matplotlib artists: ``units_``, ``edges_``,
        ``edge_labels_``, ``unit_texts_``.

    Raises
    ------
    ValueError
        If x or t does not fit the network, or is given with a step (which
        holds its own sample); raised before anything is drawn.
    """
    if isinstance(net, StepTrace):
        if x is not None or t is not None:
            raise ValueError("a StepTrace holds its own sample: x and t must be None")
        return StepDisplay(net).plot(ax=ax, **kwargs)
    return NetworkDisplay.from_model(net, x, t).plot(ax=ax, **kwargs)


def _strongest(layers, max_edges):
    """The keys of the edges to draw: all, or the largest |w| of each weight
    layer (bias edges included) in proportion to its share of the edges."""
    n_edges = sum(map(len, layers))
    if n_edges <= max_edges:
        return [key for layer in layers for key in layer]
    kept = []
    for layer in layers:
        share = max(1, round(max_edges * len(layer) / n_edges))
        kept += sorted(layer, key=lambda key: -abs(layer[key]))[:share]
    return kept


def _circle(centre, radius, bias):
    from matplotlib.patches import Circle
    return Circle(centre, radius, facecolor="0.85" if bias else "white", edgecolor="0.2",
                  linewidth=1.2, zorder=3)
