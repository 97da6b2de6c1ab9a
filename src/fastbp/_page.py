"""The step as a page: a ``StepTrace`` written as Markdown with LaTeX, which
a notebook displays (``StepTrace._repr_markdown_``).

The page groups the step as the tutorials do (forward pass, error, output
deltas, hidden deltas, gradients, updates) and writes each formula with its
numbers substituted, in the precision of the printed report. A layer with
more than ``MAX_ENTRIES`` weights is summarised rather than listed, so a
large network gives a short page rather than one MathJax cannot typeset.
"""
import re

from fastbp.trace import MAX_TERMS, _num, biases_text

MAX_ENTRIES = 64

ACTIVATION_TEX = {
    "sigmoid": r"\sigma({})",
    "tanh": r"\tanh({})",
    "identity": "{}",
    "relu": r"\max(0, {})",
    "leaky_relu": r"\mathrm{{leaky\_relu}}({})",
    "exp": r"e^{{{}}}",
}

# f'(net) through the output, as the trace computes it (derivatives from outputs).
DERIVATIVE_TEX = {
    "sigmoid": r"{o}\,(1 - {o})",
    "tanh": r"(1 - {o}^2)",
    "identity": "1",
    "relu": r"\mathrm{{relu}}'({n})",
    "leaky_relu": r"\mathrm{{leaky\_relu}}'({n})",
    "exp": "{o}",
}

ERROR_TEX = {
    "squared_error": r"E = \sum_k \tfrac{1}{2}\,(t_k - \mathrm{out}_k)^2",
    "binary_cross_entropy":
        r"E = -\sum_k \left[t_k \log \mathrm{out}_k + (1 - t_k) \log(1 - \mathrm{out}_k)\right]",
    "cross_entropy": r"E = -\sum_k t_k \log \mathrm{out}_k",
    "poisson": r"E = \sum_k \left[\mathrm{out}_k - t_k\,\mathrm{net}_k + t_k \log t_k - t_k\right]",
}


def page(tr):
    """The Markdown text of the page of StepTrace ``tr``."""
    names = [[_unit(u) for u in layer] for layer in tr.unit_names]
    return "\n".join(_page(tr, names)) + "\n"


def num(v):
    """A number as the report prints it, in LaTeX: 1.5e-05 as 1.5 \\times 10^{-5}."""
    text = _num(v)
    mantissa, e, exponent = text.partition("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}" if e else text


def factor(v):
    """A number as a factor of a product: negative ones in brackets."""
    return f"({num(v)})" if v < 0 else num(v)


def products(pairs):
    """w1 a1 + w2 a2 + ... in LaTeX; a negative weight is subtracted
    (0.4 \\cdot 0.1 - 0.5 \\cdot 0.2) rather than added in brackets."""
    terms = [(w < 0, rf"{num(abs(w))} \cdot {factor(a)}") for w, a in pairs]
    (negative, first), rest = terms[0], terms[1:]
    return (("-" if negative else "") + first
            + "".join((" - " if negative else " + ") + term for negative, term in rest))


def plus(v):
    """+ v or - |v|, to end a sum."""
    return f" - {num(-v)}" if v < 0 else f" + {num(v)}"


def _unit(name):
    """x1 -> x_{1}, h1.2 -> h_{1.2}: a unit's name as a LaTeX subscript."""
    letter, index = re.fullmatch(r"([a-z])(.*)", name).groups()
    return f"{letter}_{{{index}}}"


def _math(lines):
    """A displayed block of aligned equations (one per line)."""
    return ["$$", r"\begin{aligned}", " \\\\\n".join(lines), r"\end{aligned}", "$$"]


def _listed(layer):
    return len(layer.weights) * len(layer.weights[0]) <= MAX_ENTRIES


def _page(tr, names):
    yield "### One training step"
    yield ""
    yield (f"Loss {tr.loss_name.replace('_', ' ')}, learning rate $\\eta = {num(tr.lr)}$, "
           f"{biases_text(tr)}. Input {_values(names[0], tr.x, '{}')}; "
           f"target {_values(names[-1], tr.t, 't_{{{}}}')}.")
    yield from _section("Forward pass", r"\mathrm{net}_j = \sum_i w_{ji}\, a_i + b_j, "
                        r"\quad \mathrm{out}_j = f(\mathrm{net}_j)",
                        [line for l in range(len(tr.layers)) for line in _forward(tr, l, names)])
    yield from _section("Error", ERROR_TEX[tr.loss_name], _error(tr, names))
    top = len(tr.layers) - 1
    yield from _section("Output deltas", _output_delta_formula(tr), _deltas(tr, top, names))
    if top:
        yield from _section("Hidden deltas", r"\delta_j = \Big(\sum_k w_{kj}\,\delta_k\Big)\,"
                            r"f'(\mathrm{net}_j)",
                            [line for l in range(top - 1, -1, -1)
                             for line in _deltas(tr, l, names)])
    yield from _section("Gradients", r"\frac{\partial E}{\partial w_{ji}} = \delta_j\, a_i, "
                        r"\quad \frac{\partial E}{\partial b_j} = \delta_j",
                        [line for l in range(top, -1, -1) for line in _gradients(tr, l, names)])
    fixed = " (biases fixed)" if biases_text(tr) == "biases fixed" else ""
    yield from _section("Updates" + fixed, r"w \leftarrow w - \eta\, \frac{\partial E}"
                        r"{\partial w}",
                        [line for l in range(len(tr.layers)) for line in _updates(tr, l, names)])
    yield from _section("After the step", None, [
        *(rf"\mathrm{{out}}_{{{u}}} &= {num(v)}" for u, v in zip(names[-1], tr.outputs_after)),
        rf"E_{{\mathrm{{total}}}} &= {num(tr.error_after)}"])


def _values(units, values, symbol):
    if len(values) > MAX_ENTRIES:
        return f"{len(values)} values"
    return ", ".join(f"${symbol.format(u)} = {num(v)}$" for u, v in zip(units, values))


def _section(title, formula, lines):
    yield ""
    yield f"#### {title}"
    if formula:
        yield ""
        yield f"${formula}$"
    yield ""
    yield from _math(lines)


def _forward(tr, l, names):
    layer, units, below = tr.layers[l], names[l + 1], names[l]
    if not _listed(layer):
        yield (rf"&\text{{layer {l + 1}: {len(units)} units of {len(below)} inputs, "
               rf"{layer.activation}; see trace.layers[{l}].nets and .outs}}")
        return
    for j, u in enumerate(units):
        row = layer.weights[j]
        terms = (rf"\textstyle\sum_i w_{{{u} i}}\, a_i" if len(row) > MAX_TERMS else
                 products(zip(row, layer.inputs)))
        if layer.biases is not None:
            terms += plus(layer.biases[j])
        yield rf"\mathrm{{net}}_{{{u}}} &= {terms} = {num(layer.nets[j])}"
    for j, u in enumerate(units):
        if layer.activation == "softmax":
            f = rf"\mathrm{{softmax}}(\mathrm{{net}})_{{{u}}}"
        else:
            f = ACTIVATION_TEX[layer.activation].format(num(layer.nets[j]))
        yield rf"\mathrm{{out}}_{{{u}}} &= {f} = {num(layer.outs[j])}"


def _error(tr, names):
    top = tr.layers[-1]
    for k, u in enumerate(names[-1]):
        if tr.loss_name == "squared_error":
            yield (rf"E_{{{u}}} &= \tfrac{{1}}{{2}}\,({num(tr.t[k])} - {factor(top.outs[k])})^2"
                   rf" = {num(tr.output_errors[k])}")
        else:
            yield rf"E_{{{u}}} &= {num(tr.output_errors[k])}"
    yield rf"E_{{\mathrm{{total}}}} &= {num(tr.error_before)}"


def _output_delta_formula(tr):
    layer = tr.layers[-1]
    if layer.d_outs is None:
        mass = r" \textstyle\sum_{k'} t_{k'}" if tr.loss_name == "cross_entropy" else ""
        return rf"\delta_k = \mathrm{{out}}_k{mass} - t_k"
    return r"\delta_k = (\mathrm{out}_k - t_k)\, f'(\mathrm{net}_k)"


def _deltas(tr, l, names):
    layer, units = tr.layers[l], names[l + 1]
    top = l == len(tr.layers) - 1
    if len(units) > MAX_ENTRIES:
        yield rf"&\text{{layer {l + 1}: {len(units)} deltas; see trace.layers[{l}].deltas}}"
        return
    for j, u in enumerate(units):
        delta = rf"\delta_{{{u}}} &= "
        if layer.d_outs is None:
            mass = rf" \cdot {num(sum(tr.t))}" if tr.loss_name == "cross_entropy" else ""
            yield (delta + rf"{num(layer.outs[j])}{mass} - {factor(tr.t[j])} = "
                   rf"{num(layer.deltas[j])}")
            continue
        if top:
            d_out = rf"({num(layer.outs[j])} - {factor(tr.t[j])})"
        else:
            above = tr.layers[l + 1]
            d_out = (r"\Big(" + products((above.weights[k][j], above.deltas[k])
                                          for k in range(len(above.deltas))) + r"\Big)"
                     if len(above.deltas) <= MAX_TERMS else rf"({num(layer.d_outs[j])})")
        if layer.activation == "softmax":
            yield delta + rf"\text{{softmax Jacobian}} \cdot {d_out} = {num(layer.deltas[j])}"
            continue
        derivative = DERIVATIVE_TEX[layer.activation].format(o=num(layer.outs[j]),
                                                             n=num(layer.nets[j]))
        yield delta + rf"{d_out} \cdot {derivative} = {num(layer.deltas[j])}"


def _gradients(tr, l, names):
    layer, units, below = tr.layers[l], names[l + 1], names[l]
    if not _listed(layer):
        yield (rf"&\text{{layer {l + 1}: }} \frac{{\partial E}}{{\partial W}} = \delta\, "
               rf"a^\top \text{{ ({len(units)} × {len(below)}; trace.layers[{l}]"
               r".grad\_weights)}")
        return
    for j, u in enumerate(units):
        for i, v in enumerate(below):
            yield (rf"\frac{{\partial E}}{{\partial w_{{{u} {v}}}}} &= \delta_{{{u}}}\, {v} = "
                   rf"{num(layer.deltas[j])} \cdot {factor(layer.inputs[i])} = "
                   rf"{num(layer.grad_weights[j][i])}")
        if layer.grad_biases is not None:
            yield (rf"\frac{{\partial E}}{{\partial b_{{{u}}}}} &= \delta_{{{u}}} = "
                   rf"{num(layer.grad_biases[j])}")


def _updates(tr, l, names):
    layer, units, below = tr.layers[l], names[l + 1], names[l]
    if not _listed(layer):
        yield (rf"&\text{{layer {l + 1}: }} W \leftarrow W - {num(tr.lr)}\, "
               rf"\frac{{\partial E}}{{\partial W}} \text{{ (trace.layers[{l}].new\_weights)}}")
        return
    for j, u in enumerate(units):
        for i, v in enumerate(below):
            yield (rf"w_{{{u} {v}}} &= {num(layer.weights[j][i])} - {num(tr.lr)} \cdot "
                   rf"{factor(layer.grad_weights[j][i])} = {num(layer.new_weights[j][i])}")
        if layer.biases is not None and tr.update_biases:
            yield (rf"b_{{{u}}} &= {num(layer.biases[j])} - {num(tr.lr)} \cdot "
                   rf"{factor(layer.grad_biases[j])} = {num(layer.new_biases[j])}")
