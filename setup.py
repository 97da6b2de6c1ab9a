"""Build of the compiled core, fastbp._core; metadata lives in pyproject.toml."""
import glob
import os
import platform
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# FASTBP_SANITIZE=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer
# (GCC or clang), for tools/sanitize.sh: the C core takes raw pointers from
# Python, so an out-of-bounds index would silently corrupt memory otherwise.
SANITIZE = os.environ.get("FASTBP_SANITIZE") == "1"
# FASTBP_CYTHON_DEBUG=1 turns Cython's bounds and None checks on; the
# sanitizer build has them too, so a bad index is caught on either side.
DEBUG = os.environ.get("FASTBP_CYTHON_DEBUG") == "1" or SANITIZE
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "nonecheck": DEBUG,
    "cdivision": True,
}

C_SOURCES = ["fbp_net.c", "fbp_blas.c", "fbp_dispatch.c", "fbp_baseline.c", "fbp_avx2.c",
             "fbp_avx512.c"]
# No -march=native and no -ffast-math: instruction sets are chosen per file and
# at run time (csrc/fbp_dispatch.c), and results must match the reference.
# None of these flags changes a result beyond rounding: -fno-trapping-math
# (FP traps are off anyway) lets GCC turn the branches of sigmoid and tanh
# into selects, -fno-math-errno lets it vectorise sqrt (Adam's, whose
# argument is never negative, so errno would never be set), -fopenmp-simd
# honours `omp simd` reductions (no OpenMP runtime), -ffp-contract=fast allows
# FMA where the target has it.
COMPILE_ARGS = (["/O2"] if sys.platform == "win32" else
                ["-O3", "-std=c99", "-fno-trapping-math", "-fno-math-errno",
                 "-fopenmp-simd", "-ffp-contract=fast"])
# GCC 12 vectorised a pair of int32 in fbp_step's max_abs (baseline build)
# with MMX registers and no EMMS, which left the x87 unit unusable: NumPy's
# long double casts then gave NaN. No MMX anywhere (x86 only).
if sys.platform != "win32" and platform.machine().lower() in ("x86_64", "amd64", "i686"):
    COMPILE_ARGS.append("-mno-mmx")
# Appended, so -O1 overrides -O3: fast enough, and reports point at real lines.
# -fno-wrapv undoes Python's -fwrapv, under which GCC skips the signed
# overflow check. Linked too, so the module needs the sanitizer runtimes.
SANITIZE_ARGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                 "-fno-omit-frame-pointer", "-fno-wrapv", "-g", "-O1"]
if SANITIZE and sys.platform == "win32":
    sys.exit("FASTBP_SANITIZE=1 needs GCC or clang")

PYX = "src/fastbp/_core.pyx"
GENERATED = "src/fastbp/_core.c"
# fastbp's own Cython files: what _core.c is generated from. Cython's own
# check would also compare it with NumPy's and SciPy's .pxd files, which
# pip's isolated build environment installs afresh (new times) on every
# `pip install`, so the second install of a clone would regenerate _core.c
# and recompile everything the first one built.
OWN_CYTHON = [PYX] + glob.glob("src/fastbp/*.pxd") + glob.glob("src/fastbp/*.pxi")


def _generated_is_current():
    """Whether _core.c is newer than fastbp's Cython files (and not a debug build,
    whose directives differ)."""
    if DEBUG or not os.path.exists(GENERATED):
        return False
    built = os.path.getmtime(GENERATED)
    return all(os.path.getmtime(path) <= built for path in OWN_CYTHON)


core = Extension(
    "fastbp._core",
    [GENERATED if _generated_is_current() else PYX]
    + [os.path.join("csrc", f) for f in C_SOURCES],
    include_dirs=["csrc", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    # Every header and Cython include, so that changing one rebuilds the module.
    depends=sorted(glob.glob("csrc/*.h") + glob.glob("src/fastbp/*.pxi")),
    extra_compile_args=COMPILE_ARGS + (SANITIZE_ARGS if SANITIZE else []),
    extra_link_args=SANITIZE_ARGS if SANITIZE else [],
)

# With _core.c current, setuptools' own check (the built module newer than
# every source and header) then skips the compilation too.
setup(ext_modules=[core] if core.sources[0] == GENERATED
      else cythonize([core], compiler_directives=DIRECTIVES))
