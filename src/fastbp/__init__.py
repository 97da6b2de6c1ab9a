"""fastbp: multi-layer perceptrons trained by backpropagation, sample by sample,
in a compiled core; a pure-Python reference with the same API; and a step
trace that prints one training step as the textbooks work it by hand."""
__version__ = "0.1.0"

from fastbp import optim
from fastbp._config import kernel_path, kernel_paths, set_kernel_path, show_config
from fastbp.errors import DivergenceError
from fastbp.history import History
from fastbp.mlp import MLP
from fastbp.persistence import load
from fastbp.trace import StepTrace, trace_step

__all__ = ["MLP", "optim", "load", "History", "DivergenceError", "trace_step", "StepTrace",
           "show_config", "kernel_path", "kernel_paths", "set_kernel_path"]


def __getattr__(name):
    # The scikit-learn estimators import scikit-learn (optional): only when asked for.
    if name in ("MLPClassifier", "MLPRegressor"):
        from fastbp import estimators
        return getattr(estimators, name)
    raise AttributeError(f"module 'fastbp' has no attribute {name!r}")
