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


# One sample as its nonzero inputs: fastbp.river's step and prediction of a
# text's few words among thousands of inputs (MLP._sparse_sgd_step).

from libc.math cimport isfinite
from libc.string cimport memcpy

def gather_entries(dict x, dict position, Py_ssize_t[::1] indices, floating[::1] values):
    """For each (k, v) of x, in x's order, whose k is a key of ``position``:
    position[k] into ``indices`` and float(v) into ``values`` (both at least
    len(x) long). Returns how many were written."""
    cdef Py_ssize_t n = 0
    if indices.shape[0] < len(x) or values.shape[0] < len(x):
        raise ValueError(f"indices and values need {len(x)} elements")
    for k, v in x.items():
        i = position.get(k)
        if i is not None:
            indices[n] = i
            values[n] = float(v)
            n += 1
    return n


cdef inline int _check_finite_entries(const floating[::1] a, str name) except -1:
    cdef Py_ssize_t i
    for i in range(a.shape[0]):
        if not isfinite(a[i]):
            raise ValueError(f"{name} contains NaN or infinity (first at index ({i},))")
    return 0


def sgd_step_csr(Topology top, FitOptions options, floating[::1] params,
                 const floating[::1] data, const Py_ssize_t[::1] indices,
                 const floating[::1] t, floating[::1] workspace, floating[::1] grad,
                 floating[::1] undo):
    """One step of ``options`` (batch 1, plain SGD, check_params) on the
    sample whose inputs are 0 but at ``indices`` (each in [0, n_inputs)),
    where they are ``data``, towards ``t``: ``fit_csr`` on that one row,
    undone if it diverges. Returns 1, or 0 after a diverging step, which
    leaves params as they were: ``undo`` (at least n_params - W_0's size +
    n_hidden * len(data) elements) first receives all the step can change,
    W_0's stored columns and every other parameter. NaN or infinity in data
    or t raises ValueError before any change.
    """
    cdef const fbp_kernels *k = _kernels
    cdef Py_ssize_t n_in = top.net.sizes[0], h = top.net.sizes[1]
    cdef Py_ssize_t nnz = data.shape[0], w0 = top.net.w_offsets[0]
    cdef Py_ssize_t first = n_in * h, rest = top.net.n_params - first
    cdef Py_ssize_t after = top.net.n_params - w0 - first
    cdef Py_ssize_t indptr[2]
    cdef Py_ssize_t order[1]
    cdef Py_ssize_t j, i, done, n_updates = 0
    options.opt.optim = options._optimizer.o    # its lr may have changed since
    if indices.shape[0] != nnz:
        raise ValueError(f"indices has {indices.shape[0]} elements; data has {nnz}")
    if t.shape[0] != top.net.sizes[top.net.n_layers]:
        raise ValueError(f"t has {t.shape[0]} elements; the network has "
                         f"{top.net.sizes[top.net.n_layers]} outputs")
    if undo.shape[0] < rest + h * nnz:
        raise ValueError(f"undo has {undo.shape[0]} elements; the step needs {rest + h * nnz}")
    _check_workspace(top, workspace)
    _check_fit_buffers(top, options, params.shape[0], grad.shape[0], 0)
    for i in range(nnz):
        if not 0 <= indices[i] < n_in:
            raise ValueError(f"input index {indices[i]} is out of [0, {n_in})")
    _check_finite_entries(data, "x")
    _check_finite_entries(t, "t")
    cdef floating *p = &params[0]
    cdef floating *u = &undo[0]
    memcpy(u, p, w0 * sizeof(floating))
    memcpy(u + w0, p + w0 + first, after * sizeof(floating))
    for j in range(h):
        for i in range(nnz):
            u[rest + j * nnz + i] = p[w0 + j * n_in + indices[i]]
    indptr[0], indptr[1], order[0] = 0, nnz, 0
    if floating is float:
        k.fit_csr_f32(&top.net, &options.opt, p, _const_ptr_or_null(data),
                      &indices[0] if nnz else NULL, indptr, &t[0], NULL, order, 1,
                      &workspace[0], _ptr_or_null(grad), NULL, &n_updates, &done)
    else:
        k.fit_csr_f64(&top.net, &options.opt, p, _const_ptr_or_null(data),
                      &indices[0] if nnz else NULL, indptr, &t[0], NULL, order, 1,
                      &workspace[0], _ptr_or_null(grad), NULL, &n_updates, &done)
    if done == 1:
        return 1
    memcpy(p, u, w0 * sizeof(floating))
    memcpy(p + w0 + first, u + w0, after * sizeof(floating))
    for j in range(h):
        for i in range(nnz):
            p[w0 + j * n_in + indices[i]] = u[rest + j * nnz + i]
    if grad.shape[0]:
        memset(&grad[0], 0, grad.shape[0] * sizeof(floating))
    return 0
