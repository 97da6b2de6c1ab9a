"""The hyper-parameters of the scikit-learn estimators (``fastbp.estimators``):
scikit-learn's names for fastbp's choices, the docstring section both
estimators share, the checks ``fit`` makes before it changes anything, and
scikit-learn's words for a fit whose parameters stop being finite.
"""
import numbers

import numpy as np
from sklearn.base import is_classifier

from fastbp import _validation as check
from fastbp._random import check_init
from fastbp._vocabulary import FULL_BATCH_OPTIMIZERS, HIDDEN_ACTIVATIONS, OPTIMIZERS

# scikit-learn's name of an activation fastbp names differently.
SKLEARN_ALIASES = {"logistic": "sigmoid"}
# Hidden activations under scikit-learn's names and fastbp's, to fastbp's.
ACTIVATIONS = {**{a: a for a in HIDDEN_ACTIVATIONS}, **SKLEARN_ALIASES}
SOLVERS = FULL_BATCH_OPTIMIZERS + OPTIMIZERS
# MLPRegressor's losses, as scikit-learn names them.
REGRESSION_LOSSES = ("squared_error", "poisson")
# scikit-learn's words for parameters that stop being finite.
NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain "
              "large values and need to be preprocessed.")
# scikit-learn's learning_rate values, spelled as scikit-learn spells them.
SCHEDULES = ("constant", "invscaling", "adaptive")

PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer; () fits no hidden layer.
    activation : str, default="relu"
        Of the hidden layers: "identity", "logistic" (or "sigmoid"), "tanh",
        "relu" or fastbp's "leaky_relu".
    solver : {"lbfgs", "adam", "sgd", "rprop"}, default="adam"
        "lbfgs" is SciPy's L-BFGS-B on the full-batch loss (scikit-learn's
        recommendation for small data sets), the others the optimizer of
        ``MLP.fit``; "rprop" is fastbp's resilient backprop.
    alpha : float, default=0.0001
        L2 penalty on the weights (not the biases), as scikit-learn's:
        ``alpha / (2 n) * |W|^2`` added to the mean loss.
    batch_size : int or "auto", default="auto"
        Samples per update; "auto" is min(200, n_samples), and all of them
        for rprop (full-batch only). Larger than the training set, it is
        clipped (with a warning).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of the step size, for solver="sgd" only (as in scikit-learn):
        "invscaling" uses ``learning_rate_init / (t_ + 1) ** power_t`` after the
        first epoch; "adaptive" divides it by 5 whenever ``n_iter_no_change``
        epochs in a row fail to improve by ``tol``, and stops below 1e-6.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs of ``fit`` (iterations for lbfgs); ``partial_fit`` runs one.
    shuffle : bool, default=True
        A new sample order every epoch.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initial weights, the validation split and the sample orders.
    tol : float, default=1e-4
        Improvement of the training loss (or of the validation score with
        ``early_stopping``) that counts for ``n_iter_no_change``; for lbfgs,
        the largest projected gradient entry at which it stops (``gtol``).
    verbose : bool, default=False
        Print the loss (and validation score) of every epoch.
    warm_start : bool, default=False
        ``fit`` continues from the fitted weights (with a fresh optimizer
        state, as scikit-learn does).
    momentum : float in [0, 1], default=0.9
        For solver="sgd".
    nesterovs_momentum : bool, default=True
        For solver="sgd" with momentum > 0.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score
        stops improving, and keep the weights of the best epoch.
    validation_fraction : float in [0, 1), default=0.1
    beta_1, beta_2 : float in [0, 1), default=0.9 and 0.999
        Adam's decay rates of the first and second moments.
    epsilon : float, default=1e-8
        Adam's term added to the root of the second moment.
    n_iter_no_change : int or numpy.inf, default=10
        Epochs without improvement before stopping (or an adaptive cut).
    max_fun : int, default=15000
        For lbfgs: the most loss evaluations (``maxfun``).
    dtype : {None, "float32", "float64"}, default=None
        Of the parameters and the arithmetic; None follows X: float32 data
        trains in float32, anything else in float64.
    init : str or callable, default="sklearn"
        The initial weights and biases (``fastbp.MLP``'s ``init``, whose
        docstring gives the formulas): "sklearn" draws them as scikit-learn
        does, uniform in +-sqrt(6 / (fan_in + fan_out)) (2 instead of 6 for
        logistic), biases too; also "auto", "glorot_uniform", "he_uniform"
        or ``init(rng, n_in, n_out) -> (weights, biases)``.
    progress : bool, default=False
        Show a progress bar over the epochs (``MLP.fit``'s ``progress``).

    Attributes
    ----------
    net_ : fastbp.MLP
        The network.
    coefs_ : list of ndarray, shapes (n_in, n_out)
        Views of the network's weights (``net_.weights[l].T``).
    intercepts_ : list of ndarray, shapes (n_out,)
        Views of the network's biases.
    loss_ : float
        The training loss of the last epoch.
    loss_curve_ : list of float
        The training loss of every epoch (iteration for lbfgs), penalty
        included (see the module).
    best_loss_ : float or None
        The lowest of ``loss_curve_``; None with ``early_stopping``.
    validation_scores_ : list of float or None
        Score on the held-out data after every epoch, with ``early_stopping``.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs (lbfgs: iterations) run by the latest ``fit`` (1 after
        ``partial_fit``).
    t_ : int
        Training samples seen, over all calls.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X has string column names.
    n_layers_ : int
        Layers, inputs and outputs included.
    n_outputs_ : int
        Output units.
    out_activation_ : str
        "logistic", "softmax" or "identity".
"""


def hidden_sizes(hidden_layer_sizes):
    """The hidden layer sizes as a list of ints, checked."""
    if isinstance(hidden_layer_sizes, numbers.Integral):
        hidden_layer_sizes = [hidden_layer_sizes]
    if isinstance(hidden_layer_sizes, str) or not hasattr(hidden_layer_sizes, "__iter__"):
        raise TypeError("hidden_layer_sizes must be an int or a sequence of ints, "
                        f"got {hidden_layer_sizes!r}")
    sizes = list(hidden_layer_sizes)
    for size in sizes:
        check.check_positive_int(size, "hidden_layer_sizes entries")
    return [int(s) for s in sizes]


def check_params(est):
    """Every hyper-parameter, checked before fit changes anything; raises
    ValueError or TypeError naming the first bad one."""
    params = vars(est)     # get_params inspects the signature: slower than a small fit
    hidden_sizes(est.hidden_layer_sizes)
    check.check_choice(est.activation, "activation", tuple(ACTIVATIONS))
    check.check_choice(est.solver, "solver", SOLVERS)
    if not is_classifier(est):
        check.check_choice(est.loss, "loss", REGRESSION_LOSSES)
    check_init(est.init)
    check.check_positive_int(est.max_fun, "max_fun")
    check.check_choice(est.learning_rate, "learning_rate", SCHEDULES)
    if est.batch_size != "auto":
        check.check_positive_int(est.batch_size, "batch_size")
    check.check_positive_int(est.max_iter, "max_iter")
    if est.n_iter_no_change != np.inf:
        check.check_positive_int(est.n_iter_no_change, "n_iter_no_change")
    for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping", "progress"):
        check.check_bool(params[name], name)
    for name in ("alpha", "power_t", "tol"):
        check.check_real(params[name], name, 0)
    for name in ("learning_rate_init", "epsilon"):
        check.check_real(params[name], name, 0, low_open=True)
    check.check_real(est.momentum, "momentum", 0, 1)
    for name in ("validation_fraction", "beta_1", "beta_2"):
        check.check_real(params[name], name, 0, 1, high_open=True)
    if not isinstance(est.verbose, (bool, np.bool_, numbers.Integral)):
        raise TypeError(f"verbose must be a bool or an int, got {est.verbose!r}")
    if est.dtype is not None and est.dtype not in ("float32", "float64", np.float32, np.float64):
        raise ValueError(f"dtype must be None, 'float32' or 'float64', got {est.dtype!r}")
