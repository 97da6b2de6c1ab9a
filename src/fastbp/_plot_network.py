"""The network picture of ``fastbp.plot.network``: units in layers, every edge
with its weight, and optionally a sample's passes or a training step before
and after. ``fastbp.plot`` re-exports its public names.

matplotlib is imported only inside the methods that draw (``fastbp._matplotlib``).
"""
from fastbp import _validation as check
from fastbp import reference
from fastbp._matplotlib import pyplot
from fastbp.trace import StepTrace, _as_reference, _unit_names, passes


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
            _, ax = pyplot().subplots(figsize=self.figure_size(), layout="constrained")
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
            _, ax = pyplot().subplots(1, 2, figsize=(2 * width, height), layout="constrained")
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
