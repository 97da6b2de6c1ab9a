"""The step trace's report and its ``trace`` command: the slips of issue 16,
each with its regression test (a network without biases is not said to
update them; the binary cross-entropy formula has its brackets; --weights
without --biases is refused naming --biases; bias gradients are listed with
the weight gradients), and trace --plot."""
import math
import re

import matplotlib
import pytest

matplotlib.use("Agg")
from matplotlib import image  # noqa: E402

import fastbp  # noqa: E402
from fastbp import cli, plot  # noqa: E402
from fastbp.demo import EXAMPLES, trace_example  # noqa: E402


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def printed(report, label):
    """The value at the end of the one line starting with ``label = ``."""
    (line,) = [line for line in report.splitlines() if line.strip().startswith(label + " = ")]
    return float(line.rsplit("= ", 1)[1])


# -- slip 1: a network without biases ----------------------------------------------

def test_example_3_is_not_said_to_update_biases(capsys):
    status, out, _ = run(capsys, "trace", "--example", "3")
    assert status == 0
    title, _, headline = out.splitlines()[:3]
    assert "without biases" in title
    assert headline == "One training step: loss squared_error, learning rate 0.7, no biases"
    assert "biases updated" not in out and "b h1" not in out and "dE/db" not in out


@pytest.mark.parametrize("update_biases, words", [(True, "biases updated"),
                                                  (False, "biases fixed")])
def test_a_network_with_biases_says_what_the_step_does_with_them(update_biases, words):
    net = fastbp.MLP.from_weights([[[0.5]]], [[0.1]])
    report = str(fastbp.trace_step(net, [1.0], [0.0], 0.5, update_biases=update_biases))
    assert report.splitlines()[0].endswith(f", {words}")
    assert ("  b o1 = 0.1 - 0.5 * " in report) == update_biases


# -- slip 2: the brackets of binary cross-entropy ----------------------------------

def test_binary_cross_entropy_formula_has_its_brackets():
    net = fastbp.MLP.from_weights([[[0.3, -0.2], [0.1, 0.4]]], [[0.0, 0.5]],
                                  loss="binary_cross_entropy")
    report = str(fastbp.trace_step(net, [1.0, 2.0], [1.0, 0.0], 0.1))
    assert "Error: E = -sum_k [t_k log out_k + (1 - t_k) log(1 - out_k)]\n" in report
    # The formula as printed gives the printed errors: o1 = s(-0.1), t = 1; o2 = s(1.4), t = 0.
    o1, o2 = 1 / (1 + math.exp(0.1)), 1 / (1 + math.exp(-1.4))
    assert printed(report, "E o1") == pytest.approx(-math.log(o1), rel=1e-8)
    assert printed(report, "E o2") == pytest.approx(-math.log(1 - o2), rel=1e-8)


# -- slip 3: --weights without --biases --------------------------------------------

@pytest.mark.parametrize("weights", ["[[0.1,0.2]]", "[[[0.1, 0.2]], [[0.3]]]",
                                     "[[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[1, 2, 3]]]"])
def test_weights_without_biases_is_refused_naming_biases(capsys, weights):
    status, out, err = run(capsys, "trace", "--weights", weights, "--input", "1,2",
                           "--target", "1")
    assert (status, out) == (2, "")
    assert err == ("fastbp: error: --weights is given without --biases, and example 1's "
                   "biases (units per layer [2, 2]) do not fit those weights: give --biases "
                   "too, one list per layer, or --biases none\n")


def test_weights_of_the_examples_shape_keep_its_biases(capsys):
    status, out, _ = run(capsys, "trace", "--weights", "[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]")
    e = EXAMPLES[1]
    net = fastbp.MLP.from_weights([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], e.biases)
    expected = fastbp.trace_step(net, e.x, e.t, lr=e.lr, update_biases=e.update_biases)
    assert status == 0
    assert out == f"Worked example 1 with --weights\n\n{expected}\n"
    assert "net h1 = 1 * 0.05 + 2 * 0.1 + 0.35 = 0.6\n" in out


def test_weights_with_biases_none_are_traced(capsys):
    status, out, _ = run(capsys, "trace", "--weights", "[[[0.1, 0.2]]]", "--biases", "none",
                         "--input", "1,2", "--target", "1")
    assert status == 0
    assert "net o1 = 0.1 * 1 + 0.2 * 2 = 0.5\n" in out and ", no biases\n" in out


# -- slip 4: bias gradients beside the weight gradients ----------------------------

def test_bias_gradients_are_listed_with_the_weight_gradients():
    step = trace_example(1)
    report = str(step)
    backward = report.split("Backward pass")[1].split("\nUpdate:")[0]
    for l, units in ((0, ("h1", "h2")), (1, ("o1", "o2"))):
        for j, u in enumerate(units):
            # dE/db_j = delta_j, printed even though example 1 keeps its biases fixed.
            assert printed(backward, f"dE/db {u}") == pytest.approx(
                step.layers[l].grad_biases[j], rel=6e-9)   # 9 digits
            assert f"    dE/db {u} = delta {u} = " in backward
    assert printed(backward, "dE/db h1") == pytest.approx(0.008771355, abs=5e-10)
    # Each unit's bias gradient follows its weight gradients.
    lines = [line.strip().split(" =")[0] for line in backward.splitlines()]
    i = lines.index("dE/db o1")
    assert lines[i - 2:i + 2] == ["dE/dw o1,h1", "dE/dw o1,h2", "dE/db o1", "dE/dw o2,h1"]
    assert "b h1" not in report.split("\nUpdate:")[1]      # fixed: not updated


def test_bias_gradients_of_the_xor_step():
    report = str(trace_example(2))
    assert re.findall(r"dE/db (\w+) = delta \1 = 4\n", report) == ["o1", "h1", "h2", "h3"]
    assert "  b h1 = 1 - 0.1 * 4 = 0.6\n" in report


# -- trace --plot ------------------------------------------------------------------

def test_trace_plot_writes_the_picture_of_the_step(capsys, tmp_path):
    path = tmp_path / "network.png"
    status, out, err = run(capsys, "trace", "--plot", path)
    assert (status, err) == (0, "")
    assert out == f"{EXAMPLES[1].title}\n\n{trace_example(1)}\n"
    pixels = image.imread(path)
    # Two networks side by side, at 120 dpi, with the example's title on top.
    width, height = plot.StepDisplay(trace_example(1)).before_.figure_size()
    assert pixels.shape[0] == pytest.approx((height + 0.5) * 120, abs=1)
    assert pixels.shape[1:] == (pytest.approx(2 * width * 120, abs=1), 4)
    # Blue edges (positive weights) and the yellow of the changed weights are drawn.
    rgb = pixels[..., :3]
    assert ((rgb[..., 2] > 0.6) & (rgb[..., 0] < 0.45)).sum() > 1000
    assert ((rgb[..., 0] > 0.95) & (rgb[..., 1] > 0.75) & (rgb[..., 2] < 0.45)).sum() > 500


@pytest.mark.parametrize("argv, message", [
    (["--plot", "picture.nope"], "--plot: cannot tell the picture format of 'picture.nope'"),
    (["--plot", "picture"], "--plot: cannot tell the picture format of 'picture'"),
])
def test_trace_plot_refuses_an_unknown_format(capsys, tmp_path, argv, message):
    status, out, err = run(capsys, "trace", *argv)
    assert (status, out) == (2, "")
    assert err.startswith(f"fastbp: error: {message}") and err.count("\n") == 1


def test_trace_plot_into_a_missing_directory_is_a_file_error(capsys, tmp_path):
    status, _, err = run(capsys, "trace", "--plot", tmp_path / "no" / "such.png")
    assert status == 1
    assert err.startswith("fastbp: error: ") and "such.png" in err
