"""fastbp.plot: loss curves and decision regions, checked on the numbers the
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
    with pytest.raises(ImportError, match=r"pip install fastbp\[plot\]"):
        draw()


# -- the README picture --------------------------------------------------------


def test_example_script_writes_the_readme_picture(tmp_path, monkeypatch):
    script = Path(__file__).resolve().parent.parent / "examples" / "xor_decision_boundary.py"
    out = tmp_path / "xor.png"
    monkeypatch.setattr(sys, "argv", [str(script), str(out)])
    runpy.run_path(str(script), run_name="__main__")
    assert plt.imread(out).shape == (400, 900, 4)      # 9 x 4 inches at 100 dpi
    assert out.stat().st_size < 100_000
