"""Which build of the compiled kernels runs, and how to see or change it.

At import the best path this CPU supports is chosen; the environment variable
FASTBP_CPU (baseline, avx2 or avx512) caps it, for comparisons and for
machines where a wider path is slower.
"""
import os
import platform
import sys

import numpy as np

from fastbp import _core


def _choose_path():
    supported = _core.supported_paths()
    cap = os.environ.get("FASTBP_CPU", "").strip().lower()
    if not cap:
        return supported[-1]
    if cap not in _core.PATHS:
        raise ImportError(f"FASTBP_CPU={cap!r} is not a kernel path; choose from "
                          f"{', '.join(_core.PATHS)}")
    allowed = _core.PATHS[:_core.PATHS.index(cap) + 1]
    return [p for p in supported if p in allowed][-1]


def kernel_paths():
    """Kernel builds this binary holds and this CPU runs, best last."""
    return _core.supported_paths()


def kernel_path():
    """The kernel build in use."""
    return _core.current_path()


def set_kernel_path(name):
    """Use kernel build ``name`` (one of ``kernel_paths()``) from now on."""
    _core.select_path(name)


def show_config(file=None):
    """Print the versions, the CPU and the kernel path fastbp uses."""
    from fastbp import __version__
    lines = [
        f"fastbp {__version__}",
        f"python {sys.version.split()[0]} ({platform.machine()}, {platform.system()})",
        f"numpy {np.__version__}",
        f"kernel path: {kernel_path()} (available: {', '.join(kernel_paths())}; "
        f"FASTBP_CPU={os.environ.get('FASTBP_CPU', '') or 'unset'})",
    ]
    print("\n".join(lines), file=file or sys.stdout)


_core.select_path(_choose_path())
