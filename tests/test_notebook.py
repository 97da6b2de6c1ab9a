"""What a notebook shows: a StepTrace as a worked page (Markdown with LaTeX,
the numbers substituted, grouped as the tutorials group a step) and an MLP
as a short HTML summary, checked against the trace's own numbers and
through IPython's display formatter."""
import re

import numpy as np
import pytest

import fastbp
from fastbp import _page, _vocabulary
from fastbp.demo import trace_example

SECTIONS = ["Forward pass", "Error", "Output deltas", "Hidden deltas", "Gradients",
            "Updates", "After the step"]


def number(tex):
    """A number as the page writes it: 2.5 \\times 10^{-17} is 2.5e-17."""
    return float(re.sub(r" \\times 10\^\{(-?\d+)\}$", r"e\1", tex))


def equations(page):
    """{section: {left side: the number its equation ends with}}."""
    found = {}
    for section in page.split("\n#### ")[1:]:
        title, body = section.split("\n", 1)
        lines = re.findall(r"^(.+?) &= (.*?)(?: \\\\)?$", body, re.M)
        found[title] = {left: number(right.rsplit("= ", 1)[-1]) for left, right in lines}
        assert len(found[title]) == len(lines), f"{title}: a left side twice"
    return found


def nine_digits(value):
    return pytest.approx(value, rel=6e-9, abs=1e-15)


def test_the_page_groups_the_step_as_the_tutorials_do():
    page = trace_example(1)._repr_markdown_()
    headings = re.findall(r"^#### (.*)$", page, re.M)
    assert headings == SECTIONS[:5] + ["Updates (biases fixed)", "After the step"]
    assert page.startswith("### One training step\n\nLoss squared error, learning rate "
                           "$\\eta = 0.5$, biases fixed. Input $x_{1} = 0.05$, $x_{2} = 0.1$; "
                           "target $t_{o_{1}} = 0.01$, $t_{o_{2}} = 0.99$.\n")
    # Every displayed block is closed, and its braces balance.
    blocks = re.findall(r"\$\$\n(.*?)\n\$\$", page, re.S)
    assert len(blocks) == len(headings) == page.count("$$") / 2
    for block in blocks:
        assert block.startswith("\\begin{aligned}") and block.endswith("\\end{aligned}")
        assert block.count("{") == block.count("}")


@pytest.mark.parametrize("number", [1, 2, 3])
def test_every_number_on_the_page_is_the_traces(number):
    step = trace_example(number)
    found = equations(step._repr_markdown_())
    names = [[_page._unit(u) for u in layer] for layer in step.unit_names]
    top = len(step.layers) - 1
    expected = {title: {} for title in found}
    after = expected["After the step"]
    after[r"E_{\mathrm{total}}"] = step.error_after
    expected["Error"][r"E_{\mathrm{total}}"] = step.error_before
    updates = next(title for title in found if title.startswith("Updates"))
    for l, layer in enumerate(step.layers):
        for j, u in enumerate(names[l + 1]):
            expected["Forward pass"][rf"\mathrm{{net}}_{{{u}}}"] = layer.nets[j]
            expected["Forward pass"][rf"\mathrm{{out}}_{{{u}}}"] = layer.outs[j]
            deltas = "Output deltas" if l == top else "Hidden deltas"
            expected[deltas][rf"\delta_{{{u}}}"] = layer.deltas[j]
            for i, v in enumerate(names[l]):
                expected["Gradients"][rf"\frac{{\partial E}}{{\partial w_{{{u} {v}}}}}"] = \
                    layer.grad_weights[j][i]
                expected[updates][rf"w_{{{u} {v}}}"] = layer.new_weights[j][i]
            if layer.biases is not None:
                expected["Gradients"][rf"\frac{{\partial E}}{{\partial b_{{{u}}}}}"] = \
                    layer.grad_biases[j]
                if step.update_biases:
                    expected[updates][rf"b_{{{u}}}"] = layer.new_biases[j]
    for j, u in enumerate(names[-1]):
        expected["Error"][f"E_{{{u}}}"] = step.output_errors[j]
        after[rf"\mathrm{{out}}_{{{u}}}"] = step.outputs_after[j]
    assert {t: set(eqs) for t, eqs in found.items()} == {t: set(e) for t, e in expected.items()}
    for title, eqs in expected.items():
        for left, value in eqs.items():
            assert found[title][left] == nine_digits(value), (title, left)


def test_the_formulas_have_the_numbers_substituted():
    page = trace_example(1)._repr_markdown_()
    for equation in [
        r"\mathrm{net}_{h_{1}} &= 0.15 \cdot 0.05 + 0.2 \cdot 0.1 + 0.35 = 0.3775",
        r"\mathrm{out}_{h_{1}} &= \sigma(0.3775) = 0.593269992",
        r"E_{o_{1}} &= \tfrac{1}{2}\,(0.01 - 0.75136507)^2 = 0.274811083",
        r"\delta_{o_{1}} &= (0.75136507 - 0.01) \cdot 0.75136507\,(1 - 0.75136507) "
        r"= 0.138498562",
        r"\delta_{h_{1}} &= \Big(0.4 \cdot 0.138498562 + 0.5 \cdot (-0.0380982365)\Big) "
        r"\cdot 0.593269992\,(1 - 0.593269992) = 0.00877135469",
        r"\frac{\partial E}{\partial b_{h_{1}}} &= \delta_{h_{1}} = 0.00877135469",
        r"w_{o_{2} h_{1}} &= 0.5 - 0.5 \cdot (-0.0226025405) = 0.51130127",
    ]:
        assert equation in page
    assert r"b_{h_{1}} &=" not in page            # biases fixed: no bias update


def test_the_xor_page_shows_the_corrected_step():
    page = trace_example(2)._repr_markdown_()
    assert r"w_{h_{1} x_{1}} &= 1 - 0.1 \cdot 0 = 1" in page
    assert r"b_{h_{1}} &= 1 - 0.1 \cdot 4 = 0.6" in page
    assert r"\mathrm{out}_{o_{1}} &= 1.68" in page


def test_log_losses_and_negative_numbers_read_as_maths():
    net = fastbp.MLP.from_weights([[[0.3, -0.2], [0.1, 0.4]]], [[0.0, -0.5]],
                                  loss="binary_cross_entropy")
    page = fastbp.trace_step(net, [1.0, 2.0], [1.0, 0.0], 0.1)._repr_markdown_()
    assert (r"$E = -\sum_k \left[t_k \log \mathrm{out}_k + (1 - t_k) \log(1 - "
            r"\mathrm{out}_k)\right]$") in page
    assert r"\mathrm{net}_{o_{1}} &= 0.3 \cdot 1 - 0.2 \cdot 2 + 0 = -0.1" in page
    assert r"\mathrm{net}_{o_{2}} &= 0.1 \cdot 1 + 0.4 \cdot 2 - 0.5 = 0.4" in page
    assert "+ -" not in page and "- -" not in page


def test_a_large_network_gives_a_short_page():
    net = fastbp.MLP([100, 128, 10], seed=0)
    page = fastbp.trace_step(net, np.linspace(0, 1, 100), np.eye(10)[3], 0.1)._repr_markdown_()
    assert len(page) < 6000
    assert "100 values" in page and r"trace.layers[0].grad\_weights" in page
    assert page.count("$$") % 2 == 0


def test_ipython_displays_the_page_and_the_summary():
    # IPython's own formatter picks the page and the summary.
    from IPython.core import formatters
    formatter = formatters.DisplayFormatter()
    step = trace_example(1)
    data, _ = formatter.format(step)
    assert data["text/markdown"] == step._repr_markdown_()
    assert data["text/plain"].startswith("StepTrace(")
    data, _ = formatter.format(fastbp.MLP([2, 3, 1], seed=0))
    assert "text/html" in data


@pytest.mark.parametrize("bias, parameters", [(True, "13 (9 weights, 4 biases)"),
                                              (False, "9 (9 weights, 0 biases)")])
def test_mlp_summary(bias, parameters):
    net = fastbp.MLP([2, 3, 1], activation="tanh", output_activation="sigmoid",
                     bias=bias, dtype="float32", seed=0)
    cells = dict(re.findall(r"<th[^>]*>(.*?)</th><td[^>]*>(.*?)</td>", net._repr_html_()))
    assert cells == {"layers": "2 &rarr; 3 &rarr; 1", "activations": "tanh, sigmoid",
                     "loss": "squared_error", "parameters": parameters, "dtype": "float32",
                     "kernel path": fastbp.kernel_path()}


def test_the_page_knows_every_name():
    assert set(_page.ACTIVATION_TEX) == set(_page.DERIVATIVE_TEX) == \
        set(_vocabulary.HIDDEN_ACTIVATIONS)
    assert set(_page.ERROR_TEX) == set(_vocabulary.LOSSES)


@pytest.mark.parametrize("activation", _vocabulary.HIDDEN_ACTIVATIONS)
def test_every_activation_has_its_formula(activation):
    net = fastbp.MLP.from_weights([[[0.5, -0.3]], [[0.7], [-0.2]]], [[0.1], [0.0, 0.3]],
                                  activation=activation, output_activation="softmax",
                                  loss="cross_entropy")
    step = fastbp.trace_step(net, [1.0, 2.0], [0.0, 1.0], 0.1)
    page = step._repr_markdown_()
    out = step.layers[0].outs[0]
    formula = _page.DERIVATIVE_TEX[activation].format(o=_page.num(out),
                                                     n=_page.num(step.layers[0].nets[0]))
    assert f"{formula} = {_page.num(step.layers[0].deltas[0])}" in page
    assert equations(page)["Forward pass"][r"\mathrm{out}_{h_{1}}"] == nine_digits(out)
