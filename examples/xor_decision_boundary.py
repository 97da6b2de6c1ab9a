"""Train the XOR network and draw what it learned: the picture in the README.

    python examples/xor_decision_boundary.py [OUT.png]

writes docs/xor.png (or OUT.png): on the left the class regions of the
2-4-1 network (tanh hidden units, sigmoid output, per-sample SGD, the same
training as ``python -m fastbp demo``) with the four XOR samples; on the
right its training loss per epoch. Needs matplotlib (pip install fastbp[plot]).
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, same pixels everywhere
import matplotlib.pyplot as plt  # noqa: E402

from fastbp.demo import XOR_X, XOR_Y, xor_training  # noqa: E402
from fastbp.plot import decision_boundary  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "xor.png"


def draw(out):
    """Train the network, draw both panels and save them to ``out``."""
    net, history = xor_training()
    fig, (regions, curve) = plt.subplots(1, 2, figsize=(9, 4), dpi=100)
    decision_boundary(net, XOR_X, XOR_Y, ax=regions)
    regions.set(title="2-4-1 network on XOR: class 1 where output ≥ 0.5",
                xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    # Outside the square: inside, any spot would hide part of the regions.
    regions.legend(title="class", loc="upper left", bbox_to_anchor=(1.02, 1))
    history.plot(ax=curve)
    # The loss falls by orders of magnitude: a log scale shows all of it.
    curve.set(yscale="log", title=f"training loss, {history.n_epochs} epochs")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    draw(out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
