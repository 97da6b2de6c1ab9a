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
