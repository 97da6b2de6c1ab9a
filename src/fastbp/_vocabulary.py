"""The names fastbp knows, each written once: activations, losses, optimizers,
schedules and initialisations, with the codes the compiled core gives them, and the defaults
of ``fit``'s options (those of an optimizer or a schedule are its class's, in
``fastbp.optim``). Read by the core wrapper, validation, the reference, the
trace, the command line and the scikit-learn estimators.
"""
from fastbp import _core

# In the order of the C enums (csrc/fbp_kernels.h): zip pairs them with codes.
ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "exp")
LOSSES = ("squared_error", "binary_cross_entropy", "cross_entropy", "poisson")
OPTIMIZERS = ("sgd", "adam", "rprop")
# MLP.fit's optimizers with no compiled update rule: full-batch, driven from
# Python through the compiled loss and gradient (fastbp._lbfgs).
FULL_BATCH_OPTIMIZERS = ("lbfgs",)
SCHEDULES = ("constant", "invscaling", "step")
# Schemes of the initial parameters (fastbp._random; formulas in MLP's docstring).
INITS = ("auto", "glorot_uniform", "he_uniform", "sklearn")

# Softmax couples the units of its layer: only the output layer may use it.
OUTPUT_ONLY = "softmax"
HIDDEN_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a != OUTPUT_ONLY)
# Output activation each log loss is defined for.
LOSS_OUTPUT = {"binary_cross_entropy": "sigmoid", "cross_entropy": OUTPUT_ONLY,
               "poisson": "exp"}



def pairs(names, values):
    """{name: value}, refusing lists of different lengths (zip's strict=True,
    which Python 3.9 lacks)."""
    if len(names) != len(values):
        raise ImportError(f"{len(names)} names {names} for {len(values)} values")
    return dict(zip(names, values))


ACTIVATION_CODES = pairs(ACTIVATIONS, _core.ACTIVATION_CODES)
LOSS_CODES = pairs(LOSSES, _core.LOSS_CODES)
OPTIMIZER_CODES = pairs(OPTIMIZERS, _core.OPTIMIZER_CODES)


class FIT:
    """The defaults of ``fit``'s options, for ``MLP.fit`` and
    ``reference.MLP.fit`` (see ``MLP.fit`` for their meaning)."""
    epochs = 1
    lr = None               # the optimizer's own
    batch_size = 1
    shuffle = True
    seed = None
    update_biases = True
    optimizer = "sgd"
    schedule = "constant"
    sample_weight = None
    validation_data = None
    validation_fraction = None
    patience = None
    tol = 0.0
    restore_best = False
    target_loss = None
    warm_start = False
    progress = False
    verbose = False
    callback = None
    n_jobs = 1
