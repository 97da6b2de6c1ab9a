"""Typed entry points into the C core (csrc/): checks of the C contract,
pointer extraction, and one ``nogil`` call per block of samples.

Policy (defaults, validation, RNG, epochs) lives in ``mlp.py``; arithmetic
lives in ``csrc/``. Every array argument shares one float type: Cython's fused
``floating`` rejects a float32/float64 mix.

This file holds the kernel path, Topology, BLAS thread control, Optimizer,
FitOptions and the block entries (fit, predict, loss_sum, gradient). The
one-sample entries (Stepper) are in _core_one_sample.pxi and the sparse-input
ones (fit_csr, predict_csr, loss_sum_csr) in _core_sparse.pxi, both included
at the end: one extension module, fastbp._core.
"""
import contextlib
import threading

import numpy as np

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm

from fastbp._kernels cimport *

# The codes of the C enums (csrc/fbp_kernels.h), in the order of the names
# in fastbp._vocabulary, which pairs them up.
ACTIVATION_CODES = (FBP_IDENTITY, FBP_SIGMOID, FBP_TANH, FBP_RELU, FBP_LEAKY_RELU,
                    FBP_SOFTMAX, FBP_EXP)
LOSS_CODES = (FBP_SQUARED_ERROR, FBP_BINARY_CROSS_ENTROPY, FBP_CROSS_ENTROPY, FBP_POISSON)
OPTIMIZER_CODES = (FBP_SGD, FBP_ADAM, FBP_RPROP)
PATHS = ("baseline", "avx2", "avx512")
# Batches, and predict and loss calls, of at least this many samples run as
# BLAS matrix products (csrc/fbp_matrix_loop.template.h).
ROWS_MIN = FBP_ROWS_MIN

# The build of the kernels in use: chosen once at import (fastbp._config
# picks it for this CPU), changed only by select_path.
cdef const fbp_kernels *_kernels = fbp_path(FBP_PATH_BASELINE)
# Whether fits may take the special paths (set_special_paths).
cdef bint _special_paths = True


def supported_paths():
    """Names of the kernel builds this binary holds and this CPU runs, best last."""
    return [PATHS[p] for p in range(FBP_N_PATHS) if fbp_path(p) != NULL]


def select_path(str name):
    """Use the kernel build ``name`` (one of ``supported_paths()``)."""
    global _kernels
    if name not in PATHS or fbp_path(PATHS.index(name)) == NULL:
        raise ValueError(
            f"kernel path {name!r} is not available here; "
            f"supported: {supported_paths()}")
    _kernels = fbp_path(PATHS.index(name))


def current_path():
    """Name of the kernel build in use."""
    return _kernels.name.decode()


def set_matrix_path(bint enabled):
    """Let batches of at least ``ROWS_MIN`` samples (and predict and loss
    calls on as many) run as BLAS matrix products (the default), or run
    every sample through the per-sample loop; the two agree to rounding.
    For tests and benchmarks: call it while no other call of the core runs.
    """
    if enabled:
        fbp_set_gemm(<fbp_sgemm_fn>sgemm, <fbp_dgemm_fn>dgemm)
    else:
        fbp_set_gemm(NULL, NULL)


def matrix_path_enabled():
    """Whether many samples at once run as BLAS matrix products."""
    return bool(fbp_have_gemm())


set_matrix_path(True)


def set_special_paths(bint enabled):
    """Let fits take the special paths where they apply (the default): the
    tiny-network loop, and plain SGD's update fused into the backward pass
    (per sample) or into the backward products (matrix loop). Disabled,
    every update goes through the gradient buffer and the optimizer step,
    which agrees with them to rounding. For tests: a ``FitOptions`` keeps
    the setting it was made under.
    """
    global _special_paths
    _special_paths = enabled


def special_paths_enabled():
    """Whether fits may take the special paths."""
    return _special_paths


# What fbp_net_init finds wrong with a network, by its status.
_NET_ERRORS = {
    FBP_NET_BAD_SIZES: "a network needs at least one layer, and every layer a unit",
    FBP_NET_BAD_CODES: "unknown activation or loss code",
    FBP_NET_BAD_LAYOUT: "parameters must be laid out layer after layer from 0, each "
                        "layer's biases right after its weights (fastbp._layout)",
}


cdef class Topology:
    """A network's shape as the C core sees it: sizes, offsets into the flat
    parameter buffer, activation and loss codes, and what the core derives
    from them once (fbp_net_init).

    Parameters
    ----------
    sizes : intp array, shape (n_layers + 1,)
    w_offsets, b_offsets : intp arrays, shape (n_layers,); b_offsets < 0
        means no biases.
    activations : int32 array, shape (n_layers,)
    loss : int

    Attributes
    ----------
    n_params : int, length of the flat parameter buffer
    workspace_size : int, elements of workspace every call needs
    chunk_rows : int, most rows the matrix path takes at once

    Raises
    ------
    ValueError
        If the arrays do not match in length, or the layout is not the one
        fastbp._layout makes.
    """
    cdef fbp_net net
    cdef readonly object sizes, w_offsets, b_offsets, activations
    cdef object unit_offsets

    def __cinit__(self, sizes, w_offsets, b_offsets, activations, int loss):
        cdef const Py_ssize_t[::1] s = sizes
        cdef const Py_ssize_t[::1] w = w_offsets
        cdef const Py_ssize_t[::1] b = b_offsets
        cdef const int[::1] a = activations
        if not (s.shape[0] == w.shape[0] + 1 == b.shape[0] + 1 == a.shape[0] + 1):
            raise ValueError("Topology arrays do not match in length")
        # Keep the arrays alive: the struct points into them.
        self.sizes, self.w_offsets, self.b_offsets = sizes, w_offsets, b_offsets
        self.activations = activations
        self.unit_offsets = np.empty(s.shape[0], np.intp)
        cdef Py_ssize_t[::1] units = self.unit_offsets
        self.net.n_layers = w.shape[0]
        self.net.sizes = &s[0]
        self.net.w_offsets = &w[0]
        self.net.b_offsets = &b[0]
        self.net.activations = &a[0]
        self.net.loss = loss
        cdef int status = fbp_net_init(&self.net, &units[0])
        if status != FBP_NET_OK:
            raise ValueError(f"Topology: {_NET_ERRORS[status]}")

    @property
    def n_params(self):
        return self.net.n_params

    @property
    def workspace_size(self):
        return self.net.workspace_size

    @property
    def chunk_rows(self):
        return self.net.matrix_ws.rows

    def takes_matrix_path(self, Py_ssize_t rows):
        """Whether ``rows`` samples at once (a batch of ``fit``, or the
        samples of ``predict`` or ``loss_sum``) run as BLAS matrix products,
        ``chunk_rows`` rows at a time, rather than through the per-sample
        loop."""
        return bool(fbp_rows_pay(&self.net, rows))


# threadpoolctl's controllers of the loaded BLAS libraries, found once:
# finding them walks every loaded library, which takes milliseconds.
_blas_libraries = None


class _BlasThreads:
    """Every BLAS library at n threads inside a with block, and back after.

    The thread count is one setting per library for the whole process, so
    the with blocks of all threads share it: the first to enter saves it,
    the last to leave restores it, and while several overlap it is the
    smallest n any of them asked for (they already run in parallel; more
    threads each would oversubscribe the cores). threadpoolctl's own
    limit() saves and restores per call, which overlapping calls undo.
    """
    _lock = threading.Lock()
    _active = []            # the n of every with block inside, in any thread
    _saved = None           # [(library, threads before the first entered)]

    def __init__(self, libraries, n):
        self.libraries = libraries
        self.n = n

    def __enter__(self):
        cls = _BlasThreads
        with cls._lock:
            if not cls._active:
                cls._saved = [(lib, lib.get_num_threads()) for lib in self.libraries]
            cls._active.append(self.n)
            _set_threads(self.libraries, min(cls._active))
        return self

    def __exit__(self, *exc):
        cls = _BlasThreads
        with cls._lock:
            cls._active.remove(self.n)
            if cls._active:
                _set_threads(self.libraries, min(cls._active))
            else:
                for library, before in cls._saved:
                    if library.get_num_threads() != before:
                        library.set_num_threads(before)
                cls._saved = None


def _set_threads(libraries, n):
    for library in libraries:
        if library.get_num_threads() != n:
            library.set_num_threads(n)


def limit_blas(Py_ssize_t n):
    """A context manager: every loaded BLAS library (the thread count of
    OpenBLAS is one setting per library, for the whole process) runs on
    ``n`` threads until the block ends; overlapping blocks, in any thread,
    share the smallest n and restore the setting they found
    (``_BlasThreads``)."""
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController
        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _BlasThreads(_blas_libraries, n)


def blas_threads(Topology top, Py_ssize_t rows, Py_ssize_t n_jobs):
    """A context manager for a compiled call on ``rows`` samples at once
    (a batch of ``fit``, or the samples of ``predict`` or ``loss_sum``).

    If they take the matrix path, the BLAS it calls runs on ``n_jobs``
    threads until the block ends (``limit_blas``). Otherwise it does
    nothing: the per-sample loop always runs on the calling thread alone.
    """
    if not top.takes_matrix_path(rows):
        return contextlib.nullcontext()
    return limit_blas(n_jobs)


cdef class Optimizer:
    """How fit turns a batch's gradient into an update (the C struct
    fbp_optimizer_options; its header comment gives the update rules).
    Built from a checked ``fastbp.optim`` object by
    ``fastbp._optimizer_state.compiled``; a field
    the rule does not read stays 0.

    Parameters
    ----------
    kind : int, one of OPTIMIZER_CODES
    lr : float, step size of sgd and adam (set again each epoch by a schedule)
    weight_decay : float; weights_only_decay : bool, leave the biases undecayed
    momentum : float; nesterov : bool (sgd)
    beta1, beta2, eps : float (adam)
    eta_minus, eta_plus, step_min, step_max : float (rprop)
    """
    cdef fbp_optimizer_options o

    def __cinit__(self, int kind, double lr, double weight_decay=0.0,
                  double momentum=0.0, bint nesterov=False, double beta1=0.0,
                  double beta2=0.0, double eps=0.0, double eta_minus=0.0,
                  double eta_plus=0.0, double step_min=0.0, double step_max=0.0,
                  bint weights_only_decay=False):
        self.o.kind = kind
        self.o.lr = lr
        self.o.weight_decay = weight_decay
        self.o.weights_only_decay = weights_only_decay
        self.o.momentum = momentum
        self.o.nesterov = nesterov
        self.o.beta1, self.o.beta2, self.o.eps = beta1, beta2, eps
        self.o.eta_minus, self.o.eta_plus = eta_minus, eta_plus
        self.o.step_min, self.o.step_max = step_min, step_max

    @property
    def lr(self):
        return self.o.lr

    @lr.setter
    def lr(self, double value):
        self.o.lr = value

    @property
    def plain_sgd(self):
        """Whether the rule is plain SGD: no state, no gradient buffer."""
        return bool(fbp_plain_sgd(&self.o))

    @property
    def state_blocks(self):
        """Blocks of n_params values of state that fit needs."""
        return fbp_state_blocks(&self.o)


cdef class FitOptions:
    """How fit trains (the C struct fbp_train_options, whose header comment
    says what each field does): made once per fit, with the per-block
    fields set before each call.

    Parameters
    ----------
    optimizer : Optimizer
    batch_size : int, samples per update; 1 is per-sample
    loss_scale : float, each sample's loss is summed times this (1/n gives
        a mean that cannot overflow)
    update_biases : bool

    Attributes
    ----------
    optimizer : Optimizer, settable; read at each call of ``fit``, so a
        schedule may change its ``lr`` between calls
    batch_done : int, samples of the first batch already summed in ``grad``
        by earlier calls (a batch may span calls); 0 at first
    finish : bool, apply a trailing incomplete batch (end of an epoch);
        otherwise it stays summed in ``grad`` for the next call. True at first
    check_params : bool, also stop at an update that leaves a parameter NaN
        or infinite (without it only the loss is checked). False at first
    needs_grad : bool, whether fit needs a gradient buffer (all but plain
        per-sample SGD, whose update is fused into the backward pass, as
        long as the special paths were enabled when the options were made)
    """
    cdef fbp_train_options opt
    cdef Optimizer _optimizer

    def __cinit__(self, Optimizer optimizer, Py_ssize_t batch_size, double loss_scale,
                  bint update_biases):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.optimizer = optimizer
        self.opt.batch_size = batch_size
        self.opt.loss_scale = loss_scale
        self.opt.update_biases = update_biases
        self.opt.batch_done = 0
        self.opt.finish = True
        self.opt.check_params = False
        self.opt.special_paths = _special_paths

    @property
    def optimizer(self):
        return self._optimizer

    @optimizer.setter
    def optimizer(self, Optimizer optimizer not None):
        self._optimizer = optimizer
        self.opt.optim = optimizer.o

    @property
    def batch_done(self):
        return self.opt.batch_done

    @batch_done.setter
    def batch_done(self, Py_ssize_t done):
        if not 0 <= done < self.opt.batch_size:
            raise ValueError(f"batch_done must be in [0, {self.opt.batch_size}), got {done}")
        self.opt.batch_done = done

    @property
    def finish(self):
        return bool(self.opt.finish)

    @finish.setter
    def finish(self, bint finish):
        self.opt.finish = finish

    @property
    def check_params(self):
        return bool(self.opt.check_params)

    @check_params.setter
    def check_params(self, bint check):
        self.opt.check_params = check

    @property
    def needs_grad(self):
        return not fbp_fused_sgd(&self.opt)


cdef inline floating *_ptr_or_null(floating[::1] a) noexcept:
    return &a[0] if a.shape[0] else NULL


cdef inline int _check_workspace(Topology top, floating[::1] workspace) except -1:
    # The one buffer C writes that no other check sizes.
    if workspace.shape[0] < top.net.workspace_size:
        raise ValueError(f"workspace has {workspace.shape[0]} elements; the network needs "
                         f"top.workspace_size = {top.net.workspace_size}")
    return 0


cdef inline int _check_fit_buffers(Topology top, FitOptions options, Py_ssize_t params,
                                   Py_ssize_t grad, Py_ssize_t state) except -1:
    # The buffers C indexes by n_params; X, Y and order are the caller's.
    cdef Py_ssize_t n = top.net.n_params
    cdef Py_ssize_t blocks = fbp_state_blocks(&options.opt.optim)
    if params != n:
        raise ValueError(f"params has {params} elements; the network has {n}")
    if grad != n and (grad != 0 or options.needs_grad):
        raise ValueError(f"grad has {grad} elements; fit needs {n}"
                         + ("" if options.needs_grad else " or none"))
    if state < blocks * n:
        raise ValueError(f"state has {state} elements; the optimizer needs {blocks * n}")
    return 0


def fit(Topology top, FitOptions options, floating[::1] params,
        const floating[:, ::1] X, const floating[:, ::1] Y,
        const floating[::1] sample_weight, const Py_ssize_t[::1] order,
        floating[::1] workspace, floating[::1] grad, floating[::1] state,
        Py_ssize_t n_updates):
    """Train on the samples ``X[order]`` in place.

    Parameters
    ----------
    top : Topology
    options : FitOptions
    params : float32 or float64 array, shape (n_params,), updated in place
    X : array, shape (n_samples, n_inputs), same dtype
    Y : array, shape (n_samples, n_outputs), same dtype
    sample_weight : array, shape (n_samples,), or empty for all ones
    order : intp array, shape (n_order,), row indices into X and Y
    workspace : array, shape (top.workspace_size,)
    grad : array, shape (n_params,) (zeros, or the sums of an unfinished
        batch), or empty unless ``options.needs_grad``
    state : array, shape (optimizer.state_blocks * n_params,), carried
        between calls (zeros at first; rprop's second block starts at its
        initial step size)
    n_updates : int, updates made so far with this state (Adam's t)

    Returns
    -------
    (float, int, int) : the sum over the samples taken in of each one's
        (weighted) loss before its update, times loss_scale; how many
        samples were taken in; and n_updates after the call. Fewer samples
        than ``len(order)`` means a loss or a parameter became NaN or
        infinite; ``params``, ``grad`` and ``state`` may then hold such values.
    """
    cdef const fbp_kernels *k = _kernels
    options.opt.optim = options._optimizer.o    # its lr may have changed since
    cdef const fbp_train_options *opt = &options.opt
    cdef double total
    cdef Py_ssize_t done
    cdef floating *g = _ptr_or_null(grad)
    cdef floating *st = _ptr_or_null(state)
    cdef const floating *sw = &sample_weight[0] if sample_weight.shape[0] else NULL
    cdef floating *p = &params[0]
    cdef floating *ws = &workspace[0]
    cdef const floating *x = &X[0, 0]
    cdef const floating *y = &Y[0, 0]
    cdef Py_ssize_t n = order.shape[0]
    cdef const Py_ssize_t *o = &order[0]
    _check_workspace(top, workspace)
    _check_fit_buffers(top, options, params.shape[0], grad.shape[0], state.shape[0])
    with nogil:
        if floating is float:
            total = k.fit_f32(&top.net, opt, p, x, y, sw, o, n, ws, g, st, &n_updates, &done)
        else:
            total = k.fit_f64(&top.net, opt, p, x, y, sw, o, n, ws, g, st, &n_updates, &done)
    return total, done, n_updates


def predict(Topology top, const floating[::1] params, const floating[:, ::1] X,
            floating[:, ::1] out, floating[::1] workspace):
    """out[s] := network(X[s]).

    Parameters
    ----------
    params : float32 or float64 array, shape (n_params,)
    X : array, shape (n_samples, n_inputs), same dtype
    out : array, shape (n_samples, n_outputs), same dtype, written
    workspace : array, shape (top.workspace_size,)
    """
    cdef const fbp_kernels *k = _kernels
    cdef const floating *p = &params[0]
    cdef const floating *x = &X[0, 0]
    cdef floating *y = &out[0, 0]
    cdef floating *ws = &workspace[0]
    cdef Py_ssize_t n = X.shape[0]
    _check_workspace(top, workspace)
    with nogil:
        if floating is float:
            k.predict_f32(&top.net, p, x, n, y, ws)
        else:
            k.predict_f64(&top.net, p, x, n, y, ws)


def loss_sum(Topology top, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] Y, floating[::1] workspace):
    """Sum over the samples of the per-sample loss (as a float64 scalar).

    Arrays as in ``fit``.
    """
    cdef const fbp_kernels *k = _kernels
    cdef const floating *p = &params[0]
    cdef const floating *x = &X[0, 0]
    cdef const floating *y = &Y[0, 0]
    cdef floating *ws = &workspace[0]
    cdef Py_ssize_t n = X.shape[0]
    cdef double total
    _check_workspace(top, workspace)
    with nogil:
        if floating is float:
            total = k.loss_f32(&top.net, p, x, y, n, ws)
        else:
            total = k.loss_f64(&top.net, p, x, y, n, ws)
    return total


def gradient(Topology top, const floating[::1] params, const floating[::1] x,
             const floating[::1] t, floating[::1] workspace, floating[::1] grad):
    """grad += dE/dparams for one sample; returns the sample's loss E.

    Parameters
    ----------
    x : array, shape (n_inputs,); t : array, shape (n_outputs,)
    grad : array, shape (n_params,), accumulated into
    Other arrays as in ``fit``.
    """
    cdef const fbp_kernels *k = _kernels
    cdef const floating *p = &params[0]
    cdef floating *ws = &workspace[0]
    cdef floating *g = &grad[0]
    cdef double E
    _check_workspace(top, workspace)
    with nogil:
        if floating is float:
            E = k.gradient_f32(&top.net, p, &x[0], &t[0], ws, g)
        else:
            E = k.gradient_f64(&top.net, p, &x[0], &t[0], ws, g)
    return E


# The entries on one sample and on sparse input: Cython compiles them into
# this module, in place of these lines; they use what is defined above.
include "_core_one_sample.pxi"
include "_core_sparse.pxi"
