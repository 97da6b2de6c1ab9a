"""Sparse X as the compiled core reads it (csrc/fbp_sparse.template.h).

``MLP.fit``, ``predict`` and ``loss`` take any SciPy sparse matrix or array;
``_validation.as_matrix`` checks it into a ``SparseRows`` (CSR, never made
dense), whose arrays go to ``_core.fit_csr``, ``predict_csr`` and
``loss_sum_csr``. Only the first layer sees X, so only its products and its
weights' update change: they run over the stored entries alone.
"""
import numpy as np
import scipy.sparse


def is_sparse(X):
    """Whether X is a SciPy sparse matrix or array, or already SparseRows."""
    return isinstance(X, SparseRows) or scipy.sparse.issparse(X)


class SparseRows:
    """Checked rows of a sparse X: CSR arrays, ``data`` in the model's dtype,
    ``indices`` and ``indptr`` as intp (the core's ``ptrdiff_t``; SciPy's
    own are often int32).

    Rows are taken as from an ndarray (``X[rows]``), for the samples held
    out for validation.
    """

    ndim = 2    # read by the checks, as of any matrix

    def __init__(self, data, indices, indptr, shape):
        self.data, self.indices, self.indptr = data, indices, indptr
        self.shape = shape

    @property
    def dtype(self):
        return self.data.dtype

    def tocsr(self):
        return scipy.sparse.csr_array(self.arrays(), shape=self.shape)

    @classmethod
    def of(cls, matrix):
        """From a CSR matrix, sharing its arrays where they already have
        the types wanted (``as_sparse`` then casts data to the model's)."""
        return cls(matrix.data, np.asarray(matrix.indices, np.intp),
                   np.asarray(matrix.indptr, np.intp), matrix.shape)

    @property
    def nnz(self):
        return int(self.indptr[-1] - self.indptr[0])

    def arrays(self):
        """(data, indices, indptr), the core's arguments."""
        return self.data, self.indices, self.indptr

    def toarray(self):
        """The dense rows (for the pure-Python reference, which reads lists)."""
        return self.tocsr().toarray()

    def __getitem__(self, rows):
        return SparseRows.of(self.tocsr()[rows])
