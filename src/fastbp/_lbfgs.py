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

``fit_estimator`` and ``packed_loss_grad`` drive it for the scikit-learn
estimators (``fastbp.estimators``), the only importers of this module, so it
may import scikit-learn.
"""
import time
import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from fastbp import _core
from fastbp import _validation as check
from fastbp._estimator_params import NON_FINITE
from fastbp._layout import views
from fastbp._progress import make_reporter
from fastbp._sparse import SparseRows
from fastbp._vocabulary import OPTIMIZER_CODES
from fastbp.errors import DivergenceError


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


def fit_estimator(est, data):
    """scikit-learn's _fit_lbfgs: SciPy's L-BFGS-B on the full-batch loss,
    with max_iter, tol and max_fun as scikit-learn reads them; sets the
    estimator's loss_curve_, n_iter_, loss_ and best_loss_."""
    net = est.net_
    objective = Objective(net, check.as_matrix(data.X, "X", net.n_inputs, net.dtype, "features"),
                          np.ascontiguousarray(data.Y, net.dtype), data.sample_weight, est.alpha)
    reporter = make_reporter(est.max_iter, data.n_samples, est.progress, False)
    start = time.perf_counter()
    est.loss_curve_ = []

    def after_iteration(n_iter, loss):
        est.loss_curve_.append(loss)
        if est.verbose:
            print(f"Iteration {n_iter}, loss = {loss:.8f}")
        if reporter is not None:
            reporter.epoch_end(n_iter, loss, None, time.perf_counter() - start)

    try:
        result = minimize(objective, est.max_iter, est.tol, est.max_fun, after_iteration)
    finally:
        if reporter is not None:
            reporter.close()
    est.n_iter_ = min(result.nit, est.max_iter)
    est.loss_ = float(result.fun)
    est.best_loss_ = min(est.loss_curve_, default=est.loss_)
    if not check.all_finite(net.params):
        raise DivergenceError(NON_FINITE)
    if result.status != 0:
        more = (f"\nIncrease the number of iterations to improve the convergence "
                f"(max_iter={est.max_iter})." if est.n_iter_ == est.max_iter else "")
        warnings.warn(f"lbfgs failed to converge after {est.n_iter_} iteration(s) "
                      f"(status={result.status}):\n{result.message}\n{more}",
                      ConvergenceWarning)


def packed_loss_grad(net, alpha, packed_coef_inter, X, Y, sample_weight):
    """The objective and its gradient at parameters packed as scikit-learn
    packs them (every ``coefs_[l].ravel()``, then every ``intercepts_[l]``);
    the network takes them on. The estimators' ``_loss_grad_lbfgs``."""
    index_views = views(np.arange(net.params.size), net._layout)
    packing = np.concatenate([W.T.ravel() for W in index_views[0]] + index_views[1])
    params = np.empty(net.params.size)
    params[packing] = packed_coef_inter
    objective = Objective(net, np.ascontiguousarray(X, net.dtype),
                          np.ascontiguousarray(np.asarray(Y).reshape(len(X), -1), net.dtype),
                          sample_weight, alpha)
    loss, grad = objective(params)
    return loss, grad[packing]
