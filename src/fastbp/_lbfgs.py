"""Full-batch L-BFGS on a network: SciPy's L-BFGS-B minimises the objective
below, whose value and gradient come from one compiled call over all the
samples. It is ``MLP.fit``'s optimizer ``fastbp.optim.LBFGS``
(``fit_network``) and the scikit-learn estimators' ``solver="lbfgs"``
(``fit_estimator``, ``packed_loss_grad``, which import scikit-learn when
called: MLP.fit needs SciPy alone).

With sample weights w_s (all 1 without) and E_s the loss of sample s (summed
over the outputs, as ``MLP`` defines it):

    f(params) = c sum_s w_s E_s + decay / 2 * |P|^2

where P is every parameter, or the weights alone (not the biases). MLP.fit
takes fit's mean, c = 1 / n_samples, and its L2 weight decay (decay =
weight_decay, P the weights alone with decay_biases=False); the estimators
take scikit-learn's, c = 1 / S and decay = alpha / S with S = sum_s w_s, P
the weights. The compiled call is ``_core.fit`` with a batch longer than the
data that is never finished: it sums each sample's weighted gradient into
``grad`` (by the matrix loop when the data has ``_core.ROWS_MIN`` samples or
more) and its loss, and makes no update; for sparse X, ``_core.fit_csr``.
"""
import functools
import math
import time
import warnings

import numpy as np

from fastbp import _core
from fastbp import _validation as check
from fastbp import optim
from fastbp._layout import views
from fastbp._progress import make_reporter
from fastbp._sparse import SparseRows
from fastbp._training import EpochLog
from fastbp._vocabulary import OPTIMIZER_CODES
from fastbp.errors import DivergenceError
from fastbp.history import History

# History.stop_reason of an L-BFGS-B run by its status (SciPy's warnflag):
# 0 converged, 1 iterations or evaluations used up, 2 abnormal termination.
STOP_REASONS = {0: "converged", 2: "abnormal"}


class Objective:
    """f and its gradient (see the module) for ``net`` on checked data.

    Parameters
    ----------
    net : fastbp.MLP
    X : ndarray in the network's dtype, C-contiguous, shape (n_samples,
        n_inputs), or SparseRows (``_validation.as_matrix`` gives either)
    Y : ndarray in the network's dtype, C-contiguous, shape (n_samples, n_outputs)
    sample_weight : ndarray, shape (n_samples,), or None
    loss_scale : float > 0
        c, the factor of the weighted loss sum.
    decay : float >= 0
    decay_biases : bool
        Whether P includes the biases.

    Attributes
    ----------
    loss : float
        c sum_s w_s E_s at the latest evaluation, the penalty left out.
    value : float
        f at the latest evaluation.
    """

    def __init__(self, net, X, Y, sample_weight, loss_scale, decay, decay_biases):
        self.net, self.X, self.Y = net, X, Y
        n = X.shape[0]
        weight = (np.empty(0, net.dtype) if sample_weight is None
                  else np.ascontiguousarray(sample_weight, net.dtype))
        self.loss_scale = loss_scale
        self.n_samples = n
        # A batch of n + 1 never ends: grad keeps the sums and no update is made.
        options = _core.FitOptions(_core.Optimizer(OPTIMIZER_CODES["sgd"], 1.0), n + 1,
                                   loss_scale, True)
        options.finish = False
        self.grad = np.zeros(net.params.size, net.dtype)
        rows = X.arrays() if isinstance(X, SparseRows) else (X,)
        # The compiled call's arguments, bound once: evaluations are many
        # and cheap (tens of microseconds on iris).
        self._run = functools.partial(
            _core.fit_csr if isinstance(X, SparseRows) else _core.fit, net._top, options,
            net.params, *rows, Y, weight, np.arange(n, dtype=np.intp), net._workspace,
            self.grad, np.empty(0, net.dtype), 0)
        # decay at the decayed parameters, 0 elsewhere: the penalty's
        # gradient is decays * params, and the penalty half its dot with params.
        self.decays = np.full(net.params.size, float(decay))
        if not decay_biases:
            for start, b in zip(net._layout.b_offsets, net.biases or ()):
                self.decays[start:start + b.size] = 0.0
        self.loss = self.value = math.nan

    def __call__(self, params):
        """(f, gradient as float64) at ``params`` (float64), which the
        network takes on."""
        self.net.params[...] = params
        self.grad[...] = 0
        total, done, _ = self._run()
        if done < self.n_samples:
            # A loss that is not finite: L-BFGS-B backs off from such a step.
            self.loss = self.value = math.inf
            return math.inf, np.zeros(params.shape[0])
        penalty_grad = np.multiply(self.decays, params)
        grad = np.multiply(self.grad, self.loss_scale, dtype=np.float64)
        grad += penalty_grad
        self.loss = total
        self.value = total + 0.5 * float(np.dot(penalty_grad, params))
        return self.value, grad


class _Stopped(Exception):
    """Raised by minimize's callback to end the run at the latest iterate."""


def minimize(objective, solver, callback=None, n_jobs=1):
    """Run SciPy's L-BFGS-B from the network's parameters and leave it with
    the result; after an exception (a KeyboardInterrupt too), with the
    latest iterate.

    Parameters
    ----------
    objective : Objective
    solver : fastbp.optim.LBFGS
        max_iter, tol, max_fun and m are SciPy's maxiter, gtol, maxfun and
        maxcor (scikit-learn passes the first three).
    callback : callable, optional
        ``callback(n_iter)`` after each iteration, the objective's and the
        network's latest evaluation being the new iterate (L-BFGS-B
        evaluates it last); returning True ends the run there.
    n_jobs : int, default 1
        Threads of BLAS (``_core.limit_blas``).

    Returns
    -------
    scipy.optimize.OptimizeResult
        With status 3 when the callback ended the run.
    """
    import scipy.optimize      # on first use: it adds 0.2 s to importing fastbp
    net = objective.net
    latest = {"x": net.params.astype(np.float64), "nit": 0}

    def after_iteration(xk):
        # xk (SciPy's copy) is kept without another copy; the one-argument
        # form is also SciPy 1.10's.
        latest["x"], latest["nit"] = xk, latest["nit"] + 1
        if callback(latest["nit"]):
            raise _Stopped

    # All of it on n_jobs BLAS threads, not only the compiled matrix products:
    # L-BFGS-B's own vector operations call BLAS too (SciPy >= 1.15), and
    # OpenBLAS threads on vectors this short cost more than they share: on a
    # busy 2-core machine, 2 threads made a run 20 times slower.
    with net._lock, _core.limit_blas(n_jobs):
        try:
            result = scipy.optimize.minimize(
                objective, latest["x"], method="L-BFGS-B", jac=True,
                options={"maxiter": solver.max_iter, "gtol": solver.tol,
                         "maxfun": solver.max_fun, "maxcor": solver.m},
                callback=None if callback is None else after_iteration)
        except _Stopped:
            result = scipy.optimize.OptimizeResult(
                x=latest["x"], fun=objective.value, nit=latest["nit"], status=3,
                success=False, message="stopped by the callback")
        except BaseException:
            net.params[...] = latest["x"]
            raise
        net.params[...] = result.x
    return result


def fit_network(net, data, settings, epochs, update_biases, n_jobs):
    """``MLP.fit`` with a ``fastbp.optim.LBFGS`` optimizer, on data and
    settings fit has checked (``_validation.fit_data``, ``check_settings``):
    one L-BFGS-B run, each iteration an epoch of the History (its loss the
    mean loss without the penalty, its lr NaN). Refuses, before any state
    changes, the options that have no meaning here (see ``LBFGS``); a loss
    or parameter that ends non-finite raises DivergenceError with the
    model's parameters and optimizer state as they were."""
    solver = settings.optimizer
    if epochs != 1:
        raise ValueError(f"optimizer 'lbfgs' runs up to its max_iter iterations in one fit: "
                         f"leave epochs at 1 and give fastbp.optim.LBFGS(max_iter={epochs}) "
                         f"instead, got epochs={epochs}")
    if settings.schedule != optim.Constant():
        raise ValueError(f"optimizer 'lbfgs' has no learning rate to schedule: leave schedule "
                         f"at 'constant', got {settings.schedule!r}")
    if not update_biases:
        raise ValueError("optimizer 'lbfgs' trains every parameter: update_biases=False "
                         "is not supported with it")
    n_samples = data.X.shape[0]
    objective = Objective(net, data.X, data.Y, data.weight, 1.0 / n_samples,
                          solver.weight_decay, solver.decay_biases)
    with net._lock:
        net._check_trainable()
        start, state = net.params.copy(), net._state
        net._state = None
        net.history = history = History()
        log = EpochLog(history, settings, solver.max_iter, n_samples,
                       None if data.X_val is None else
                       lambda: net.loss(data.X_val, data.Y_val), net.params.copy)
        try:
            result = minimize(objective, solver,
                              lambda n_iter: log.end_epoch(n_iter, objective.loss, math.nan),
                              n_jobs)
        finally:
            log.close()
        if not (math.isfinite(result.fun) and check.all_finite(net.params)):
            net.params[...], net._state = start, state
            raise DivergenceError(
                "L-BFGS diverged: the loss or a parameter became NaN or infinite. The model "
                "keeps the parameters it had before fit; scale the inputs, or add "
                "weight_decay.")
        if result.status != 3:
            history.stop_reason = STOP_REASONS.get(
                result.status, "max_iter" if result.nit >= solver.max_iter else "max_fun")
        if log.best_params() is not None:
            net.params[...] = log.best_params()
    return history


def _estimator_objective(net, X, Y, sample_weight, alpha):
    """The Objective of scikit-learn's lbfgs (c = 1 / S, decay alpha / S on
    the weights) on checked X and Y."""
    total_weight = float(X.shape[0] if sample_weight is None else np.sum(sample_weight))
    return Objective(net, X, Y, sample_weight, 1.0 / total_weight, alpha / total_weight, False)


def fit_estimator(est, data):
    """scikit-learn's _fit_lbfgs: SciPy's L-BFGS-B on the full-batch loss,
    with max_iter, tol and max_fun as scikit-learn reads them; sets the
    estimator's loss_curve_, n_iter_, loss_ and best_loss_."""
    from sklearn.exceptions import ConvergenceWarning

    from fastbp._estimator_params import NON_FINITE
    net = est.net_
    objective = _estimator_objective(
        net, check.as_matrix(data.X, "X", net.n_inputs, net.dtype, "features"),
        np.ascontiguousarray(data.Y, net.dtype), data.sample_weight, est.alpha)
    reporter = make_reporter(est.max_iter, data.n_samples, est.progress, False)
    start = time.perf_counter()
    est.loss_curve_ = []

    def after_iteration(n_iter):
        est.loss_curve_.append(objective.value)
        if est.verbose:
            print(f"Iteration {n_iter}, loss = {objective.value:.8f}")
        if reporter is not None:
            reporter.epoch_end(n_iter, objective.value, None, time.perf_counter() - start)

    try:
        result = minimize(objective, optim.LBFGS(est.max_iter, est.tol, est.max_fun),
                          after_iteration)
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
    objective = _estimator_objective(
        net, np.ascontiguousarray(X, net.dtype),
        np.ascontiguousarray(np.asarray(Y).reshape(len(X), -1), net.dtype), sample_weight, alpha)
    loss, grad = objective(params)
    return loss, grad[packing]
