"""Peer implementations of fastbp's training step, for speed comparisons.

Every peer trains the same problem, one sample at a time in the order given:
logistic hidden and output units, loss E = 1/2 sum (t - o)^2, plain SGD,
weight matrices of shape (n_out, n_in) (row j holds the weights into unit j)
and biases trained unless ``update_intercepts=False``. The deltas of layer
l-1 use the weights of layer l from *before* its update, as in FANN and fastbp.

Peers: NumPy by hand (``make_numpy``), PyTorch (``make_torch``, optional) and
FANN through the C program ``fann_harness.c`` (``fann_ns_per_sample``, optional:
it needs a C compiler and Debian's libfann-dev). A missing optional peer raises
``PeerUnavailable`` saying what to install. ``fastbp bench`` (``compare.py``)
times them.
"""

import hashlib
import math
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np

# Where libfann-dev puts the header fann_harness.c includes.
FANN_HEADER = Path("/usr/include/fann.h")


class PeerUnavailable(Exception):
    """An optional peer cannot run here; the message says why and what to install."""


def init_params(sizes, dtype=np.float64, random_state=0):
    """Glorot-uniform weights and biases, as scikit-learn draws them for logistic units.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer, input first, e.g. ``(784, 128, 10)``.
    dtype : {np.float32, np.float64}
    random_state : int

    Returns
    -------
    coefs : list of ndarray, shapes (sizes[l + 1], sizes[l])
    intercepts : list of ndarray, shapes (sizes[l + 1],)
    """
    rng = np.random.default_rng(random_state)
    coefs, intercepts = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(2.0 / (n_in + n_out))
        coefs.append(rng.uniform(-bound, bound, (n_out, n_in)).astype(dtype))
        intercepts.append(rng.uniform(-bound, bound, n_out).astype(dtype))
    return coefs, intercepts


def sklearn_draws(seed):
    """An ``init`` for fastbp's estimators that draws what scikit-learn's
    MLP draws for ``random_state=seed`` (its Glorot-uniform weights and
    biases, layer by layer from one RandomState): both start from the same
    parameters, so their fits can be compared iteration by iteration."""
    state = np.random.RandomState(seed)

    def init(rng, n_in, n_out):
        limit = math.sqrt(6 / (n_in + n_out))
        W = state.uniform(-limit, limit, (n_in, n_out))
        return W.T, state.uniform(-limit, limit, n_out)
    return init


def make_data(sizes, n_samples, dtype=np.float64, random_state=0):
    """Inputs and targets uniform in [0, 1).

    Returns
    -------
    X : ndarray of shape (n_samples, sizes[0])
    Y : ndarray of shape (n_samples, sizes[-1])
    """
    rng = np.random.default_rng(random_state)
    X = rng.random((n_samples, sizes[0])).astype(dtype)
    Y = rng.random((n_samples, sizes[-1])).astype(dtype)
    return X, Y


def _set_parameters(trainer, sizes, dtype, learning_rate, coefs, intercepts,
                    update_intercepts, random_state):
    """The settings both hand-written trainers share; parameters are copied
    to ``dtype`` (drawn by ``init_params`` when not given)."""
    if coefs is None:
        coefs, intercepts = init_params(sizes, dtype, random_state)
    trainer.coefs = [np.array(W, dtype=dtype) for W in coefs]
    trainer.intercepts = [np.array(b, dtype=dtype) for b in intercepts]
    trainer.learning_rate = learning_rate
    trainer.update_intercepts = update_intercepts


class NumpySGD:
    """Per-sample SGD written with NumPy, in place.

    Every buffer is allocated here, so a sample costs only ufunc and BLAS
    calls writing into ``out=``; this is as fast as NumPy goes per sample.

    Parameters
    ----------
    sizes : sequence of int
    dtype : {np.float32, np.float64}
    learning_rate : float
    coefs, intercepts : lists of ndarray, optional
        Initial parameters (copied to ``dtype``); drawn by ``init_params`` if omitted.
    update_intercepts : bool
        False keeps the biases fixed (the textbook worked example does).
    random_state : int

    Attributes
    ----------
    coefs, intercepts : lists of ndarray
        The parameters, updated in place by each call.
    """

    def __init__(self, sizes, dtype=np.float64, learning_rate=0.1, coefs=None,
                 intercepts=None, update_intercepts=True, random_state=0):
        _set_parameters(self, sizes, dtype, learning_rate, coefs, intercepts,
                        update_intercepts, random_state)
        # Activations of layers 1.., deltas, delta * learning_rate, sigma' and one
        # weight-shaped scratch per layer: the outer product has to land somewhere.
        self._act = [np.empty(n, dtype) for n in sizes[1:]]
        self._delta = [np.empty(n, dtype) for n in sizes[1:]]
        self._step = [np.empty(n, dtype) for n in sizes[1:]]
        self._deriv = [np.empty(n, dtype) for n in sizes[1:]]
        self._grad = [np.empty_like(W) for W in self.coefs]

    def __call__(self, X, Y):
        """One epoch over the rows of X (n_samples, sizes[0]) and Y (n_samples, sizes[-1])."""
        W, b, act, delta = self.coefs, self.intercepts, self._act, self._delta
        step, deriv, grad = self._step, self._deriv, self._grad
        lr, n_layers = self.learning_rate, len(W)
        # np.dot(..., out=) needs every operand in the parameters' dtype.
        X = np.ascontiguousarray(X, W[0].dtype)
        Y = np.ascontiguousarray(Y, W[0].dtype)
        for x, t in zip(X, Y):
            # Forward: a_l = 1 / (1 + exp(-(W_l a_{l-1} + b_l))).
            a = x
            for l in range(n_layers):
                z = act[l]
                np.dot(W[l], a, out=z)
                z += b[l]
                np.negative(z, out=z)
                np.exp(z, out=z)
                z += 1.0
                np.reciprocal(z, out=z)
                a = z
            # Output delta: (o - t) * o * (1 - o).
            np.subtract(a, t, out=delta[-1])
            for l in range(n_layers - 1, -1, -1):
                a = act[l]
                np.subtract(1.0, a, out=deriv[l])
                deriv[l] *= a
                delta[l] *= deriv[l]
                # Back-propagate through W_l before W_l is updated.
                if l > 0:
                    np.dot(W[l].T, delta[l], out=delta[l - 1])
                a_prev = act[l - 1] if l > 0 else x
                np.multiply(delta[l], lr, out=step[l])
                # NumPy has no in-place rank-1 update (BLAS ger). multiply.outer into a
                # scratch is steady; np.dot of (n, 1) by (1, m) was 1.2x faster at
                # 128x784 but 1.8x slower at 512x512 float64 on this machine.
                np.multiply.outer(step[l], a_prev, out=grad[l])
                W[l] -= grad[l]
                if self.update_intercepts:
                    b[l] -= step[l]


def make_numpy(sizes, dtype=np.float64, **kwargs):
    """A ``train(X, Y)`` callable doing one epoch with NumPy; see ``NumpySGD``."""
    return NumpySGD(sizes, dtype, **kwargs)


class TorchSGD:
    """Per-sample SGD with PyTorch tensors, updated by hand without autograd.

    One thread, because fastbp and FANN use one and the small per-sample
    kernels gain nothing from more. The parameters are tensors sharing memory
    with the NumPy arrays ``coefs`` and ``intercepts``.

    Parameters and attributes are those of ``NumpySGD``.
    """

    def __init__(self, sizes, dtype=np.float64, learning_rate=0.1, coefs=None,
                 intercepts=None, update_intercepts=True, random_state=0):
        torch = import_torch()
        torch.set_num_threads(1)
        self._torch = torch
        _set_parameters(self, sizes, dtype, learning_rate, coefs, intercepts,
                        update_intercepts, random_state)
        self._W = [torch.from_numpy(W) for W in self.coefs]
        self._b = [torch.from_numpy(b) for b in self.intercepts]
        tdtype = self._W[0].dtype
        self._act = [torch.empty(n, dtype=tdtype) for n in sizes[1:]]
        self._delta = [torch.empty(n, dtype=tdtype) for n in sizes[1:]]
        self._error = [torch.empty(n, dtype=tdtype) for n in sizes[1:]]

    def __call__(self, X, Y):
        """One epoch over the rows of X (n_samples, sizes[0]) and Y (n_samples, sizes[-1])."""
        torch = self._torch
        # sigmoid_backward(g, o) = g * o * (1 - o) in one kernel, with out=; it is
        # what autograd itself calls, so torch is not charged three ops for sigma'.
        sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input
        W, b, act, delta, error = self._W, self._b, self._act, self._delta, self._error
        lr, n_layers = self.learning_rate, len(W)
        X = torch.from_numpy(np.ascontiguousarray(X, self.coefs[0].dtype))
        Y = torch.from_numpy(np.ascontiguousarray(Y, self.coefs[0].dtype))
        with torch.no_grad():
            for x, t in zip(X, Y):
                a = x
                for l in range(n_layers):
                    torch.addmv(b[l], W[l], a, out=act[l])
                    act[l].sigmoid_()
                    a = act[l]
                torch.sub(a, t, out=error[-1])
                for l in range(n_layers - 1, -1, -1):
                    sigmoid_backward(error[l], act[l], grad_input=delta[l])
                    # Back-propagate through W_l before W_l is updated.
                    if l > 0:
                        torch.mv(W[l].t(), delta[l], out=error[l - 1])
                    W[l].addr_(delta[l], act[l - 1] if l > 0 else x, alpha=-lr)
                    if self.update_intercepts:
                        b[l].add_(delta[l], alpha=-lr)


def make_torch(sizes, dtype=np.float64, **kwargs):
    """A ``train(X, Y)`` callable doing one epoch with PyTorch; see ``TorchSGD``.

    Raises PeerUnavailable when torch is not installed.
    """
    return TorchSGD(sizes, dtype, **kwargs)


def import_torch():
    """The torch module; PeerUnavailable when it is not installed."""
    try:
        import torch
    except ImportError:
        raise PeerUnavailable("PyTorch is not installed (pip install torch)") from None
    return torch


def build_dir():
    """Where compiled harnesses are kept: ``$XDG_CACHE_HOME/fastbp`` (default
    ``~/.cache/fastbp``), outside the package, which may be read-only."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "fastbp"


def build_fann_harness(dtype=np.float32):
    """Compile ``fann_harness.c`` for float or double FANN, once; return its path.

    The executable's name holds a hash of the source, so an edited or
    upgraded harness is compiled again.

    Raises
    ------
    PeerUnavailable
        Without a C compiler (``$CC``, else ``cc``) or libfann-dev, or if
        the compilation fails.
    """
    compiler = shutil.which(os.environ.get("CC") or "cc")
    if compiler is None:
        raise PeerUnavailable("no C compiler found (set CC, or install gcc)")
    if not FANN_HEADER.exists():
        raise PeerUnavailable(f"FANN is not installed (no {FANN_HEADER}; "
                              "apt-get install libfann-dev)")
    double = np.dtype(dtype) == np.float64
    source = resources.files(__package__).joinpath("fann_harness.c").read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    exe = build_dir() / f"fann_harness_{'double' if double else 'float'}_{digest}"
    if exe.exists():
        return exe
    flags = ["-DFANN_DOUBLE", "-ldoublefann"] if double else ["-lfloatfann"]
    try:
        exe.parent.mkdir(parents=True, exist_ok=True)
        # Built under a temporary name and renamed: a concurrent run never
        # finds a half-written executable.
        tmp = exe.with_name(f"{exe.name}.{os.getpid()}.tmp")
        with resources.as_file(resources.files(__package__).joinpath("fann_harness.c")) as src:
            subprocess.run([compiler, "-O2", "-std=c99", str(src), "-o", str(tmp), *flags,
                            "-lm"], check=True, capture_output=True, text=True)
        os.replace(tmp, exe)
    except subprocess.CalledProcessError as e:
        last = (e.stderr.strip().splitlines() or ["no message"])[-1]
        raise PeerUnavailable(f"fann_harness.c did not compile ({last})") from None
    except OSError as e:
        raise PeerUnavailable(f"cannot build the FANN harness in {exe.parent} ({e})") from None
    return exe


def fann_ns_per_sample(sizes, dtype=np.float32, n_samples=2000, epochs=5):
    """FANN's median ns per sample over ``epochs`` epochs.

    FANN draws its own data in the harness (uniform [0, 1), like ``make_data``);
    its weights start in [-0.1, 0.1]. Raises PeerUnavailable as
    ``build_fann_harness`` does.
    """
    exe = build_fann_harness(dtype)
    layers = ",".join(str(n) for n in sizes)
    out = subprocess.run([str(exe), layers, str(n_samples), str(epochs)],
                         check=True, capture_output=True, text=True).stdout
    return float(out.split()[0])
