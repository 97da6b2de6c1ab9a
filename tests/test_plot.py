"""fastbp.plot: loss curves, decision regions and the network, checked on the numbers the
artists hold (matplotlib's Agg backend, nothing shown)."""
import importlib
import runpy
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

import fastbp  # noqa: E402
from fastbp import plot  # noqa: E402
from fastbp.demo import EXAMPLES, trace_example  # noqa: E402
from fastbp.plot import (DecisionBoundaryDisplay, LossCurveDisplay,  # noqa: E402
                         decision_boundary, plot_history)

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def xor_net():
    net = fastbp.MLP([2, 4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    net.fit(XOR_X, XOR_Y, epochs=30, lr=0.5, seed=0)
    return net


def line_data(line):
    return line.get_xdata(), line.get_ydata()


# -- loss curves ---------------------------------------------------------------


def test_plot_history_draws_the_training_loss(xor_net):
    history = xor_net.history
    ax = plot_history(history)
    (line,) = ax.get_lines()
    x, y = line_data(line)
    np.testing.assert_array_equal(x, np.arange(1, 31))
    np.testing.assert_array_equal(y, history.loss)
    assert line.get_label() == "training loss"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training loss"]


def test_history_plot_uses_the_given_axes():
    history = fastbp.History(loss=[0.4, 0.2, 0.1], val_loss=[0.5, 0.3, 0.25])
    fig, ax = plt.subplots()
    assert history.plot(ax=ax) is ax
    train, val = ax.get_lines()
    np.testing.assert_array_equal(line_data(train)[1], [0.4, 0.2, 0.1])
    np.testing.assert_array_equal(line_data(val)[0], [1, 2, 3])
    np.testing.assert_array_equal(line_data(val)[1], [0.5, 0.3, 0.25])
    assert val.get_label() == "validation loss"
    assert plt.get_fignums() == [fig.number]     # no other figure was made


def test_display_from_history_attributes():
    history = fastbp.History(loss=[1.0, 0.5], val_loss=[1.5, 0.75])
    display = LossCurveDisplay.from_history(history, linewidth=3)
    assert display.ax_.figure is display.figure_
    assert display.score_ax_ is None
    assert [line.get_label() for line in display.lines_] == ["training loss",
                                                             "validation loss"]
    assert [line.get_linewidth() for line in display.lines_] == [3, 3]
    np.testing.assert_array_equal(display.lines_[1].get_ydata(), [1.5, 0.75])


def test_display_plot_returns_self_and_draws_on_ax():
    display = LossCurveDisplay([3.0, 2.0, 1.0])
    fig, ax = plt.subplots()
    assert display.plot(ax=ax) is display
    assert display.ax_ is ax and display.figure_ is fig
    np.testing.assert_array_equal(display.lines_[0].get_ydata(), [3.0, 2.0, 1.0])


def test_display_from_estimator_sklearn_mlp_with_validation_scores():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] > 0).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=15, early_stopping=True,
                        n_iter_no_change=100, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    display = LossCurveDisplay.from_estimator(clf)
    loss, score = display.lines_
    np.testing.assert_array_equal(loss.get_ydata(), clf.loss_curve_)
    np.testing.assert_array_equal(loss.get_xdata(), np.arange(1, 16))
    # Accuracies are not losses: they get their own axis.
    assert score.axes is display.score_ax_ is not display.ax_
    np.testing.assert_array_equal(score.get_ydata(), clf.validation_scores_)
    assert display.score_ax_.get_ylabel() == "validation score"
    assert to_rgba(score.get_color()) != to_rgba(loss.get_color())
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == [
        "training loss", "validation score"]


def test_display_from_estimator_sklearn_mlp_without_validation():
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(XOR_X, XOR_Y.astype(int))
    display = LossCurveDisplay.from_estimator(clf)
    (loss,) = display.lines_
    np.testing.assert_array_equal(loss.get_ydata(), clf.loss_curve_)
    assert display.score_ax_ is None


def test_display_from_estimator_fastbp_mlp(xor_net):
    display = LossCurveDisplay.from_estimator(xor_net)
    np.testing.assert_array_equal(display.lines_[0].get_ydata(), xor_net.history.loss)


def test_display_from_estimator_unfitted():
    net = fastbp.MLP([2, 1])
    with pytest.raises(ValueError, match="MLP has no loss curve to draw.*fit it first"):
        LossCurveDisplay.from_estimator(net)
    with pytest.raises(ValueError, match="MLPClassifier has no loss curve"):
        LossCurveDisplay.from_estimator(MLPClassifier())


@pytest.mark.parametrize("loss, match", [([], "loss is empty"),
                                         ([[0.1, 0.2]], r"loss must be 1-D.*\(1, 2\)"),
                                         (["a"], "loss must be numeric")])
def test_display_bad_loss(loss, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LossCurveDisplay(loss)


# -- decision regions ----------------------------------------------------------


def linear_net():
    """One sigmoid unit computing sigmoid(x0 - x1): class 1 where x0 >= x1."""
    return fastbp.MLP.from_weights([[[1.0, -1.0]]], [[0.0]], activation="sigmoid")


def test_decision_boundary_linear_classifier_regions():
    X = np.array([[-1.0, 0.0], [2.0, 1.0], [0.5, 3.0], [1.0, -1.0]])
    y = np.array([0, 1, 0, 1])
    display = decision_boundary(linear_net(), X, y, resolution=50)
    assert isinstance(display, DecisionBoundaryDisplay)
    assert display.xx0.shape == display.xx1.shape == display.response.shape == (50, 50)
    # The grid spans X's range plus 10% of it on each side: x0 in [-1, 2] (range 3),
    # x1 in [-1, 3] (range 4).
    np.testing.assert_allclose(display.xx0[0, [0, -1]], [-1.3, 2.3])
    np.testing.assert_allclose(display.xx1[[0, -1], 0], [-1.4, 3.4])
    diff = display.xx0 - display.xx1
    off_diagonal = np.abs(diff) > 1e-9
    np.testing.assert_array_equal(display.response[off_diagonal],
                                  (diff[off_diagonal] > 0).astype(int))
    assert 0.3 < display.response.mean() < 0.7      # both regions are there
    np.testing.assert_array_equal(display.classes, [0, 1])
    np.testing.assert_array_equal(display.y_index, y)


def test_decision_boundary_colours_regions_and_samples_alike():
    X = np.array([[-1.0, 0.0], [2.0, 1.0], [0.5, 3.0]])
    display = decision_boundary(linear_net(), X, [0, 1, 0], resolution=20)
    np.testing.assert_array_equal(display.surface_.levels, [-0.5, 0.5, 1.5])
    region_colours = [tuple(c) for c in display.surface_.get_facecolor()[:, :3]]
    assert region_colours == [to_rgba(c)[:3] for c in display.colors_]
    class0, class1 = display.scatters_
    np.testing.assert_array_equal(class0.get_offsets(), X[[0, 2]])
    np.testing.assert_array_equal(class1.get_offsets(), X[[1]])
    assert tuple(class1.get_facecolor()[0]) == to_rgba(display.colors_[1])
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == ["0", "1"]


def test_decision_boundary_threshold_for_tanh_output():
    net = fastbp.MLP.from_weights([[[1.0, -1.0]]], [[0.0]], activation="tanh")
    X = np.array([[-1.0, 1.0], [1.0, -1.0]])
    display = decision_boundary(net, X, [-1, 1], threshold=0.0, resolution=31)
    diff = display.xx0 - display.xx1
    off_diagonal = np.abs(diff) > 1e-9
    np.testing.assert_array_equal(display.response[off_diagonal], diff[off_diagonal] > 0)
    np.testing.assert_array_equal(display.y_index, [0, 1])


def test_decision_boundary_softmax_argmax():
    # Scores x0, x1 and -(x0 + x1): three regions meeting at the origin.
    W = [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]
    net = fastbp.MLP.from_weights([W], [[0.0, 0.0, 0.0]], activation="softmax",
                                  loss="cross_entropy")
    X = np.array([[2.0, -1.0], [-1.0, 2.0], [-2.0, -2.0], [0.5, 0.1]])
    display = decision_boundary(net, X, [0, 1, 2, 0], resolution=40)
    expected = np.stack([display.xx0, display.xx1, -display.xx0 - display.xx1]).argmax(0)
    np.testing.assert_array_equal(display.response, expected)
    assert set(np.unique(display.response)) == {0, 1, 2}
    np.testing.assert_array_equal(display.classes, [0, 1, 2])
    # One-hot targets, as given to fit, mean the same classes.
    onehot = decision_boundary(net, X, np.eye(3)[[0, 1, 2, 0]], resolution=5)
    np.testing.assert_array_equal(onehot.y_index, [0, 1, 2, 0])


def test_decision_boundary_sklearn_classifier_with_string_labels():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
    labels = np.array(["left", "left", "right", "right"])
    clf = LogisticRegression().fit(X, labels)
    display = decision_boundary(clf, X, labels, resolution=30)
    np.testing.assert_array_equal(display.classes, ["left", "right"])
    points = np.column_stack([display.xx0.ravel(), display.xx1.ravel()])
    expected = (clf.predict(points) == "right").reshape(30, 30)
    np.testing.assert_array_equal(display.response, expected)
    assert 0.3 < display.response.mean() < 0.7
    np.testing.assert_array_equal(display.y_index, [0, 0, 1, 1])
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == ["left", "right"]


def test_decision_boundary_learned_xor_samples_in_their_regions():
    net = fastbp.MLP([2, 4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    net.fit(XOR_X, XOR_Y, epochs=2000, lr=0.5, seed=0)
    fig, ax = plt.subplots()
    display = decision_boundary(net, XOR_X, XOR_Y, ax=ax, resolution=41, margin=0.0)
    assert display.ax_ is ax
    # With no margin the grid's corners are the four samples.
    corners = display.response[[0, 0, -1, -1], [0, -1, 0, -1]]
    np.testing.assert_array_equal(corners, [0, 1, 1, 0])


BAD_INPUTS = [
    (dict(X=np.zeros((4, 3))), ValueError, r"X must have shape \(n_samples, 2\).*\(4, 3\)"),
    (dict(X=np.zeros(4)), ValueError, r"X must have shape \(n_samples, 2\).*\(4,\)"),
    (dict(X=np.zeros((0, 2)), y=[]), ValueError, "X is empty"),
    (dict(X=[[0, 0], [np.nan, 1], [1, 0], [1, 1]]), ValueError, "X contains NaN"),
    (dict(X=[["a", "b"]] * 4), TypeError, "X must be numeric"),
    (dict(y=[0, 1, 1]), ValueError, r"one entry or row per sample of X \(4\).*\(3,\)"),
    (dict(y=np.zeros((4, 2))), ValueError, "y has 2 columns, but the network has 1 outputs"),
    (dict(y=[0, 1, np.inf, 0]), ValueError, "y contains NaN or infinity"),
    (dict(resolution=1), ValueError, "resolution must be >= 2"),
    (dict(resolution=2.5), TypeError, "resolution must be an int"),
    (dict(margin=-0.1), ValueError, "margin must be a finite number >= 0"),
    (dict(colors=["red"]), ValueError, r"colors needs one colour per class \(2\), got 1"),
]


@pytest.mark.parametrize("change, error, match", BAD_INPUTS)
def test_decision_boundary_bad_input(change, error, match):
    args = {"X": XOR_X, "y": XOR_Y, **change}
    figures = plt.get_fignums()
    with pytest.raises(error, match=match):
        decision_boundary(linear_net(), args.pop("X"), args.pop("y"), **args)
    assert plt.get_fignums() == figures      # refused before drawing


def test_decision_boundary_bad_class_numbers_for_softmax():
    net = fastbp.MLP([2, 3], activation="softmax", loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match="class numbers 0 to 2"):
        decision_boundary(net, XOR_X, [0, 1, 3, 0])


def test_decision_boundary_labels_not_matching_classes():
    clf = LogisticRegression().fit(XOR_X, ["a", "b", "b", "a"])
    with pytest.raises(ValueError, match=r"one label per sample.*\(4, 2\)"):
        decision_boundary(clf, XOR_X, np.eye(2)[[0, 1, 1, 0]])
    with pytest.raises(ValueError, match=r"y gives a label that is not in the model's "
                                         r"classes_ \['a', 'b'\]: 'c'$"):
        decision_boundary(clf, XOR_X, ["a", "b", "c", "a"])


# -- without matplotlib --------------------------------------------------------


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Import of matplotlib fails, as on a machine without it."""
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)


def test_import_fastbp_plot_without_matplotlib(no_matplotlib, monkeypatch):
    monkeypatch.delitem(sys.modules, "fastbp.plot")
    module = importlib.import_module("fastbp.plot")
    assert module.decision_boundary.__name__ == "decision_boundary"


@pytest.mark.parametrize("draw", [
    lambda: plot_history(fastbp.History(loss=[1.0])),
    lambda: fastbp.History(loss=[1.0]).plot(),
    lambda: LossCurveDisplay([1.0]).plot(),
    lambda: decision_boundary(linear_net(), XOR_X, XOR_Y),
], ids=["plot_history", "History.plot", "LossCurveDisplay", "decision_boundary"])
def test_missing_matplotlib_says_what_to_install(no_matplotlib, draw):
    with pytest.raises(ImportError, match=r'not installed: pip install "fastbp\[plot\]" \(from a '
                                          r'clone of fastbp: pip install "\.\[plot\]"\)$'):
        draw()


# -- the README picture --------------------------------------------------------


def test_example_script_writes_the_readme_picture(tmp_path, monkeypatch):
    script = Path(__file__).resolve().parent.parent / "examples" / "xor_decision_boundary.py"
    out = tmp_path / "xor.png"
    monkeypatch.setattr(sys, "argv", [str(script), str(out)])
    runpy.run_path(str(script), run_name="__main__")
    assert plt.imread(out).shape == (400, 900, 4)      # 9 x 4 inches at 100 dpi
    assert out.stat().st_size < 100_000


# -- the network ---------------------------------------------------------------

def example_net(number):
    e = EXAMPLES[number]
    return fastbp.MLP.from_weights(e.weights, e.biases, activation=e.activation), e


def edge_text(display, key):
    return display.edge_labels_[key].get_text()


def test_network_writes_every_weight_on_its_edge():
    net, _ = example_net(1)
    display = plot.network(net)
    expected = {("h1", "x1"): "0.15", ("h1", "x2"): "0.2", ("h2", "x1"): "0.25",
                ("h2", "x2"): "0.3", ("o1", "h1"): "0.4", ("o1", "h2"): "0.45",
                ("o2", "h1"): "0.5", ("o2", "h2"): "0.55", ("h1", "bias1"): "0.35",
                ("h2", "bias1"): "0.35", ("o1", "bias2"): "0.6", ("o2", "bias2"): "0.6"}
    assert {key: edge_text(display, key) for key in display.edge_labels_} == expected
    assert set(display.edges_) == set(expected) and display.n_edges_ == 12
    assert set(display.units_) == {"x1", "x2", "h1", "h2", "o1", "o2", "bias1", "bias2"}
    assert display.unit_texts_ == {}                  # no sample, no numbers
    texts = {t.get_text() for t in display.ax_.texts}
    assert {"x1", "x2", "h1", "h2", "o1", "o2", "1"} <= texts


def test_edges_are_coloured_by_sign_and_as_wide_as_their_weight():
    W = [[[0.5, -2.0], [0.0, 1.0]], [[-1.0, 0.25]]]
    net = fastbp.MLP.from_weights(W, [[0.1, -0.1], [0.0]])
    display = plot.network(net)
    weights = {("h1", "x1"): 0.5, ("h1", "x2"): -2.0, ("h2", "x1"): 0.0, ("h2", "x2"): 1.0,
               ("o1", "h1"): -1.0, ("o1", "h2"): 0.25, ("h1", "bias1"): 0.1,
               ("h2", "bias1"): -0.1, ("o1", "bias2"): 0.0}
    colour = {1: to_rgba(plot.POSITIVE), -1: to_rgba(plot.NEGATIVE), 0: to_rgba(plot.ZERO)}
    for key, w in weights.items():
        line = display.edges_[key]
        assert to_rgba(line.get_color(), 1) == colour[np.sign(w)], key
        assert line.get_linewidth() == pytest.approx(plot.edge_width(w, 2.0)), key
        assert edge_text(display, key) == plot.number_text(w)
        assert to_rgba(display.edge_labels_[key].get_color()) == colour[np.sign(w)]
    # Width grows with |w|: the largest weight is the widest edge.
    widths = {key: line.get_linewidth() for key, line in display.edges_.items()}
    assert max(widths, key=widths.get) == ("h1", "x2")
    assert widths[("h2", "x1")] == plot.MIN_WIDTH == min(widths.values())
    assert widths[("h1", "x2")] == plot.MAX_WIDTH


def test_edges_join_the_units_they_connect():
    net, _ = example_net(1)
    display = plot.network(net)
    centre = {name: unit.center for name, unit in display.units_.items()}
    for (target, source), line in display.edges_.items():
        np.testing.assert_allclose(line.get_xydata(), [centre[source], centre[target]])
    # Layers in columns from left to right; bias units below the layer they feed.
    assert centre["x1"][0] == centre["x2"][0] < centre["h1"][0] == centre["h2"][0] \
        < centre["o1"][0]
    assert centre["x1"][1] > centre["x2"][1] > centre["bias1"][1]
    assert centre["x1"][0] < centre["bias1"][0] < centre["h1"][0] < centre["bias2"][0]


def test_a_sample_shows_each_units_net_input_output_and_delta():
    net, e = example_net(1)
    before = net.params.copy()
    display = plot.network(net, e.x, e.t)
    np.testing.assert_array_equal(net.params, before)      # drawn, not trained
    # The numbers of worked example 1, rounded as drawn.
    assert display.unit_texts_["x1"].get_text() == "x 0.05"
    assert display.unit_texts_["h1"].get_text() == "net 0.3775\nout 0.5933\nδ 0.008771"
    assert display.unit_texts_["o2"].get_text() == \
        "net 1.225\nout 0.7729\nt 0.99\nδ -0.0381"
    assert display.ax_.get_title() == "E = 0.2984"
    # Every unit's numbers are the trace's.
    step = trace_example(1)
    for l, layer in enumerate(step.layers):
        for j, u in enumerate(step.unit_names[l + 1]):
            lines = display.unit_texts_[u].get_text().split("\n")
            assert lines[:2] == [f"net {plot.number_text(layer.nets[j])}",
                                 f"out {plot.number_text(layer.outs[j])}"]
            assert lines[-1] == f"δ {plot.number_text(layer.deltas[j])}"


def test_a_sample_without_a_target_shows_no_deltas():
    net, e = example_net(1)
    display = plot.network(net, e.x)
    assert display.unit_texts_["o1"].get_text() == "net 1.106\nout 0.7514"
    assert display.ax_.get_title() == ""


def test_a_network_without_biases_has_no_bias_units():
    net, e = example_net(3)
    display = plot.network(net, e.x, e.t)
    assert set(display.units_) == {"x1", "h1", "o1"}
    assert set(display.edge_labels_) == {("h1", "x1"), ("o1", "h1")}


def test_a_step_is_drawn_before_and_after_with_the_changed_weights_highlighted():
    step = trace_example(1)
    display = plot.network(step)
    before, after = display.before_, display.after_
    assert before.ax_ is not after.ax_ and before.figure_ is after.figure_
    old_weights = {("o1", "h1"): "0.4", ("h1", "x1"): "0.15", ("h1", "bias1"): "0.35"}
    new_weights = {("o1", "h1"): "0.3589", ("o1", "h2"): "0.4087", ("o2", "h1"): "0.5113",
                   ("o2", "h2"): "0.5614", ("h1", "x1"): "0.1498", ("h1", "x2"): "0.1996",
                   ("h2", "x1"): "0.2498", ("h2", "x2"): "0.2995", ("h1", "bias1"): "0.35"}
    assert {k: edge_text(before, k) for k in old_weights} == old_weights
    assert {k: edge_text(after, k) for k in new_weights} == new_weights
    # Every weight changed, no bias did (example 1 keeps them fixed).
    assert display.changed_ == {k for k in new_weights if not k[1].startswith("bias")}
    for key, label in after.edge_labels_.items():
        face = to_rgba(label.get_bbox_patch().get_facecolor(), 1)
        assert face == to_rgba(plot.HIGHLIGHT if key in display.changed_ else "white"), key
        assert label.get_fontweight() == ("bold" if key in display.changed_ else "normal")
    assert all(to_rgba(label.get_bbox_patch().get_facecolor(), 1) == to_rgba("white")
               for label in before.edge_labels_.values())
    assert before.ax_.get_title() == "before the step: E = 0.2984"
    assert after.ax_.get_title() == "after the step (learning rate 0.5): E = 0.291"
    # After: the forward pass with the new weights; its outputs are the trace's.
    assert after.unit_texts_["o1"].get_text() == \
        f"net 1.057\nout {plot.number_text(step.outputs_after[0])}\nt 0.01"
    assert before.unit_texts_["o1"].get_text() == "net 1.106\nout 0.7514\nt 0.01\nδ 0.1385"
    # One scale for both: the same weight is as wide before and after.
    assert before.edges_[("h1", "bias1")].get_linewidth() == \
        after.edges_[("h1", "bias1")].get_linewidth()


def test_the_xor_step_highlights_only_what_moved():
    display = plot.network(trace_example(2))
    assert display.changed_ == {("h1", "bias1"), ("h2", "bias1"), ("h3", "bias1"),
                                ("o1", "h1"), ("o1", "h2"), ("o1", "h3"), ("o1", "bias2")}
    assert edge_text(display.after_, ("h1", "x1")) == "1"       # input 0: unchanged
    assert edge_text(display.after_, ("o1", "h1")) == "0.6"
    assert display.after_.unit_texts_["o1"].get_text() == "net 1.68\nout 1.68\nt 0"


def test_a_large_network_is_thinned_without_labels():
    net = fastbp.MLP([784, 128, 10], seed=0)
    display = plot.network(net, np.zeros(784))
    assert display.n_edges_ == 784 * 128 + 128 + 128 * 10 + 10
    assert plot.MAX_EDGES - 2 <= len(display.edges_) <= plot.MAX_EDGES + 2
    assert display.edge_labels_ == {} and display.unit_texts_ == {}
    # Of each layer, the strongest edges are the ones drawn.
    values = display.edge_values()
    for l, prefix in enumerate(("h", "o")):
        layer = {k: abs(w) for k, w in values.items() if k[0].startswith(prefix)}
        drawn = [w for k, w in layer.items() if k in display.edges_]
        hidden = [w for k, w in layer.items() if k not in display.edges_]
        assert drawn and min(drawn) >= max(hidden)
    assert all(line.get_linewidth() <= plot.MAX_WIDTH / 3 for line in display.edges_.values())


def test_labels_can_be_asked_for_or_turned_off():
    net, _ = example_net(1)
    assert plot.network(net, labels=False).edge_labels_ == {}
    big = fastbp.MLP([10, 8, 2], seed=0)
    assert len(plot.network(big, labels=True).edge_labels_) == 10 * 8 + 8 + 8 * 2 + 2


@pytest.mark.parametrize("args, message", [
    (([1.0, 2.0, 3.0], None), "x has 3 features, but the network has 2"),
    (([0.05, 0.1], [1.0]), "t has 1 outputs, but the network has 2"),
    ((None, [0.0, 1.0]), "t needs x"),
])
def test_network_refuses_a_sample_that_does_not_fit(args, message):
    net, _ = example_net(1)
    with pytest.raises(ValueError, match=message):
        plot.network(net, *args)
    assert plt.get_fignums() == []               # refused before anything is drawn


def test_a_step_holds_its_own_sample():
    with pytest.raises(ValueError, match="a StepTrace holds its own sample"):
        plot.network(trace_example(1), x=[0.05, 0.1])
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="two Axes"):
        plot.network(trace_example(1), ax=[ax])


def test_each_column_is_captioned_with_its_activation():
    net = fastbp.MLP([2, 3, 1], activation="tanh", output_activation="sigmoid", seed=0)
    display = plot.network(net)
    assert [t.get_text() for t in display.layer_texts_] == ["inputs", "tanh", "sigmoid"]
    xs = [t.get_position()[0] for t in display.layer_texts_]
    assert xs == [display.units_[u].center[0] for u in ("x1", "h1", "o1")]


@pytest.mark.parametrize("max_edges", [0, -3, 2.5])
def test_max_edges_must_be_a_positive_whole_number(max_edges):
    net, _ = example_net(1)
    with pytest.raises((ValueError, TypeError), match="max_edges"):
        plot.network(net, max_edges=max_edges)
    assert plt.get_fignums() == []


# -- axis labels and a legend that covers no curve ---------------------------------


def test_decision_boundary_labels_its_axes():
    X = np.array([[-1.0, 0.0], [2.0, 1.0], [0.5, 3.0]])
    ax = decision_boundary(linear_net(), X, [0, 1, 0], resolution=5).ax_
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    ax = decision_boundary(linear_net(), X, [0, 1, 0], resolution=5,
                           feature_names=["petal length", "petal width"]).ax_
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("petal length", "petal width")
    with pytest.raises(ValueError, match="feature_names must be two names .* got 3"):
        decision_boundary(linear_net(), X, [0, 1, 0], feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="feature_names must be two names .* got 1"):
        decision_boundary(linear_net(), X, [0, 1, 0], feature_names="ab")


# The grid reaches the model as an array, which scikit-learn remarks on.
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_decision_boundary_takes_the_names_of_a_dataframe_or_a_fitted_estimator():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame({"height": [-1.0, 2.0, 0.5, 1.5], "weight": [0.0, 1.0, 3.0, -1.0]})
    y = [0, 1, 0, 1]
    ax = decision_boundary(linear_net(), X, y, resolution=5).ax_
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("height", "weight")
    model = LogisticRegression().fit(X, y)
    ax = decision_boundary(model, X.to_numpy(), y, resolution=5).ax_
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("height", "weight")


def test_the_loss_legend_is_above_the_axes_and_names_every_curve():
    n = 40
    loss = np.linspace(1.0, 0.1, n)
    display = LossCurveDisplay(loss, val_loss=loss + 0.05,
                               val_score=np.linspace(0.5, 0.95, n)).plot()
    legend = display.ax_.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "training loss", "validation loss", "validation score"]
    assert display.score_ax_.get_legend() is None        # one legend for both axes
    display.figure_.canvas.draw()
    box = legend.get_window_extent()
    axes_box = display.ax_.get_window_extent()
    figure_box = display.figure_.bbox
    # Wholly above the plotting area, so no curve runs under it, and inside the figure.
    assert box.y0 >= axes_box.y1 - 1 and box.y1 <= figure_box.y1
    assert axes_box.x0 - 1 <= box.x0 and box.x1 <= axes_box.x1 + 1
