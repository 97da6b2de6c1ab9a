# One sample at a time: Stepper and its NumPy C-API helpers. Included at the
# end of _core.pyx (so fastbp._core stays one extension module), whose
# Topology, Optimizer and kernel path (_kernels, _special_paths) it uses.
#
# MLP.predict, train_step and learn_one on one sample cost a C call: the
# common case (arrays of the model's dtype and length, 1-D, C-contiguous,
# aligned, native byte order) is recognised here by the NumPy C API in a few
# nanoseconds, where converting to typed memoryviews would cost several
# hundred. Anything else comes back to MLP as STEP_NOT_FAST, to be checked
# and converted as before.
cimport numpy as cnp
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check
from libc.float cimport FLT_MAX
from libc.math cimport fabs
from libc.string cimport memset

cnp.import_array()

STEP_OK = FBP_STEP_OK
STEP_DIVERGED = FBP_STEP_DIVERGED
STEP_BAD_INPUT = FBP_STEP_BAD_INPUT
STEP_NOT_FAST = -1


cdef inline void *_sample_data(object a, int type_num, Py_ssize_t n) noexcept:
    """a's data if a is one sample the C core can read in place, else NULL."""
    if not cnp.PyArray_Check(a):
        return NULL
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) != type_num or cnp.PyArray_NDIM(arr) != 1
            or cnp.PyArray_DIM(arr, 0) != n or not cnp.PyArray_ISCARRAY_RO(arr)
            or not cnp.PyArray_ISNOTSWAPPED(arr)):
        return NULL
    return cnp.PyArray_DATA(arr)


# Steps and predictions of fewer parameters than this keep the GIL: they
# take well under a few microseconds, less than letting other threads run
# costs (releasing and retaking the GIL: ~0.1 us, a third of a small step).
cdef Py_ssize_t GIL_FREE_PARAMS = 4096


cdef inline bint _all_finite(const floating *p, Py_ssize_t n) noexcept nogil:
    cdef floating z = 0
    cdef Py_ssize_t i
    for i in range(n):
        z += p[i] * 0      # 0 exactly when p[i] is finite
    return z == 0


cdef void *_buffer(object a, int type_num, Py_ssize_t n, str name) except? NULL:
    """The data of one of MLP's own buffers (None: NULL), checked for the C
    contract: a C-contiguous array of type_num with at least n elements."""
    if a is None:
        if n:
            raise ValueError(f"{name} is needed: the optimizer uses {n} elements")
        return NULL
    cdef cnp.ndarray arr = a
    if (cnp.PyArray_TYPE(arr) != type_num or not cnp.PyArray_ISCARRAY(arr)
            or cnp.PyArray_SIZE(arr) < n):
        raise ValueError(f"{name} must be a writable C-contiguous array of the model's "
                         f"dtype with at least {n} elements")
    return cnp.PyArray_DATA(arr)


cdef class Stepper:
    """One model's calls on one sample: ``predict``, ``step`` (fbp_step)
    and ``sgd``, the common step of a stream.

    Parameters
    ----------
    top : Topology
    params : float32 or float64 array, shape (n_params,), the model's own
    workspace : array, shape (top.workspace_size,), same dtype
    undo : array, shape (n_params,), same dtype: sgd's scratch
    lock : the model's lock (acquire and release), which predict and sgd take
    lr_low, lr_high : float, the learning rates sgd takes without a check

    Attributes
    ----------
    loss : float, the loss of the last successful step, before its update
    n_updates : int, the optimizer's update count after it
    output : array or None, the network's outputs for its sample before
        its update, when asked for
    """
    cdef Topology top
    cdef object params, workspace, target
    cdef int type_num
    cdef Py_ssize_t n_params
    cdef void *p
    cdef void *ws
    cdef void *t_one
    cdef readonly double loss
    cdef readonly Py_ssize_t n_updates
    cdef readonly object output
    # For predict and sgd: the model's lock (its bound methods, looked up
    # once); for sgd, the scratch of a checked step and the learning rates it
    # takes without a check.
    cdef object acquire, release, undo
    cdef void *u
    cdef double lr_low, lr_high

    def __cinit__(self, Topology top, cnp.ndarray params, cnp.ndarray workspace,
                  cnp.ndarray undo, lock, double lr_low, double lr_high):
        self.type_num = cnp.PyArray_TYPE(params)
        if self.type_num not in (cnp.NPY_FLOAT, cnp.NPY_DOUBLE):
            raise ValueError("params must be float32 or float64")
        self.top, self.params, self.workspace = top, params, workspace
        self.n_params = cnp.PyArray_SIZE(params)
        self.p = _buffer(params, self.type_num, self.n_params, "params")
        self.ws = _buffer(workspace, self.type_num, top.workspace_size, "workspace")
        self.undo, self.acquire, self.release = undo, lock.acquire, lock.release
        self.u = _buffer(undo, self.type_num, self.n_params, "undo")
        self.lr_low, self.lr_high = lr_low, lr_high
        # Where a float target of a one-output network is stored.
        self.target = cnp.PyArray_ZEROS(1, [1], self.type_num, 0)
        self.t_one = cnp.PyArray_DATA(self.target)

    cdef void *_target(self, object t) noexcept:
        """t's data as _sample_data finds it, or a float t of a one-output
        network in the model's dtype (NULL where float32 cannot hold it)."""
        cdef double v
        if self.top.net.sizes[self.top.net.n_layers] == 1 and PyFloat_Check(t):
            v = PyFloat_AS_DOUBLE(t)
            if self.type_num == cnp.NPY_DOUBLE:
                (<double *>self.t_one)[0] = v
            elif fabs(v) <= FLT_MAX:
                (<float *>self.t_one)[0] = <float>v
            else:
                return NULL
            return self.t_one
        return _sample_data(t, self.type_num, self.top.net.sizes[self.top.net.n_layers])

    cdef object predict(self, x):
        """network(x) as a new (n_outputs,) array, under the model's lock,
        for a finite x of the fast path's kind; None for any other x."""
        cdef fbp_net *net = &self.top.net
        cdef cnp.npy_intp K = net.sizes[net.n_layers]
        cdef void *xd = _sample_data(x, self.type_num, net.sizes[0])
        if xd == NULL:
            return None
        if self.type_num == cnp.NPY_DOUBLE:
            if not _all_finite(<double *>xd, net.sizes[0]):
                return None
        elif not _all_finite(<float *>xd, net.sizes[0]):
            return None
        out = cnp.PyArray_EMPTY(1, &K, self.type_num, 0)
        cdef void *o = cnp.PyArray_DATA(<cnp.ndarray>out)
        self.acquire()
        try:
            if self.n_params < GIL_FREE_PARAMS:
                self._forward(xd, o)
            else:
                with nogil:
                    self._forward(xd, o)
        finally:
            self.release()
        return out

    cdef object sgd(self, x, t, lr, bint want_output):
        """A plain SGD step (biases included) at rate lr, under the model's
        lock, for the common call of a stream: x and t of the fast path's
        kind, lr a float in the range that needs no check.

        Returns
        -------
        The outputs for x before the update (a new (n_outputs,) array) if
        want_output, else the loss before it; None where the call is not
        the common one, or the step was refused or diverged (nothing
        changed): the caller then takes the full path, which says why.
        """
        cdef fbp_train_options opt
        cdef void *xd
        cdef void *td
        cdef void *o = NULL
        cdef cnp.npy_intp K = self.top.net.sizes[self.top.net.n_layers]
        cdef Py_ssize_t n_updates = 0
        cdef double E, rate
        cdef int status
        if not PyFloat_Check(lr):
            return None
        rate = PyFloat_AS_DOUBLE(lr)
        xd = _sample_data(x, self.type_num, self.top.net.sizes[0])
        td = self._target(t)
        if not (self.lr_low <= rate <= self.lr_high) or xd == NULL or td == NULL:
            return None
        memset(&opt, 0, sizeof(opt))
        opt.optim.kind = FBP_SGD
        opt.optim.lr = rate
        opt.loss_scale = 1
        opt.batch_size = 1
        opt.finish = 1
        opt.update_biases = 1
        opt.special_paths = _special_paths
        out = None
        if want_output:
            out = cnp.PyArray_EMPTY(1, &K, self.type_num, 0)
            o = cnp.PyArray_DATA(<cnp.ndarray>out)
        self.acquire()
        try:
            status = self._step(&opt, xd, td, NULL, NULL, &n_updates, self.u, o, &E)
        finally:
            self.release()
        if status != FBP_STEP_OK:
            return None
        self.loss, self.output = E, out
        return out if want_output else E

    def step(self, x, t, Optimizer optimizer, double lr, bint update_biases, grad,
             state, undo, Py_ssize_t n_updates, bint want_output):
        """One step on the sample (x, t) (fbp_step), at rate lr.

        Parameters
        ----------
        x : (n_inputs,) array; t : (n_outputs,) array, or a float for one output
        optimizer : Optimizer (its lr aside)
        grad : array, shape (n_params,), zeros; None for plain SGD
            (``optimizer.plain_sgd``)
        state : array, shape (optimizer.state_blocks * n_params,), or None
            without state
        undo : array, shape ((1 + optimizer.state_blocks) * n_params,), scratch
        n_updates : int, updates made so far with this state (Adam's t)
        want_output : bool, keep the outputs before the update in ``output``

        Returns
        -------
        int : STEP_OK, STEP_DIVERGED (nothing changed), STEP_BAD_INPUT (x or
            t not finite, or t outside the loss's domain; nothing changed),
            or STEP_NOT_FAST (x or t not of the fast path's kind)
        """
        cdef fbp_train_options opt
        cdef void *xd = _sample_data(x, self.type_num, self.top.net.sizes[0])
        cdef void *td = self._target(t)
        if xd == NULL or td == NULL:
            return STEP_NOT_FAST
        cdef Py_ssize_t n_state = fbp_state_blocks(&optimizer.o) * self.n_params
        cdef void *g = _buffer(grad, self.type_num,
                               0 if fbp_plain_sgd(&optimizer.o) else self.n_params, "grad")
        cdef void *st = _buffer(state, self.type_num, n_state, "state")
        cdef void *u = _buffer(undo, self.type_num, self.n_params + n_state, "undo")
        cdef void *o = NULL
        cdef cnp.npy_intp K = self.top.net.sizes[self.top.net.n_layers]
        cdef double E
        cdef int status
        opt.optim = optimizer.o
        opt.optim.lr = lr
        opt.loss_scale = 1
        opt.batch_size = 1
        opt.batch_done = 0
        opt.finish = 1
        opt.update_biases = update_biases
        opt.check_params = 0
        opt.special_paths = _special_paths
        out = None
        if want_output:
            out = cnp.PyArray_EMPTY(1, &K, self.type_num, 0)
            o = cnp.PyArray_DATA(<cnp.ndarray>out)
        status = self._step(&opt, xd, td, g, st, &n_updates, u, o, &E)
        self.loss, self.n_updates, self.output = E, n_updates, out
        return status

    cdef void _forward(self, void *x, void *out) noexcept nogil:
        """out := network(x), for one sample (fbp_predict)."""
        cdef const fbp_kernels *k = _kernels
        if self.type_num == cnp.NPY_DOUBLE:
            k.predict_f64(&self.top.net, <double *>self.p, <double *>x, 1, <double *>out,
                          <double *>self.ws)
        else:
            k.predict_f32(&self.top.net, <float *>self.p, <float *>x, 1, <float *>out,
                          <float *>self.ws)

    cdef int _step(self, const fbp_train_options *opt, void *x, void *t, void *grad,
                   void *state, Py_ssize_t *n_updates, void *undo, void *out,
                   double *E) noexcept:
        """fbp_step on one sample, with the GIL released only for a
        model large enough to be worth it (GIL_FREE_PARAMS)."""
        if self.n_params < GIL_FREE_PARAMS:
            return self._step_nogil(opt, x, t, grad, state, n_updates, undo, out, E)
        with nogil:
            return self._step_nogil(opt, x, t, grad, state, n_updates, undo, out, E)

    cdef int _step_nogil(self, const fbp_train_options *opt, void *x, void *t, void *grad,
                         void *state, Py_ssize_t *n_updates, void *undo, void *out,
                         double *E) noexcept nogil:
        cdef const fbp_kernels *k = _kernels
        if self.type_num == cnp.NPY_DOUBLE:
            return k.step_f64(&self.top.net, opt, <double *>self.p, <double *>x, <double *>t,
                              <double *>self.ws, <double *>grad, <double *>state, n_updates,
                              <double *>undo, <double *>out, E)
        return k.step_f32(&self.top.net, opt, <float *>self.p, <float *>x, <float *>t,
                          <float *>self.ws, <float *>grad, <float *>state, n_updates,
                          <float *>undo, <float *>out, E)


cdef inline bint _plain_sgd(object optimizer):
    """optimizer names plain SGD (train_step's and learn_one's default)."""
    return optimizer is _SGD_NAME or (type(optimizer) is str and optimizer == _SGD_NAME)

cdef object _SGD_NAME = "sgd"


cdef class OneSampleCalls:
    """fastbp.MLP's base: its calls on one sample, ``predict``,
    ``train_step`` and ``learn_one``, here so that their common call (one
    sample of the fast path's kind, plain SGD at a float lr) costs one C
    call and no Python frame. Every other call goes on to the model's own
    methods, ``_predict_checked`` and ``_step`` (fastbp.mlp,
    fastbp._stepping), which check and convert. ``_stepper`` is set by
    ``MLP._build``.
    """
    cdef public Stepper _stepper

    def predict(self, X, n_jobs=1):
        """Outputs of the network.

        Parameters
        ----------
        X : array-like or SciPy sparse matrix, shape (n_samples, n_inputs),
            or (n_inputs,) for one sample
        n_jobs : int, default 1
            Threads of the BLAS matrix products that compute 8 or more
            samples at once (``_core.blas_threads``).

        Returns
        -------
        ndarray, shape (n_samples, n_outputs) or (n_outputs,), in the model's dtype
        """
        if type(n_jobs) is int and n_jobs > 0 and self._stepper is not None:
            out = self._stepper.predict(X)
            if out is not None:
                return out
        return self._predict_checked(X, n_jobs)

    def train_step(self, x, t, lr=None, update_biases=True, *, optimizer="sgd"):
        """One update on one sample, as ``fit(batch_size=1)`` makes it.

        Parameters
        ----------
        x : array-like, shape (n_inputs,)
        t : array-like, shape (n_outputs,), or a number for one output
        lr : float, optional
            Learning rate; None takes the optimizer's own.
        update_biases : bool, default True
        optimizer : str or fastbp.optim.Optimizer, default "sgd"
            As for ``fit``; plain "sgd" is params -= lr * dE/dparams. The
            state of Adam and of SGD with momentum (Adam's step count too)
            is kept on the model between calls and shared with
            ``fit(warm_start=True)``: steps with the same optimizer go on
            from the previous step or fit, as one fit would. Rprop is
            full-batch only, so refused. Pass the same object on each call:
            it is checked once.

        Returns
        -------
        float
            The sample's loss before the update.

        Raises
        ------
        DivergenceError
            If the loss or an updated parameter would be NaN or infinite;
            the model (parameters and optimizer state) is then unchanged.
        """
        if update_biases is True and _plain_sgd(optimizer) and self._stepper is not None:
            loss = self._stepper.sgd(x, t, lr, False)
            if loss is not None:
                return loss
        return self._step(x, t, lr, update_biases, False, optimizer)

    def learn_one(self, x, t, lr=None, update_biases=True, *, optimizer="sgd"):
        """Predict, then learn, one sample (test-then-train) in one call.

        Parameters are those of ``train_step``.

        Returns
        -------
        ndarray, shape (n_outputs,), in the model's dtype
            The network's outputs for x before the update: what
            ``predict(x)`` returned just before the call.

        Raises
        ------
        DivergenceError
            As for ``train_step``.

        Examples
        --------
        Prequential (test-then-train) evaluation of a stream:

        >>> from fastbp import MLP
        >>> net = MLP([2, 4, 1], seed=0)
        >>> for x, t in [([0.0, 1.0], 1.0), ([1.0, 1.0], 0.0)]:
        ...     y = net.learn_one(x, t, lr=0.5)
        """
        if update_biases is True and _plain_sgd(optimizer) and self._stepper is not None:
            out = self._stepper.sgd(x, t, lr, True)
            if out is not None:
                return out
        return self._step(x, t, lr, update_biases, True, optimizer)
