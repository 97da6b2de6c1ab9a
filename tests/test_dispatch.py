"""Kernel paths: what the CPU supports is chosen at import, FASTBP_CPU caps it,
and every path computes the same numbers."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastbp


def run_with_cpu(value, code):
    env = dict(os.environ, FASTBP_CPU=value)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)


def test_best_supported_path_is_chosen_by_default():
    env = {k: v for k, v in os.environ.items() if k != "FASTBP_CPU"}
    out = subprocess.run([sys.executable, "-c", "import fastbp; print(fastbp.kernel_path())"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == fastbp.kernel_paths()[-1]


@pytest.mark.parametrize("cap", ["baseline", "avx2", "avx512"])
def test_fastbp_cpu_caps_the_path(cap):
    out = run_with_cpu(cap, "import fastbp; print(fastbp.kernel_path())")
    allowed = ("baseline", "avx2", "avx512")[:("baseline", "avx2", "avx512").index(cap) + 1]
    expected = [p for p in fastbp.kernel_paths() if p in allowed][-1]
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_unknown_fastbp_cpu_is_refused_by_name():
    out = run_with_cpu("sse9", "import fastbp")
    assert out.returncode != 0
    assert "FASTBP_CPU='sse9'" in out.stderr


def test_show_config_names_the_path(capsys):
    fastbp.show_config()
    text = capsys.readouterr().out
    assert f"kernel path: {fastbp.kernel_path()}" in text
    assert fastbp.__version__ in text


def test_set_kernel_path_refuses_unsupported_names():
    with pytest.raises(ValueError, match="kernel path 'neon9'"):
        fastbp.set_kernel_path("neon9")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_kernels_leave_the_x87_unit_usable(kernel_path, dtype):
    # MMX registers used without EMMS (GCC 12 vectorised fbp_step's max_abs
    # so in the baseline build) leave every later long double operation NaN.
    for sizes in ([2, 2, 2], [10, 32, 1]):
        net = fastbp.MLP(sizes, dtype=dtype, seed=0)
        X = np.ones((16, sizes[0]), dtype)
        Y = np.full((16, sizes[-1]), 0.5, dtype)
        net.fit(X, Y, epochs=1)
        net.train_step(X[0], Y[0], 0.1)
        net.learn_one(X[0], Y[0], 0.1)
        net.predict(X[0])
        assert float(np.longdouble(1.5) * np.longdouble(3)) == 4.5
        assert np.asarray(np.full(3, 1.5, np.longdouble), np.float32).tolist() == [1.5] * 3
