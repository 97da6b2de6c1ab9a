"""docs/tutorial.md runs: every code block is a doctest, executed here (in a
temporary directory, where it saves its pictures), so the tutorial's numbers
are the numbers fastbp computes."""
import doctest
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
TUTORIAL = DOCS / "tutorial.md"


def code_blocks(text):
    return re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)


def test_every_code_block_is_a_doctest():
    text = TUTORIAL.read_text(encoding="utf-8")
    blocks = code_blocks(text)
    assert len(blocks) == text.count("```python") >= 10
    # No block escapes the run: each is made of examples ("... " lines continue
    # one, the others are expected output), and ends with a blank line so that
    # its closing fence is not read as output.
    for block in blocks:
        assert block.startswith(">>> ") and block.endswith("\n\n"), block[:80]
    assert text.count("```") == 2 * len(blocks)      # no fences of another kind


def test_the_tutorial_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = TUTORIAL.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, "tutorial.md", str(TUTORIAL), 0)
    assert len(test.examples) >= 40
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    failures = []
    runner.run(test, out=failures.append)
    plt.close("all")
    assert runner.failures == 0, "".join(failures)
    # The pictures it saves are those it shows.
    shown = set(re.findall(r"!\[[^]]*\]\(([^)]+\.png)\)", text))
    saved = {path.name for path in tmp_path.glob("*.png")}
    assert saved == shown - {"network.png"}          # network.png: fastbp trace --plot
    for name in shown:
        assert (DOCS / name).is_file(), f"docs/{name} is missing"


@pytest.mark.parametrize("name", ["network.png", "xor_step.png", "xor_training.png",
                                  "xor_trained.png"])
def test_the_docs_pictures_are_readable_pngs(name):
    pixels = plt.imread(DOCS / name)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) >= 300
