"""matplotlib for fastbp's pictures (``fastbp.plot`` and its network picture,
``fastbp._plot_network``), imported only when something is drawn: matplotlib
is optional (``pip install "fastbp[plot]"``).
"""
from fastbp._install import install_hint


def pyplot():
    """matplotlib.pyplot, or an ImportError that says what to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("fastbp.plot draws with matplotlib, which is not installed: "
                          + install_hint("plot")) from exc
    return plt


def axes(ax):
    """ax, or the Axes of a new figure when ax is None (as scikit-learn's
    displays do: never draw over whatever figure happens to be current)."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots()
    return ax
