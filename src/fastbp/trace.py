"""One training step, worked the way the textbooks work it by hand.

``trace_step`` records every number of one SGD step (net inputs, outputs,
errors, deltas, gradients, new weights) and ``str()`` of the result prints
them line by line, each with the formula it comes from. A notebook shows the
same step as a page of LaTeX formulas (``fastbp._page``), and
``fastbp.plot.network`` draws it.

The intermediate numbers are computed in double precision by
``fastbp.reference``; the update itself is the model's own ``train_step``,
so the traced model ends exactly where ``train_step`` would leave it.

A note for teachers: a widely copied XOR tutorial updates its weights with
delta = target - output and moves weights whose input is 0. Gradient descent
on 1/2 (t - o)^2 needs delta = output - target, and the gradient of a weight
is its input times the delta, so weights from zero inputs stay put. The trace
of that network (every weight 1, identity units, x = (0, 0), t = 0, lr = 0.1)
shows the correct step: 4 -> 1.68 at the output, E 8 -> 1.4112.
"""
import math
from dataclasses import dataclass

from fastbp import reference

# Layers with more inputs than this print their net input as a sum, not term by term.
MAX_TERMS = 8


@dataclass
class LayerTrace:
    """One weight layer's part of the step; lists of floats, rows per unit."""
    activation: str
    inputs: list        # a_i, the layer's inputs
    weights: list       # w_ji before the step
    biases: list        # b_j before the step, or None
    nets: list          # net_j = sum_i w_ji a_i + b_j
    outs: list          # out_j = f(net_j)
    d_outs: list        # dE/dout_j, or None where the loss gives deltas directly
    deltas: list        # delta_j = dE/dnet_j
    grad_weights: list  # dE/dw_ji = delta_j a_i
    grad_biases: list   # dE/db_j = delta_j, or None
    new_weights: list
    new_biases: list


@dataclass
class StepTrace:
    """Every number of one training step; ``str()`` is the worked report,
    ``_repr_markdown_`` the worked page a notebook displays."""
    x: list
    t: list
    lr: float
    update_biases: bool
    loss_name: str
    layers: list         # LayerTrace per weight layer, input side first
    output_errors: list  # each output unit's share of the loss
    error_before: float
    error_after: float
    outputs_after: list

    def __str__(self):
        return "\n".join(_report(self))

    def _repr_markdown_(self):
        """The worked page a notebook shows: the formulas in LaTeX with the
        numbers substituted (``fastbp._page``)."""
        from fastbp._page import page
        return page(self)

    @property
    def unit_names(self):
        """Names of the units per layer, as the report writes them: x1.. for
        the inputs, h1.. (h1.1.. with several hidden layers), o1.. outputs."""
        sizes = [len(self.x)] + [len(layer.outs) for layer in self.layers]
        return _unit_names(len(self.layers), sizes)


def trace_step(net, x, t, lr, update_biases=True):
    """Perform ``net.train_step(x, t, lr, update_biases)`` and return a
    ``StepTrace`` of it.

    ``net`` is a ``fastbp.MLP`` or a ``fastbp.reference.MLP``. Bad input is
    refused before the model changes.
    """
    ref = _as_reference(net)
    x, t, nets, outs, error, deltas = passes(ref, x, t)
    inputs = [x] + outs[:-1]
    before = [(W, b) for W, b in zip(ref.weights, ref.biases or [None] * len(ref.weights))]

    net.train_step(x, t, lr, update_biases)
    after = _as_reference(net)

    d_outs = _d_outs(ref, outs, t, deltas)
    layers = []
    for l, (W, b) in enumerate(before):
        layers.append(LayerTrace(
            activation=ref.activations[l], inputs=inputs[l], weights=W, biases=b,
            nets=nets[l], outs=outs[l], d_outs=d_outs[l], deltas=deltas[l],
            grad_weights=[[d * a for a in inputs[l]] for d in deltas[l]],
            grad_biases=list(deltas[l]) if b is not None else None,
            new_weights=after.weights[l],
            new_biases=after.biases[l] if after.biases is not None else None))
    final_nets, final_outs = after.forward(x)
    return StepTrace(
        x=x, t=t, lr=float(lr), update_biases=bool(update_biases),
        loss_name=ref.loss_name, layers=layers,
        output_errors=_output_errors(ref.loss_name, outs[-1], nets[-1], t),
        error_before=error, error_after=after.output_deltas(final_nets, final_outs, t)[0],
        outputs_after=final_outs[-1])


def passes(ref, x, t=None):
    """The forward and backward passes of ``ref`` (a ``reference.MLP``) on one
    sample, the model unchanged: (x, t, nets, outs, error, deltas) with lists
    per layer; without a target, t, error and deltas are None."""
    if t is None:
        x = ref._sample(x, [0.0] * ref.layer_sizes[-1])[0]
        return (x, None, *ref.forward(x), None, None)
    x, t = ref._sample(x, t)
    nets, outs = ref.forward(x)
    error, top = ref.output_deltas(nets, outs, t)
    return x, t, nets, outs, error, ref.backward(outs, top)


def _as_reference(net):
    """A float64 reference copy of any fastbp model's current parameters."""
    to_list = lambda a: [[float(v) for v in row] for row in a]
    return reference.MLP.from_weights(
        [to_list(W) for W in net.weights],
        [[float(v) for v in b] for b in net.biases] if net.biases is not None else None,
        activation=list(net.activations), loss=net.loss_name, dtype="float64")


def _d_outs(ref, outs, t, deltas):
    """dE/dout per layer: sum_j w_ji delta_j below the top; o - t at a
    squared-error output; None where a log loss gives the deltas directly."""
    top = [o - tk for o, tk in zip(outs[-1], t)] if ref.loss_name == "squared_error" else None
    d_outs = []
    for l in range(len(ref.weights) - 1):
        W, above = ref.weights[l + 1], deltas[l + 1]
        d_outs.append([sum(W[j][i] * above[j] for j in range(len(W)))
                       for i in range(len(W[0]))])
    return d_outs + [top]


def _output_errors(loss_name, outs, nets, t):
    if loss_name == "squared_error":
        return [0.5 * (tk - o) ** 2 for o, tk in zip(outs, t)]
    if loss_name == "binary_cross_entropy":
        return [max(z, 0.0) - z * tk + math.log1p(math.exp(-abs(z))) for z, tk in zip(nets, t)]
    if loss_name == "poisson":
        return [o - tk * z + (tk * math.log(tk) if tk > 0 else 0.0) - tk
                for o, z, tk in zip(outs, nets, t)]
    top = max(nets)
    logsumexp = top + math.log(sum(math.exp(z - top) for z in nets))
    return [tk * (logsumexp - z) for z, tk in zip(nets, t)]


# -- the report -----------------------------------------------------------------

def _num(v):
    """As the hand-worked tutorials print numbers: 9 significant digits below
    1, 9 decimals from 1 on (at least 9 significant digits either way)."""
    if v == 0:
        return "0"
    if abs(v) < 1 or abs(v) >= 1e9:
        return f"{v:.9g}"
    return f"{v:.9f}".rstrip("0").rstrip(".")


def _unit_names(n_layers, sizes):
    """x1.. for inputs, h1.. for one hidden layer (h1.1.. for several), o1.. outputs."""
    names = [[f"x{i + 1}" for i in range(sizes[0])]]
    for l in range(1, n_layers):
        prefix = "h" if n_layers == 2 else f"h{l}."
        names.append([f"{prefix}{j + 1}" for j in range(sizes[l])])
    names.append([f"o{k + 1}" for k in range(sizes[-1])])
    return names


DERIVATIVE_TEXT = {
    "sigmoid": "out {u} (1 - out {u})",
    "tanh": "(1 - out {u}^2)",
    "identity": "1",
    "relu": "relu'(net {u})",
    "leaky_relu": "leaky_relu'(net {u})",
    "exp": "out {u}",
}


def biases_text(tr):
    """What the step does with the biases, for the report's first line."""
    if tr.layers[0].biases is None:
        return "no biases"
    return "biases updated" if tr.update_biases else "biases fixed"


def _report(tr):
    names = tr.unit_names
    biases = biases_text(tr)
    yield f"One training step: loss {tr.loss_name}, learning rate {_num(tr.lr)}, {biases}"
    yield "  " + "   ".join(f"{n} = {_num(v)}" for n, v in zip(names[0], tr.x))
    yield "  " + "   ".join(f"target {n} = {_num(v)}" for n, v in zip(names[-1], tr.t))
    yield ""
    yield "Forward pass: net_j = sum_i w_ji a_i + b_j, out_j = f(net_j)"
    for l, layer in enumerate(tr.layers):
        kind = "output" if l == len(tr.layers) - 1 else "hidden"
        yield f"  layer {l + 1} ({kind}, {layer.activation})"
        for j, u in enumerate(names[l + 1]):
            yield f"    net {u} = {_net_terms(layer, j, names[l])} = {_num(layer.nets[j])}"
        for j, u in enumerate(names[l + 1]):
            arg = "net" if layer.activation == "softmax" else _num(layer.nets[j])
            yield f"    out {u} = {layer.activation}({arg}) = {_num(layer.outs[j])}"
    yield ""
    yield f"Error: {_error_formula(tr.loss_name)}"
    for k, u in enumerate(names[-1]):
        yield f"  E {u} = {_num(tr.output_errors[k])}"
    yield f"  E total = {_num(tr.error_before)}"
    yield ""
    yield "Backward pass: delta_j = dE/dnet_j, dE/dw_ji = delta_j a_i"
    for l in range(len(tr.layers) - 1, -1, -1):
        yield from _backward_lines(tr, l, names)
    yield ""
    fixed = biases == "biases fixed"
    yield f"Update: w <- w - {_num(tr.lr)} dE/dw" + (" (biases fixed)" if fixed else "")
    for l, layer in enumerate(tr.layers):
        for j, u in enumerate(names[l + 1]):
            for i, v in enumerate(names[l]):
                yield (f"  w {u},{v} = {_num(layer.weights[j][i])} - {_num(tr.lr)} * "
                       f"{_num(layer.grad_weights[j][i])} = {_num(layer.new_weights[j][i])}")
            if layer.biases is not None and tr.update_biases:
                yield (f"  b {u} = {_num(layer.biases[j])} - {_num(tr.lr)} * "
                       f"{_num(layer.grad_biases[j])} = {_num(layer.new_biases[j])}")
    yield ""
    yield "After the step"
    yield "  " + "   ".join(f"out {u} = {_num(v)}" for u, v in zip(names[-1], tr.outputs_after))
    yield f"  E total = {_num(tr.error_after)}"


def _net_terms(layer, j, input_names):
    row = layer.weights[j]
    bias = f" + {_num(layer.biases[j])}" if layer.biases is not None else ""
    if len(row) > MAX_TERMS:
        return f"sum of {len(row)} terms w_ji a_i{bias}"
    return " + ".join(f"{_num(w)} * {_num(a)}" for w, a in zip(row, layer.inputs)) + bias


def _error_formula(loss_name):
    return {"squared_error": "E = sum_k 1/2 (t_k - out_k)^2",
            "binary_cross_entropy": "E = -sum_k [t_k log out_k + (1 - t_k) log(1 - out_k)]",
            "cross_entropy": "E = -sum_k t_k log out_k",
            "poisson": "E = sum_k [out_k - t_k net_k + t_k log t_k - t_k]"}[loss_name]


def _backward_lines(tr, l, names):
    layer = tr.layers[l]
    top = l == len(tr.layers) - 1
    yield f"  layer {l + 1} ({'output' if top else 'hidden'})"
    for j, u in enumerate(names[l + 1]):
        if layer.d_outs is None:
            mass = " sum_k t_k" if tr.loss_name == "cross_entropy" else ""
            yield (f"    delta {u} = out {u}{mass} - t {u} ({tr.loss_name} with "
                   f"{layer.activation}) = {_num(layer.deltas[j])}")
            continue
        if top:
            yield f"    dE/dout {u} = out {u} - t {u} = {_num(layer.d_outs[j])}"
        else:
            above = tr.layers[l + 1]
            terms = " + ".join(f"{_num(above.weights[k][j])} * {_num(above.deltas[k])}"
                               for k in range(len(above.deltas)))
            if len(above.deltas) > MAX_TERMS:
                terms = f"sum of {len(above.deltas)} terms w_kj delta_k"
            yield f"    dE/dout {u} = {terms} = {_num(layer.d_outs[j])}"
        derivative = DERIVATIVE_TEXT.get(layer.activation, "softmax Jacobian")
        yield (f"    delta {u} = dE/dout {u} * {derivative.format(u=u)} = "
               f"{_num(layer.deltas[j])}")
    for j, u in enumerate(names[l + 1]):
        for i, v in enumerate(names[l]):
            yield (f"    dE/dw {u},{v} = delta {u} * {v} = {_num(layer.deltas[j])} * "
                   f"{_num(layer.inputs[i])} = {_num(layer.grad_weights[j][i])}")
        if layer.grad_biases is not None:
            yield f"    dE/db {u} = delta {u} = {_num(layer.grad_biases[j])}"
