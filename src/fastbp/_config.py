"""Which build of the compiled kernels runs, and how to see or change it.

At import the best path this CPU supports is chosen; the environment variable
FASTBP_CPU (baseline, avx2 or avx512) caps it, for comparisons and for
machines where a wider path is slower.
"""
import os
import platform
import subprocess
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


# The SIMD instruction sets worth naming, of the dozens of flags a CPU reports
# (x86 names as Linux spells them; asimd and sve are ARM's).
SIMD_SETS = ("sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "fma", "avx2", "avx512f",
             "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
             "avx512_fp16", "neon", "asimd", "sve", "sve2")


def parse_cpuinfo(text):
    """The CPU model and the SIMD sets of ``text`` in /proc/cpuinfo's format.

    Returns
    -------
    model : str or None
        x86's "model name", or ARM's "Model"; None if neither is there.
    sets : list of str
        The entries of SIMD_SETS in x86's "flags" or ARM's "Features", in
        SIMD_SETS's order.
    """
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            # The first processor's entry is enough: they are all alike.
            fields.setdefault(key.strip(), value.strip())
    model = fields.get("model name") or fields.get("Model")
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    if "pni" in flags:
        flags.add("sse3")  # Linux's name for it: "Prescott New Instructions"
    return model, [name for name in SIMD_SETS if name in flags]


def cpu_info():
    """The CPU model and SIMD sets as the operating system reports them.

    From /proc/cpuinfo on Linux and ``sysctl`` on macOS; elsewhere the model
    is ``platform.processor()`` and the sets are unknown (an empty list).
    """
    if os.path.exists("/proc/cpuinfo"):
        try:
            with open("/proc/cpuinfo") as f:
                model, sets = parse_cpuinfo(f.read())
            return model or platform.processor() or None, sets
        except OSError:
            pass
    if sys.platform == "darwin":
        model = _sysctl("machdep.cpu.brand_string")
        flags = f"{_sysctl('machdep.cpu.features')} {_sysctl('machdep.cpu.leaf7_features')}"
        # macOS spells them SSE4.2, AVX2, AVX512F; Apple silicon always has NEON.
        found = set(flags.lower().replace(".", "_").split())
        sets = ["neon"] if platform.machine() == "arm64" else []
        return model or None, sets + [name for name in SIMD_SETS if name in found]
    return platform.processor() or None, []


def _sysctl(name):
    """``sysctl -n name``, or "" where it fails."""
    try:
        done = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True,
                              timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def show_config(file=None):
    """Print the versions, the CPU and the kernel path fastbp uses."""
    from fastbp import __version__
    model, sets = cpu_info()
    lines = [
        f"fastbp {__version__}",
        f"python {sys.version.split()[0]} ({platform.machine()}, {platform.system()})",
        f"numpy {np.__version__}",
        f"CPU: {model or 'unknown'}",
        f"instruction sets: {' '.join(sets) or 'not reported'}",
        f"kernel path: {kernel_path()} (available: {', '.join(kernel_paths())}; "
        f"FASTBP_CPU={os.environ.get('FASTBP_CPU', '') or 'unset'})",
    ]
    print("\n".join(lines), file=file or sys.stdout)


_core.select_path(_choose_path())
