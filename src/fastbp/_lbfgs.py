"""Full-batch L-BFGS on a network, as scikit-learn's ``solver="lbfgs"``: SciPy's
L-BFGS-B minimises the objective below, whose value and gradient come from one
compiled call over all the samples.

With sample weights w_s (all 1 without), S = sum_s w_s and E_s the loss of
sample s (summed over the outputs, as ``MLP`` defines it):

    f(params) = sum_s w_s E_s / S + alpha / (2 S) * |W|^2

where |W|^2 sums the squares of the weights, not of the biases (scikit-learn's
L2 penalty). The compiled call is ``_core.fit`` with a batch longer than the
data that is never finished: it sums each sample's weighted gradient into
``grad`` (by the matrix loop when the data has ``_core.ROWS_MIN`` samples or
more) and its loss, and makes no update; for sparse X, ``_core.fit_csr``.
"""
import numpy as np
import scipy.optimize

from fastbp import _core
from fastbp._sparse import SparseRows
from fastbp._vocabulary import OPTIMIZER_CODES


class Objective:
    """f and its gradient (see the module) for ``net`` on checked data.

    Parameters
    ----------
    net : fastbp.MLP
    X : ndarray in the network's dtype, C-contiguous, shape (n_samples,
        n_inputs), or SparseRows (``_validation.as_matrix`` gives either)
    Y : ndarray in the network's dtype, C-contiguous, shape (n_samples, n_outputs)
    sample_weight : ndarray, shape (n_samples,), or None
    alpha : float >= 0
    """

    def __init__(self, net, X, Y, sample_weight, alpha):
        self.net, self.X, self.Y = net, X, Y
        n = X.shape[0]
        self.weight = (np.empty(0, net.dtype) if sample_weight is None
                       else np.ascontiguousarray(sample_weight, net.dtype))
        self.total_weight = float(n if sample_weight is None else np.sum(sample_weight))
        self.alpha = alpha
        self.order = np.arange(n, dtype=np.intp)
        # A batch of n + 1 never ends: grad keeps the sums and no update is made.
        self.options = _core.FitOptions(_core.Optimizer(OPTIMIZER_CODES["sgd"], 1.0), n + 1,
                                        1.0 / self.total_weight, True)
        self.options.finish = False
        self.grad = np.zeros(net.params.size, net.dtype)
        self.no_state = np.empty(0, net.dtype)
        self.weight_ranges = [slice(start, start + W.size)
                              for start, W in zip(net._layout.w_offsets, net.weights)]

    def __call__(self, params):
        """(f, gradient as float64) at ``params``, which the network takes on."""
        net = self.net
        net.params[...] = params
        self.grad[...] = 0
        if isinstance(self.X, SparseRows):
            total, done, _ = _core.fit_csr(net._top, self.options, net.params,
                                           *self.X.arrays(), self.Y, self.weight, self.order,
                                           net._workspace, self.grad, self.no_state, 0)
        else:
            total, done, _ = _core.fit(net._top, self.options, net.params, self.X, self.Y,
                                       self.weight, self.order, net._workspace, self.grad,
                                       self.no_state, 0)
        if done < self.order.shape[0]:
            # A loss that is not finite: L-BFGS-B backs off from such a step.
            return np.inf, np.zeros(params.shape[0])
        grad = np.divide(self.grad, self.total_weight, dtype=np.float64)
        scale = self.alpha / self.total_weight
        squares = 0.0
        for weights in self.weight_ranges:
            W = net.params[weights].astype(np.float64)
            squares += float(np.dot(W, W))
            grad[weights] += scale * W
        return total + 0.5 * scale * squares, grad


def minimize(objective, max_iter, tol, max_fun, callback=None):
    """Run SciPy's L-BFGS-B from the network's parameters and leave it with
    the result (scikit-learn's ``maxiter``, ``gtol`` and ``maxfun``).

    Parameters
    ----------
    objective : Objective
    max_iter, max_fun : int
    tol : float
    callback : callable, optional
        ``callback(n_iter, loss)`` after each iteration.

    Returns
    -------
    scipy.optimize.OptimizeResult
    """
    net = objective.net
    x0 = net.params.astype(np.float64)
    state = {"nit": 0}

    def after_iteration(intermediate_result):
        state["nit"] += 1
        callback(state["nit"], float(intermediate_result.fun))

    with net._lock, _core.blas_threads(net._top, objective.X.shape[0], 1):
        result = scipy.optimize.minimize(
            objective, x0, method="L-BFGS-B", jac=True,
            options={"maxiter": max_iter, "gtol": tol, "maxfun": max_fun},
            callback=None if callback is None else after_iteration)
        net.params[...] = result.x
    return result
