"""The main job, ``python -m fastbp demo``: fastbp's worked examples, an XOR
network learning, and the compiled core's speed beside the reference."""
import time
from dataclasses import dataclass

import numpy as np

import fastbp
from fastbp import reference

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


@dataclass
class Example:
    """A network, one sample and the step's settings, as ``trace`` runs them."""
    title: str
    weights: list
    biases: list
    activation: str
    x: list
    t: list
    lr: float
    update_biases: bool
    output_activation: str = None
    loss: str = "squared_error"


# The worked examples of the classic tutorials (README); example 1 and 2 are
# also the first two parts of the demo, example 3 the first case of
# tests/test_worked_examples.py's closed-form checks.
EXAMPLES = {
    1: Example("Worked example 1: 2-2-2 sigmoid network, learning rate 0.5, biases fixed",
               [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
               [[0.35, 0.35], [0.60, 0.60]], "sigmoid", [0.05, 0.10], [0.01, 0.99], 0.5,
               False),
    2: Example("Worked example 2: the XOR network's first step, identity units, every "
               "weight 1, learning rate 0.1",
               [[[1.0, 1.0]] * 3, [[1.0, 1.0, 1.0]]], [[1.0] * 3, [1.0]], "identity",
               [0.0, 0.0], [0.0], 0.1, True),
    3: Example("Worked example 3: 1-1-1 sigmoid chain without biases, learning rate 0.7",
               [[[0.5]], [[0.5]]], None, "sigmoid", [1.0], [0.0], 0.7, True),
}


def trace_example(number):
    """One step of worked example ``number``, traced (a StepTrace)."""
    e = EXAMPLES[number]
    net = fastbp.MLP.from_weights(e.weights, e.biases, activation=e.activation,
                                  output_activation=e.output_activation, loss=e.loss)
    return fastbp.trace_step(net, e.x, e.t, lr=e.lr, update_biases=e.update_biases)


def worked_example():
    """Worked example 1: 2-2-2 sigmoid network, one step with lr 0.5, biases fixed."""
    return trace_example(1)


def xor_first_step():
    """Worked example 2: identity units, every weight 1, first XOR sample."""
    return trace_example(2)


def xor_training(epochs=2000):
    net = fastbp.MLP([2, 4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    history = net.fit(XOR_X, XOR_Y, epochs=epochs, lr=0.5, seed=0)
    return net, history


def speed(shape=(64, 128, 10), dtype="float64", n_fast=20000, n_ref=20):
    """Samples per second of per-sample SGD, compiled core and reference."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(n_fast, shape[0]))
    Y = rng.uniform(size=(n_fast, shape[-1]))
    rates = {}
    for name, model, n in (("fastbp", fastbp.MLP(shape, dtype=dtype, seed=0), n_fast),
                           ("reference", reference.MLP(shape, dtype=dtype, seed=0), n_ref)):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            model.fit(X[:n], Y[:n], epochs=1, lr=0.1, shuffle=False)
            best = min(best, time.perf_counter() - start)
        rates[name] = n / best
    return rates


def main():
    print("== Worked example 1: one backpropagation step, by hand ==\n")
    print(worked_example())
    print("\n(The picture of this step, the network before and after it: "
          "fastbp trace --plot network.png)")
    print("\n== Worked example 2: the XOR network's first step, corrected ==")
    print("(The tutorial moves every weight to 1.4; gradient descent moves them to 0.6,\n"
          " and leaves the weights from the two zero inputs alone.)\n")
    print(xor_first_step())
    print("\n== Learning XOR: 2-4-1, tanh hidden, sigmoid output, per-sample SGD ==")
    net, history = xor_training()
    for e in (0, 9, 99, 999, history.n_epochs - 1):
        print(f"  epoch {e + 1:5d}: mean loss {history.loss[e]:.6f}")
    for x, y in zip(XOR_X, net.predict(XOR_X)[:, 0]):
        print(f"  {x.astype(int)} -> {y:.4f}")
    print("\n== Speed: per-sample SGD, 64-128-10, sigmoid, float64 ==")
    rates = speed()
    print(f"  fastbp     {rates['fastbp']:12,.0f} samples/s   (kernel path {fastbp.kernel_path()})")
    print(f"  reference  {rates['reference']:12,.0f} samples/s   (pure Python)")
    print(f"  fastbp / reference = {rates['fastbp'] / rates['reference']:,.0f}x")
