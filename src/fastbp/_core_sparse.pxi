# Sparse input (csrc/fbp_sparse.template.h): fit_csr, predict_csr and
# loss_sum_csr. Included at the end of _core.pyx (so fastbp._core stays one
# extension module), whose Topology, FitOptions, kernel path and buffer
# checks (_ptr_or_null, _check_workspace, _check_fit_buffers) it uses.
#
# X as CSR arrays: row r's values data[indptr[r]:indptr[r + 1]] in the columns
# indices[indptr[r]:indptr[r + 1]]. Their contents (indptr non-decreasing from
# 0 to len(data), every index in [0, n_inputs)) are the caller's to check, as
# order is for fit; only their lengths are checked here.

cdef inline const floating *_const_ptr_or_null(const floating[::1] a) noexcept:
    return &a[0] if a.shape[0] else NULL


cdef inline int _check_csr(Py_ssize_t data, Py_ssize_t indices, Py_ssize_t indptr) except -1:
    if indices != data:
        raise ValueError(f"indices has {indices} elements; data has {data}")
    if indptr < 1:
        raise ValueError("indptr needs at least one element")
    return 0


def fit_csr(Topology top, FitOptions options, floating[::1] params,
            const floating[::1] data, const Py_ssize_t[::1] indices,
            const Py_ssize_t[::1] indptr, const floating[:, ::1] Y,
            const floating[::1] sample_weight, const Py_ssize_t[::1] order,
            floating[::1] workspace, floating[::1] grad, floating[::1] state,
            Py_ssize_t n_updates):
    """``fit`` with X given as CSR arrays ``data``, ``indices`` and ``indptr``
    (rows of X as ``order`` indexes them); other arguments and the result as
    for ``fit``. Only the stored entries reach the first layer's products and
    its weights' update.
    """
    cdef const fbp_kernels *k = _kernels
    options.opt.optim = options._optimizer.o    # its lr may have changed since
    cdef const fbp_train_options *opt = &options.opt
    cdef double total
    cdef Py_ssize_t done
    cdef floating *g = _ptr_or_null(grad)
    cdef floating *st = _ptr_or_null(state)
    cdef const floating *sw = _const_ptr_or_null(sample_weight)
    cdef const floating *v = _const_ptr_or_null(data)
    cdef const Py_ssize_t *c = &indices[0] if indices.shape[0] else NULL
    cdef const Py_ssize_t *r = &indptr[0] if indptr.shape[0] else NULL
    cdef floating *p = &params[0]
    cdef floating *ws = &workspace[0]
    cdef const floating *y = &Y[0, 0]
    cdef Py_ssize_t n = order.shape[0]
    cdef const Py_ssize_t *o = &order[0]
    _check_csr(data.shape[0], indices.shape[0], indptr.shape[0])
    _check_workspace(top, workspace)
    _check_fit_buffers(top, options, params.shape[0], grad.shape[0], state.shape[0])
    with nogil:
        if floating is float:
            total = k.fit_csr_f32(&top.net, opt, p, v, c, r, y, sw, o, n, ws, g, st,
                                  &n_updates, &done)
        else:
            total = k.fit_csr_f64(&top.net, opt, p, v, c, r, y, sw, o, n, ws, g, st,
                                  &n_updates, &done)
    return total, done, n_updates


def predict_csr(Topology top, const floating[::1] params, const floating[::1] data,
                const Py_ssize_t[::1] indices, const Py_ssize_t[::1] indptr,
                floating[:, ::1] out, floating[::1] workspace):
    """``predict`` for the ``len(indptr) - 1`` rows of a CSR X; ``out`` has
    one row per row of X."""
    cdef const fbp_kernels *k = _kernels
    cdef const floating *p = &params[0]
    cdef const floating *v = _const_ptr_or_null(data)
    cdef const Py_ssize_t *c = &indices[0] if indices.shape[0] else NULL
    cdef const Py_ssize_t *r = &indptr[0] if indptr.shape[0] else NULL
    cdef floating *y = &out[0, 0]
    cdef floating *ws = &workspace[0]
    cdef Py_ssize_t n = indptr.shape[0] - 1
    _check_csr(data.shape[0], indices.shape[0], indptr.shape[0])
    if out.shape[0] != n:
        raise ValueError(f"out has {out.shape[0]} rows; X has {n}")
    _check_workspace(top, workspace)
    with nogil:
        if floating is float:
            k.predict_csr_f32(&top.net, p, v, c, r, n, y, ws)
        else:
            k.predict_csr_f64(&top.net, p, v, c, r, n, y, ws)


def loss_sum_csr(Topology top, const floating[::1] params, const floating[::1] data,
                 const Py_ssize_t[::1] indices, const Py_ssize_t[::1] indptr,
                 const floating[:, ::1] Y, floating[::1] workspace):
    """``loss_sum`` for the ``len(indptr) - 1`` rows of a CSR X, one row of
    ``Y`` each."""
    cdef const fbp_kernels *k = _kernels
    cdef const floating *p = &params[0]
    cdef const floating *v = _const_ptr_or_null(data)
    cdef const Py_ssize_t *c = &indices[0] if indices.shape[0] else NULL
    cdef const Py_ssize_t *r = &indptr[0] if indptr.shape[0] else NULL
    cdef const floating *y = &Y[0, 0]
    cdef floating *ws = &workspace[0]
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef double total
    _check_csr(data.shape[0], indices.shape[0], indptr.shape[0])
    if Y.shape[0] != n:
        raise ValueError(f"Y has {Y.shape[0]} rows; X has {n}")
    _check_workspace(top, workspace)
    with nogil:
        if floating is float:
            total = k.loss_csr_f32(&top.net, p, v, c, r, y, n, ws)
        else:
            total = k.loss_csr_f64(&top.net, p, v, c, r, y, n, ws)
    return total


# One sample as its nonzero inputs: fastbp.river's predictions and steps of
# a text's few words among thousands of inputs.

from libc.math cimport isfinite
from libc.string cimport memcpy


cdef void _swap_undo(floating *p, floating *u, const Py_ssize_t *idx, Py_ssize_t nnz,
                     const fbp_net *net, bint save) noexcept:
    """Copy into u (save) or back from it what a sparse step can change: the
    parameters before and after W_0, then W_0's columns idx, unit by unit."""
    cdef Py_ssize_t n_in = net.sizes[0], h = net.sizes[1], w0 = net.w_offsets[0]
    cdef Py_ssize_t after = net.n_params - w0 - n_in * h, rest = net.n_params - n_in * h
    cdef Py_ssize_t j, i
    if save:
        memcpy(u, p, w0 * sizeof(floating))
        memcpy(u + w0, p + w0 + n_in * h, after * sizeof(floating))
        for j in range(h):
            for i in range(nnz):
                u[rest + j * nnz + i] = p[w0 + j * n_in + idx[i]]
    else:
        memcpy(p, u, w0 * sizeof(floating))
        memcpy(p + w0 + n_in * h, u + w0, after * sizeof(floating))
        for j in range(h):
            for i in range(nnz):
                p[w0 + j * n_in + idx[i]] = u[rest + j * nnz + i]


cdef Py_ssize_t _entry_step(const fbp_net *net, const fbp_train_options *opt, floating *p,
                            const floating *v, const Py_ssize_t *idx, Py_ssize_t n,
                            const floating *t, floating *ws, floating *g, floating *u) except -1:
    """EntryCalls.sgd's step on n gathered entries: 1, or 0 after a divergence,
    undone (u receives what the step can change first)."""
    cdef const fbp_kernels *k = _kernels
    cdef Py_ssize_t indptr[2]
    cdef Py_ssize_t order[1]
    cdef Py_ssize_t done = 0, n_updates = 0
    if not _all_finite(t, net.sizes[net.n_layers]):
        raise ValueError("t contains NaN or infinity")
    indptr[0], indptr[1], order[0] = 0, n, 0
    _swap_undo(p, u, idx, n, net, True)
    if floating is double:
        k.fit_csr_f64(net, opt, p, v, idx, indptr, t, NULL, order, 1, ws, g, NULL,
                      &n_updates, &done)
    else:
        k.fit_csr_f32(net, opt, p, v, idx, indptr, t, NULL, order, 1, ws, g, NULL,
                      &n_updates, &done)
    if done != 1:
        _swap_undo(p, u, idx, n, net, False)
    return done


cdef void _entry_predict(const fbp_net *net, const floating *p, const floating *v,
                         const Py_ssize_t *idx, Py_ssize_t n, floating *out,
                         floating *ws) noexcept:
    """EntryCalls.predict's forward pass on n gathered entries."""
    cdef const fbp_kernels *k = _kernels
    cdef Py_ssize_t indptr[2]
    indptr[0], indptr[1] = 0, n
    if floating is double:
        k.predict_csr_f64(net, p, v, idx, indptr, 1, out, ws)
    else:
        k.predict_csr_f32(net, p, v, idx, indptr, 1, out, ws)


cdef class EntryCalls:
    """One model's calls on one sample given as a dict of its nonzero inputs
    (key to value, and ``position``, key to input index; other keys are left
    out): ``predict`` and ``sgd``, a plain-SGD step through fit_csr's
    per-sample loop. Their cost is that of the sample's entries, not of the
    network's width: fastbp.river's text samples (MLP._entry_calls). As
    Stepper, it holds the model's buffers and reads them by pointer.

    Parameters
    ----------
    top : Topology
    params : float32 or float64 array, shape (n_params,), the model's own
    workspace : array, shape (top.workspace_size,), same dtype
    lock : the model's lock (acquire and release), which both calls take
    """
    cdef Topology top
    cdef FitOptions options
    cdef object params, workspace, grad, out, indices, values, undo, acquire, release
    cdef int type_num
    cdef void *p
    cdef void *ws

    def __cinit__(self, Topology top, cnp.ndarray params, cnp.ndarray workspace, lock):
        self.type_num = cnp.PyArray_TYPE(params)
        if self.type_num not in (cnp.NPY_FLOAT, cnp.NPY_DOUBLE):
            raise ValueError("params must be float32 or float64")
        self.top, self.params, self.workspace = top, params, workspace
        self.p = _buffer(params, self.type_num, top.net.n_params, "params")
        self.ws = _buffer(workspace, self.type_num, top.workspace_size, "workspace")
        self.acquire, self.release = lock.acquire, lock.release
        self.options = FitOptions(Optimizer(FBP_SGD, 1.0), 1, 1.0, True)
        self.options.opt.check_params = 1       # an overflowing update stops it too
        # Without the special paths (tests), the update goes through grad.
        self.grad = cnp.PyArray_ZEROS(1, [top.net.n_params if self.options.needs_grad else 0],
                                      self.type_num, 0)
        self.out = cnp.PyArray_ZEROS(1, [top.net.sizes[top.net.n_layers]], self.type_num, 0)
        self._reserve(16)

    cdef int _reserve(self, Py_ssize_t n) except -1:
        """Room for n entries and for a step's undo."""
        cdef Py_ssize_t rest = self.top.net.n_params - self.top.net.sizes[0] * self.top.net.sizes[1]
        self.indices = cnp.PyArray_EMPTY(1, [n], cnp.NPY_INTP, 0)
        self.values = cnp.PyArray_EMPTY(1, [n], self.type_num, 0)
        self.undo = cnp.PyArray_EMPTY(1, [rest + self.top.net.sizes[1] * n], self.type_num, 0)
        return 0

    cdef Py_ssize_t _gather(self, dict x, dict position) except -1:
        """x's entries whose keys ``position`` has, into indices and values
        (in x's order); returns how many. Refuses an index out of range, a
        value float() refuses, and NaN or infinity."""
        if len(x) > cnp.PyArray_SIZE(self.indices):
            self._reserve(2 * len(x))
        cdef Py_ssize_t *idx = <Py_ssize_t *>cnp.PyArray_DATA(self.indices)
        cdef void *v = cnp.PyArray_DATA(self.values)
        cdef Py_ssize_t n = 0, i, n_in = self.top.net.sizes[0]
        cdef double value
        for key, item in x.items():
            found = position.get(key)
            if found is None:
                continue
            i = found
            if not 0 <= i < n_in:
                raise ValueError(f"input index {i} (of {key!r}) is out of [0, {n_in})")
            value = float(item)
            if not isfinite(value) or (self.type_num == cnp.NPY_FLOAT and fabs(value) > FLT_MAX):
                raise ValueError(f"x contains NaN or infinity, or a value the model's dtype "
                                 f"cannot hold: {key!r}: {item!r}")
            idx[n] = i
            if self.type_num == cnp.NPY_DOUBLE:
                (<double *>v)[n] = value
            else:
                (<float *>v)[n] = <float>value
            n += 1
        return n

    def predict(self, dict x, dict position):
        """network(x): an (n_outputs,) array that the next call overwrites."""
        cdef Py_ssize_t n
        cdef Py_ssize_t *idx = NULL
        cdef void *v
        cdef void *out = cnp.PyArray_DATA(self.out)
        self.acquire()
        try:
            n = self._gather(x, position)
            idx, v = <Py_ssize_t *>cnp.PyArray_DATA(self.indices), cnp.PyArray_DATA(self.values)
            if self.type_num == cnp.NPY_DOUBLE:
                _entry_predict(&self.top.net, <double *>self.p, <double *>v, idx, n,
                               <double *>out, <double *>self.ws)
            else:
                _entry_predict(&self.top.net, <float *>self.p, <float *>v, idx, n,
                               <float *>out, <float *>self.ws)
        finally:
            self.release()
        return self.out

    def sgd(self, dict x, dict position, t, double lr):
        """One plain-SGD step at lr towards t (a 1-D C-contiguous array of
        the model's dtype, one value per output, in the loss's range, which
        the caller checks; NaN or infinity is refused here). Returns True,
        or False after a step that diverged, undone: every parameter as it
        was. Bad input raises ValueError before any change."""
        cdef fbp_net *net = &self.top.net
        cdef Py_ssize_t n, done
        cdef Py_ssize_t *idx = NULL
        cdef void *v
        cdef void *u
        cdef void *td = _sample_data(t, self.type_num, net.sizes[net.n_layers])
        cdef void *g = cnp.PyArray_DATA(self.grad) if cnp.PyArray_SIZE(self.grad) else NULL
        if td == NULL:
            raise ValueError(f"t must be a 1-D C-contiguous array of the model's dtype with "
                             f"{net.sizes[net.n_layers]} values")
        self.acquire()
        try:
            n = self._gather(x, position)
            idx, v = <Py_ssize_t *>cnp.PyArray_DATA(self.indices), cnp.PyArray_DATA(self.values)
            u = cnp.PyArray_DATA(self.undo)
            self.options._optimizer.o.lr = lr
            self.options.opt.optim = self.options._optimizer.o
            if self.type_num == cnp.NPY_DOUBLE:
                done = _entry_step(net, &self.options.opt, <double *>self.p, <double *>v, idx, n,
                                   <double *>td, <double *>self.ws, <double *>g, <double *>u)
            else:
                done = _entry_step(net, &self.options.opt, <float *>self.p, <float *>v, idx, n,
                                   <float *>td, <float *>self.ws, <float *>g, <float *>u)
            if done != 1 and g != NULL:
                memset(g, 0, cnp.PyArray_NBYTES(self.grad))
        finally:
            self.release()
        return done == 1
