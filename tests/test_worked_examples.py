"""The hand-worked examples of docs worked-examples.md, number by number.

Every number the document prints is written below as the string the document
prints, and checked digit by digit: ``round(actual, d) == expected`` where d
is the number of decimals of that string. Each example is checked on the
compiled core (on every kernel path this CPU runs; float64 digit by digit,
float32 to the document's digits plus float32 rounding), on the pure-Python
reference, in the fields of ``trace_step``'s StepTrace and in its printed
report.

The compiled core exposes only predict, loss, gradient and train_step, so the
intermediate numbers are read through small networks cut from the example
(see ``example1_from_api``): the hidden net inputs are the outputs of the
first layer with an identity activation, dE/db_j is delta_j, and so on.
"""
import math
import re
from decimal import Decimal

import numpy as np
import pytest

import fastbp
from fastbp import reference

# Float32 computes every product and sum with a relative rounding error of
# 2**-24 ~ 6e-8, and starts from float32 roundings of the decimal weights
# (0.15 -> 0.150000006): a few such errors per number stay below 1e-6.
F32_SLACK = 1e-6


def decimals(text):
    """Decimals the document prints: 3 for "1.680", 9 for "3.5102e-05"."""
    return max(0, -Decimal(text).as_tuple().exponent)


def misprinted(actual, expected, rel_slack=0.0):
    """Labels whose value does not round to the document's digits.

    ``actual`` maps labels to numbers, ``expected`` labels to the document's
    strings. With ``rel_slack`` > 0 the value may also be off by that
    fraction of the expected one (for float32).
    """
    wrong = {}
    for label, text in expected.items():
        value, d = float(actual[label]), decimals(text)
        if rel_slack:
            ok = abs(value - float(text)) <= 0.5 * 10.0 ** -d + rel_slack * abs(float(text))
        else:
            ok = round(value, d) == float(text)
        if not ok:
            wrong[label] = (value, text)
    return wrong


def assert_digits(actual, expected, rel_slack=0.0, where=""):
    wrong = misprinted(actual, expected, rel_slack)
    assert not wrong, f"{where}: value vs document: {wrong}"


def report_values(text, labels):
    """The number each label's line ends with, in the printed report.

    A line reads ``    net h1 = 0.15 * 0.05 + 0.2 * 0.1 + 0.35 = 0.3775``:
    the label starts the line (or follows three spaces on the lines that list
    several units), and the value is the last ``= number``.
    """
    values = {}
    for label in labels:
        found = re.findall(r"(?:^ *|   )" + re.escape(label) + r" = (.*?)(?=   |$)",
                           text, re.M)
        assert len(found) == 1, f"{label!r} should be on one line of the report, " \
                                f"found {len(found)}:\n{text}"
        values[label] = float(found[0].rsplit("= ", 1)[-1])
    return values


def report_sections(trace):
    """(before, after): the report up to the line "After the step", and after it."""
    before, after = str(trace).split("\nAfter the step\n")
    return before, after


# -- Example 1: 2-2-2 sigmoid network, lr 0.5, biases fixed ------------------------

X1 = [0.05, 0.10]
T1 = [0.01, 0.99]
W1_HIDDEN = [[0.15, 0.20], [0.25, 0.30]]
W1_OUTPUT = [[0.40, 0.45], [0.50, 0.55]]
B1_HIDDEN = [0.35, 0.35]
B1_OUTPUT = [0.60, 0.60]
LR1 = 0.5

# net h1 = 0.15 * 0.05 + 0.20 * 0.10 + 0.35 = 0.3775
# out h1 = 1 / (1 + exp(-0.3775)) = 0.593269992
# net o1 = 0.40 * 0.593269992 + 0.45 * 0.596884378 + 0.60 = 1.105905967
# out o1 = 1 / (1 + exp(-1.105905967)) = 0.75136507
# E o1 = 1/2 (0.01 - 0.75136507)^2 = 0.274811083
EX1_FORWARD = {
    "net h1": "0.3775", "net h2": "0.3925",
    "out h1": "0.593269992", "out h2": "0.596884378",
    "net o1": "1.105905967", "net o2": "1.224921404",
    "out o1": "0.75136507", "out o2": "0.772928465",
    "E o1": "0.274811083", "E o2": "0.023560026", "E total": "0.298371109",
}
# delta o1 = (out o1 - t1) out o1 (1 - out o1)
#          = 0.74136507 * 0.75136507 * 0.24863493 = 0.138498562
# dE/dout h1 = w o1,h1 delta o1 + w o2,h1 delta o2
#            = 0.40 * 0.138498562 + 0.50 * -0.038098237 = 0.036350306
# delta h1 = 0.036350306 * 0.593269992 * (1 - 0.593269992) = 0.008771355
# dE/dw o1,h1 = delta o1 * out h1 = 0.138498562 * 0.593269992 = 0.082167041
# dE/dw h1,x1 = delta h1 * x1 = 0.008771355 * 0.05 = 0.000438568
EX1_BACKWARD = {
    "delta o1": "0.138498562", "delta o2": "-0.038098237",
    "dE/dout h1": "0.036350306",
    "delta h1": "0.008771355", "delta h2": "0.009954255",
    "dE/dw o1,h1": "0.082167041", "dE/dw o1,h2": "0.082667628",
    "dE/dw h1,x1": "0.000438568", "dE/dw h1,x2": "0.000877135",
}
# w o1,h1 = 0.40 - 0.5 * 0.082167041 = 0.35891648; the hidden layer's deltas
# use the output weights from before this update.
EX1_UPDATED = {
    "w o1,h1": "0.35891648", "w o1,h2": "0.408666186",
    "w o2,h1": "0.511301270", "w o2,h2": "0.561370121",
    "w h1,x1": "0.149780716", "w h1,x2": "0.19956143",
    "w h2,x1": "0.24975114", "w h2,x2": "0.29950229",
}
# The error on the same sample after the update (the tutorial's 0.291027924
# comes from rounding its intermediate values).
EX1_AFTER = {"E total": "0.291027774"}
# After 10,000 such updates.
EX1_LONG_RUN = {"E total": "3.5102e-05", "out o1": "0.015914", "out o2": "0.984064"}
EX1_N_UPDATES = 10_000


def example1(cls, dtype="float64"):
    return cls.from_weights([W1_HIDDEN, W1_OUTPUT], [B1_HIDDEN, B1_OUTPUT],
                            activation="sigmoid", dtype=dtype)


def weight_labels(new_weights):
    """'w o1,h1' -> new_weights[1][0][0], ... for the 2-2-2 network."""
    values = {}
    for l, (unit, source) in enumerate([("h", "x"), ("o", "h")]):
        for j in range(2):
            for i in range(2):
                values[f"w {unit}{j + 1},{source}{i + 1}"] = new_weights[l][j][i]
    return values


def example1_from_api(cls, dtype):
    """Every number of example 1, read through the public API of ``cls``
    (``fastbp.MLP`` or ``fastbp.reference.MLP``), which both share.

    Returns (forward and backward numbers, updated weights, numbers after the
    update, the model after the update).
    """
    q = {}
    # Net inputs: the same layers with an identity activation.
    hidden_nets = cls.from_weights([W1_HIDDEN], [B1_HIDDEN], activation="identity",
                                   dtype=dtype)
    q["net h1"], q["net h2"] = hidden_nets.predict(X1)
    hidden = cls.from_weights([W1_HIDDEN], [B1_HIDDEN], activation="sigmoid", dtype=dtype)
    out_h = np.asarray(hidden.predict(X1), dtype=dtype)
    q["out h1"], q["out h2"] = out_h
    output_nets = cls.from_weights([W1_HIDDEN, W1_OUTPUT], [B1_HIDDEN, B1_OUTPUT],
                                   activation="sigmoid", output_activation="identity",
                                   dtype=dtype)
    q["net o1"], q["net o2"] = output_nets.predict(X1)
    net = example1(cls, dtype)
    q["out o1"], q["out o2"] = net.predict(X1)
    # E o_k: the network cut down to output unit k alone.
    for k in range(2):
        alone = cls.from_weights([W1_HIDDEN, [W1_OUTPUT[k]]], [B1_HIDDEN, [B1_OUTPUT[k]]],
                                 activation="sigmoid", dtype=dtype)
        q[f"E o{k + 1}"] = alone.loss([X1], [[T1[k]]])
    q["E total"] = net.loss([X1], [T1])

    grad_w, grad_b = net.gradient(X1, T1)
    q["delta h1"], q["delta h2"] = grad_b[0]           # dE/db_j = delta_j
    q["delta o1"], q["delta o2"] = grad_b[1]
    q["dE/dw o1,h1"], q["dE/dw o1,h2"] = grad_w[1][0]
    q["dE/dw h1,x1"], q["dE/dw h1,x2"] = grad_w[0][0]
    # dE/dout h: the output layer fed out h through an identity layer with
    # weights I and bias 0, whose delta is dE/dout h times f' = 1.
    relay = cls.from_weights([[[1.0, 0.0], [0.0, 1.0]], W1_OUTPUT], [[0.0, 0.0], B1_OUTPUT],
                             activation=["identity", "sigmoid"], dtype=dtype)
    q["dE/dout h1"], q["dE/dout h2"] = relay.gradient(out_h, T1)[1][0]

    loss_before = net.train_step(X1, T1, LR1, update_biases=False)
    assert loss_before == pytest.approx(q["E total"], rel=1e-6)
    after = {"E total": net.loss([X1], [T1])}
    return q, weight_labels(net.weights), after, net


def check_example1_api(cls, dtype, rel_slack):
    q, updated, after, net = example1_from_api(cls, dtype)
    where = f"{cls.__module__}.{cls.__name__} {dtype}"
    assert_digits(q, EX1_FORWARD, rel_slack, where + " forward")
    assert_digits(q, EX1_BACKWARD, rel_slack, where + " backward")
    assert_digits(updated, EX1_UPDATED, rel_slack, where + " updated weights")
    assert_digits(after, EX1_AFTER, rel_slack, where + " after the step")
    # The example does not train its biases: they keep their exact values.
    for b, b0 in zip(net.biases, [B1_HIDDEN, B1_OUTPUT]):
        np.testing.assert_array_equal(np.asarray(b, dtype), np.asarray(b0, dtype))


@pytest.mark.parametrize("dtype, rel_slack", [("float64", 0.0), ("float32", F32_SLACK)])
def test_example1_core(kernel_path, dtype, rel_slack):
    check_example1_api(fastbp.MLP, dtype, rel_slack)


def test_example1_reference():
    check_example1_api(reference.MLP, "float64", 0.0)


def example1_from_trace(trace):
    hidden, output = trace.layers
    q = {}
    for j in range(2):
        u = j + 1
        q[f"net h{u}"], q[f"out h{u}"] = hidden.nets[j], hidden.outs[j]
        q[f"net o{u}"], q[f"out o{u}"] = output.nets[j], output.outs[j]
        q[f"E o{u}"] = trace.output_errors[j]
        q[f"delta h{u}"], q[f"delta o{u}"] = hidden.deltas[j], output.deltas[j]
        q[f"dE/dout h{u}"] = hidden.d_outs[j]
        q[f"dE/dw o1,h{u}"] = output.grad_weights[0][j]
        q[f"dE/dw h1,x{u}"] = hidden.grad_weights[0][j]
    q["E total"] = trace.error_before
    updated = weight_labels([hidden.new_weights, output.new_weights])
    return q, updated, {"E total": trace.error_after}


TRACED = [("core", "float64", 0.0), ("core", "float32", F32_SLACK),
          ("reference", "float64", 0.0)]


@pytest.mark.parametrize("engine, dtype, rel_slack", TRACED)
def test_example1_trace_fields(engine, dtype, rel_slack):
    net = example1(fastbp.MLP if engine == "core" else reference.MLP, dtype)
    trace = fastbp.trace_step(net, X1, T1, LR1, update_biases=False)
    q, updated, after = example1_from_trace(trace)
    assert_digits(q, EX1_FORWARD, rel_slack, "trace forward")
    assert_digits(q, EX1_BACKWARD, rel_slack, "trace backward")
    assert_digits(updated, EX1_UPDATED, rel_slack, "trace updated weights")
    assert_digits(after, EX1_AFTER, rel_slack, "trace after the step")
    # The trace performed the step on the model itself, biases fixed.
    assert_digits(weight_labels(net.weights), EX1_UPDATED, rel_slack, "traced model")
    assert trace.layers[0].new_biases == pytest.approx(B1_HIDDEN, rel=rel_slack)
    assert trace.layers[1].new_biases == pytest.approx(B1_OUTPUT, rel=rel_slack)


@pytest.mark.parametrize("engine, dtype, rel_slack", TRACED)
def test_example1_trace_report(engine, dtype, rel_slack):
    # The report prints each number once, at the end of its line; parsed back,
    # it must show the document's digits as the fields do.
    net = example1(fastbp.MLP if engine == "core" else reference.MLP, dtype)
    before, after = report_sections(fastbp.trace_step(net, X1, T1, LR1,
                                                      update_biases=False))
    printed = report_values(before, list(EX1_FORWARD) + list(EX1_BACKWARD)
                            + list(EX1_UPDATED))
    wrong = {**misprinted(printed, EX1_FORWARD, rel_slack),
             **misprinted(printed, EX1_BACKWARD, rel_slack),
             **misprinted(printed, EX1_UPDATED, rel_slack),
             **misprinted(report_values(after, EX1_AFTER), EX1_AFTER, rel_slack)}
    # Fails while the report prints 9 significant digits ("%.9g", trace._num):
    # the net inputs of the output units, above 1, then lose the 9th decimal
    # the document prints (1.10590597 for 1.105905967).
    assert not wrong, ("the report does not print these numbers to the document's "
                       f"precision (printed value, document): {wrong}")
    assert "biases fixed" in before


def check_example1_long_run(net, rel_slack):
    for _ in range(EX1_N_UPDATES):
        net.train_step(X1, T1, LR1, update_biases=False)
    out = net.predict(X1)
    actual = {"E total": net.loss([X1], [T1]), "out o1": out[0], "out o2": out[1]}
    assert_digits(actual, EX1_LONG_RUN, rel_slack, "after 10,000 updates")


# Float32 rounding accumulates over 10,000 updates: the float32 error lands
# about 1e-5 (relative) from the float64 one, so it is held to 1e-4.
@pytest.mark.parametrize("dtype, rel_slack", [("float64", 0.0), ("float32", 1e-4)])
def test_example1_long_run_core(kernel_path, dtype, rel_slack):
    check_example1_long_run(example1(fastbp.MLP, dtype), rel_slack)


def test_example1_long_run_reference():
    check_example1_long_run(example1(reference.MLP), 0.0)


# -- Example 2: the XOR network with identity units, every weight 1, lr 0.1 -------

X2 = [0.0, 0.0]
T2 = [0.0]
LR2 = 0.1

# Forward: net h_j = 1 * 0 + 1 * 0 + 1 = 1 = out h_j; net o1 = 1 + 1 + 1 + 1 = 4.
# E = 1/2 (0 - 4)^2 = 8.
EX2_BEFORE = {"net h1": "1", "net h2": "1", "net h3": "1",
              "out h1": "1", "out h2": "1", "out h3": "1",
              "net o1": "4", "out o1": "4", "E total": "8",
              # delta o1 = out - target = +4 (the tutorial's -4 is the slip)
              "delta o1": "4"}
# Output weights and bias: 1 - 0.1 * 4 * 1 = 0.6. Hidden deltas:
# 4 * w_o (= 1, before the update) * f' (= 1) = 4, so hidden biases
# 1 - 0.1 * 4 = 0.6, and weights from the inputs 1 - 0.1 * 4 * 0 = 1.
EX2_UPDATED = {"w o1,h1": "0.6", "w o1,h2": "0.6", "w o1,h3": "0.6", "b o1": "0.6",
               "b h1": "0.6", "b h2": "0.6", "b h3": "0.6",
               "w h1,x1": "1", "w h1,x2": "1", "w h2,x1": "1", "w h2,x2": "1",
               "w h3,x1": "1", "w h3,x2": "1"}
# After: out h_j = 0.6, out o1 = 3 * 0.6 * 0.6 + 0.6 = 1.68, E = 1/2 1.68^2 = 1.4112.
EX2_AFTER = {"out o1": "1.68", "E total": "1.4112"}


def example2(cls, dtype="float64"):
    return cls.from_weights([np.ones((3, 2)), np.ones((1, 3))], [np.ones(3), np.ones(1)],
                            activation="identity", dtype=dtype)


def parameter_labels(weights, biases):
    """'w h1,x1', 'b h1', 'w o1,h1', 'b o1' ... for the 2-3-1 network."""
    values = {}
    for l, (unit, source) in enumerate([("h", "x"), ("o", "h")]):
        for j, row in enumerate(weights[l]):
            values[f"b {unit}{j + 1}"] = biases[l][j]
            for i, w in enumerate(row):
                values[f"w {unit}{j + 1},{source}{i + 1}"] = w
    return values


def check_example2_api(cls, dtype, rel_slack):
    net = example2(cls, dtype)
    nets = cls.from_weights([np.ones((3, 2)), np.ones((1, 3))], [np.ones(3), np.ones(1)],
                            activation="identity", dtype=dtype)
    hidden = cls.from_weights([np.ones((3, 2))], [np.ones(3)], activation="identity",
                              dtype=dtype)
    q = {}
    q["net h1"], q["net h2"], q["net h3"] = hidden.predict(X2)
    q["out h1"], q["out h2"], q["out h3"] = hidden.predict(X2)   # identity: out = net
    (q["net o1"],) = nets.predict(X2)
    (q["out o1"],) = net.predict(X2)
    q["E total"] = net.loss([X2], [T2])
    (q["delta o1"],) = net.gradient(X2, T2)[1][1]
    where = f"{cls.__module__}.{cls.__name__} {dtype}"
    assert_digits(q, EX2_BEFORE, rel_slack, where + " before")
    assert net.train_step(X2, T2, LR2) == pytest.approx(8.0)
    assert_digits(parameter_labels(net.weights, net.biases), EX2_UPDATED, rel_slack,
                  where + " updated")
    (out,) = net.predict(X2)
    assert_digits({"out o1": out, "E total": net.loss([X2], [T2])}, EX2_AFTER, rel_slack,
                  where + " after")


@pytest.mark.parametrize("dtype, rel_slack", [("float64", 0.0), ("float32", F32_SLACK)])
def test_example2_core(kernel_path, dtype, rel_slack):
    check_example2_api(fastbp.MLP, dtype, rel_slack)


def test_example2_reference():
    check_example2_api(reference.MLP, "float64", 0.0)


@pytest.mark.parametrize("engine, dtype, rel_slack", TRACED)
def test_example2_trace(engine, dtype, rel_slack):
    net = example2(fastbp.MLP if engine == "core" else reference.MLP, dtype)
    trace = fastbp.trace_step(net, X2, T2, LR2)
    hidden, output = trace.layers
    q = {f"net h{j + 1}": v for j, v in enumerate(hidden.nets)}
    q.update({f"out h{j + 1}": v for j, v in enumerate(hidden.outs)})
    q.update({"net o1": output.nets[0], "out o1": output.outs[0],
              "E total": trace.error_before, "delta o1": output.deltas[0]})
    assert_digits(q, EX2_BEFORE, rel_slack, "trace before")
    assert_digits(parameter_labels([hidden.new_weights, output.new_weights],
                                   [hidden.new_biases, output.new_biases]),
                  EX2_UPDATED, rel_slack, "trace updated")
    assert_digits({"out o1": trace.outputs_after[0], "E total": trace.error_after},
                  EX2_AFTER, rel_slack, "trace after")

    before, after = report_sections(trace)
    wrong = {**misprinted(report_values(before, EX2_BEFORE), EX2_BEFORE, rel_slack),
             **misprinted(report_values(before, EX2_UPDATED), EX2_UPDATED, rel_slack),
             **misprinted(report_values(after, EX2_AFTER), EX2_AFTER, rel_slack)}
    assert not wrong, f"report (printed value, document): {wrong}"


# -- Example 3: 1-1-1 sigmoid network without biases, closed-form gradients -------

def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def closed_form(i, t, w_h, w_o):
    """(dE/dw_h, dE/dw_o) of E = 1/2 (t - r_o)^2, r_h = s(w_h i), r_o = s(w_o r_h)."""
    r_h = sigmoid(w_h * i)
    r_o = sigmoid(w_o * r_h)
    dE_dw_o = -(t - r_o) * r_o * (1 - r_o) * r_h
    dE_dw_h = -(t - r_o) * r_o * (1 - r_o) * w_o * r_h * (1 - r_h) * i
    return dE_dw_h, dE_dw_o


# (i, t, w_h, w_o): signs both ways, a zero input (dE/dw_h is then exactly 0),
# saturated units, and targets far from the output so -(t - r_o) keeps its digits.
EX3_CASES = [
    (1.0, 0.0, 0.5, 0.5),
    (0.3, 1.0, -1.2, 2.0),
    (-2.0, 0.25, 0.7, -1.5),
    (5.0, 0.9, 1.3, 3.0),
    (0.0, 0.5, 2.0, -0.4),
    (-0.75, 0.05, -3.0, 4.5),
    (12.0, 0.0, 1.0, 6.0),
]
LR3 = 0.7


def example3(cls, w_h, w_o, dtype="float64"):
    return cls.from_weights([[[w_h]], [[w_o]]], None, activation="sigmoid", dtype=dtype)


def check_example3(net, i, t, w_h, w_o, rtol, atol):
    dE_dw_h, dE_dw_o = closed_form(i, t, w_h, w_o)
    grad_w, grad_b = net.gradient([i], [t])
    assert grad_b is None
    np.testing.assert_allclose([grad_w[0][0][0], grad_w[1][0][0]], [dE_dw_h, dE_dw_o],
                               rtol=rtol, atol=atol)
    # w <- w - lr dE/dw, both from the weights before the update.
    net.train_step([i], [t], LR3)
    np.testing.assert_allclose([net.weights[0][0][0], net.weights[1][0][0]],
                               [w_h - LR3 * dE_dw_h, w_o - LR3 * dE_dw_o],
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("i, t, w_h, w_o", EX3_CASES)
def test_example3_core(kernel_path, i, t, w_h, w_o):
    check_example3(example3(fastbp.MLP, w_h, w_o), i, t, w_h, w_o, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("i, t, w_h, w_o", EX3_CASES)
def test_example3_core_float32(kernel_path, i, t, w_h, w_o):
    # Both sides start from the float32 roundings of the case's numbers.
    i, t, w_h, w_o = (float(np.float32(v)) for v in (i, t, w_h, w_o))
    # Float32 holds an output r to 2**-24 relative, so f' = r (1 - r), taken
    # from the output, is off by about 2**-24 / (1 - r) relative: 1e-2 for the
    # saturated unit of the last case (net 12, 1 - r = 6e-6), 1e-7 elsewhere.
    r_h = sigmoid(w_h * i)
    r_o = sigmoid(w_o * r_h)
    rtol = 1e-5 + 4 * 2.0 ** -24 / min(1 - r_h, 1 - r_o)
    check_example3(example3(fastbp.MLP, w_h, w_o, "float32"), i, t, w_h, w_o,
                   rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("i, t, w_h, w_o", EX3_CASES)
def test_example3_reference(i, t, w_h, w_o):
    check_example3(example3(reference.MLP, w_h, w_o), i, t, w_h, w_o, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("i, t, w_h, w_o", EX3_CASES)
def test_example3_trace(i, t, w_h, w_o):
    trace = fastbp.trace_step(example3(fastbp.MLP, w_h, w_o), [i], [t], LR3)
    np.testing.assert_allclose(
        [trace.layers[0].grad_weights[0][0], trace.layers[1].grad_weights[0][0]],
        closed_form(i, t, w_h, w_o), rtol=1e-13, atol=1e-16)


# -- XOR, the data set of example 2, is learned ------------------------------------

XOR_X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
XOR_Y = [0.0, 1.0, 1.0, 0.0]
XOR_EPOCHS = 2000


@pytest.mark.parametrize("cls", [fastbp.MLP, reference.MLP], ids=["core", "reference"])
def test_xor_is_learned(cls):
    # 2-4-1, tanh hidden, sigmoid output, per-sample SGD: FANN's
    # TrainOnDateSimpleXor asks for an MSE below a bound, not a magic number.
    net = cls([2, 4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    start = net.loss(XOR_X, XOR_Y)
    history = net.fit(XOR_X, XOR_Y, epochs=XOR_EPOCHS, lr=0.5, batch_size=1, seed=0)
    assert len(history.loss) == XOR_EPOCHS
    assert start > 0.1                  # it was not solved before training
    assert net.loss(XOR_X, XOR_Y) < 0.01
    assert history.loss[-1] < 0.01 and history.loss[-1] < history.loss[0] / 10
    out = np.asarray(net.predict(XOR_X))[:, 0]
    assert np.mean((out - np.asarray(XOR_Y)) ** 2) < 0.01
    np.testing.assert_array_equal(out > 0.5, np.asarray(XOR_Y) > 0.5)
