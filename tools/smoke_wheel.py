"""Smoke test of an installed fastbp (a wheel, say): XOR learnt on every kernel
path this CPU runs, predict, show_config, and the main job `python -m fastbp
demo`. Run it from outside the source tree so that the installed package is
the one imported:

    cd /tmp && python /path/to/tools/smoke_wheel.py

Exits non-zero on the first failure. Needs numpy and fastbp only.
"""
import os
import subprocess
import sys

import numpy as np

import fastbp

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y = np.array([0, 1, 1, 0], dtype=float)


def check(ok, what):
    if not ok:
        sys.exit(f"smoke test FAILED: {what}")
    print(f"ok: {what}")


def main():
    package = os.path.dirname(fastbp.__file__)
    print(f"fastbp {fastbp.__version__} from {package}")
    check(os.path.basename(os.path.dirname(package)) == "site-packages",
          "fastbp is imported from site-packages, not a source tree")
    check(all(os.path.exists(os.path.join(package, f)) for f in ("py.typed", "_core.pyi")),
          "py.typed and _core.pyi are installed")

    fastbp.show_config()
    paths = fastbp.kernel_paths()
    check("baseline" in paths and fastbp.kernel_path() == paths[-1],
          f"kernel paths {paths}, the best one in use")

    previous = fastbp.kernel_path()
    try:
        for path in paths:
            fastbp.set_kernel_path(path)
            for dtype in ("float64", "float32"):
                net = fastbp.MLP([2, 4, 1], activation="tanh", output_activation="sigmoid",
                                 dtype=dtype, seed=0)
                history = net.fit(X, Y, epochs=2000, lr=0.5, seed=0)
                out = net.predict(X)
                check(out.shape == (4, 1) and out.dtype == np.dtype(dtype)
                      and history.loss[-1] < 0.01
                      and np.array_equal(out[:, 0] > 0.5, Y > 0.5),
                      f"XOR learnt on {path}, {dtype}: final loss {history.loss[-1]:.2e}, "
                      f"outputs {np.round(out[:, 0].astype(float), 3).tolist()}")
    finally:
        fastbp.set_kernel_path(previous)

    demo = subprocess.run([sys.executable, "-m", "fastbp", "demo"],
                          capture_output=True, text=True, timeout=600)
    print(demo.stdout, end="")
    print(demo.stderr, end="", file=sys.stderr)
    check(demo.returncode == 0 and "Learning XOR" in demo.stdout
          and "fastbp / reference" in demo.stdout, "python -m fastbp demo")
    print("smoke test passed")


if __name__ == "__main__":
    main()
