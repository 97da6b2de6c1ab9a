"""The README's Python examples run as written.

Every ```python block of README.md runs on its own, in a fresh interpreter
and an empty temporary directory, within a time limit. A block right below
the HTML comment ``<!-- not run -->`` is skipped (for one that only sketches);
a block that uses an optional library is skipped when the library is missing.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
NOT_RUN = "<!-- not run -->"
TIMEOUT = 300
# What a block uses, found by a pattern in its text, and the module it needs.
OPTIONAL = {
    r"\bsklearn\b|\bMLP(Classifier|Regressor)\b": "sklearn",
    r"\bmatplotlib\b|\bfastbp\.plot\b|\bfrom fastbp import plot\b|\.plot\(": "matplotlib",
    r"\bfastbp\.river\b|\bfrom river\b|\bimport river\b": "river",
    r"\bpandas\b|\bpd\.": "pandas",
    r"\bdistributed\b|\bdask\b": "distributed",
    r"\btorch\b": "torch",
}


def python_blocks(text):
    """(line of the opening fence, code, marked not to run) of each ```python block."""
    lines = text.splitlines()
    blocks = []
    start = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if start is None and re.fullmatch(r"```\s*(python|py)\s*", stripped):
            start = number
        elif start is not None and stripped == "```":
            before = [ln.strip() for ln in lines[:start - 1] if ln.strip()]
            skipped = bool(before) and before[-1] == NOT_RUN
            blocks.append((start, "\n".join(lines[start:number - 1]), skipped))
            start = None
    return blocks


def needed_modules(code):
    return sorted({module for pattern, module in OPTIONAL.items() if re.search(pattern, code)})


BLOCKS = python_blocks(README.read_text(encoding="utf-8")) if README.exists() else []


def test_the_block_parser():
    text = ("text\n```python\nprint(1)\n```\n\n<!-- not run -->\n\n```python\nx = (\n\n)\n```\n"
            "```\nshell\n```\n```py\nimport matplotlib.pyplot\n```\n")
    assert python_blocks(text) == [(2, "print(1)", False), (8, "x = (\n\n)", True),
                                   (16, "import matplotlib.pyplot", False)]
    assert needed_modules("from sklearn.datasets import load_iris\nh.plot()") == [
        "matplotlib", "sklearn"]
    assert needed_modules("import fastbp\nfastbp.MLP([2, 1])") == []


@pytest.mark.skipif(not README.exists(), reason="README.md is not beside tests/ "
                                                 "(an installed copy of the tests)")
def test_the_readme_has_python_examples():
    assert BLOCKS


@pytest.mark.parametrize("line, code, skipped", BLOCKS,
                         ids=[f"README.md:{line}" for line, _, _ in BLOCKS])
def test_readme_block_runs(tmp_path, line, code, skipped):
    if skipped:
        pytest.skip(f"marked {NOT_RUN}")
    for module in needed_modules(code):
        pytest.importorskip(module)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, (f"README.md line {line}: the block failed\n"
                                  f"{done.stderr[-3000:]}")
