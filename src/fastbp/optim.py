"""Optimizers and learning-rate schedules for ``fit``, as ``torch.optim`` users
know them: small objects that check their arguments when built and own their
defaults.

>>> from fastbp import optim
>>> optim.SGD(lr=0.05, momentum=0.9)
SGD(lr=0.05, momentum=0.9, nesterov=False, weight_decay=0.0, decay_biases=True)
>>> optim.Adam() == optim.Adam(lr=1e-3)
True

``fit(optimizer=..., schedule=...)`` takes these objects or their names
("sgd", "adam", "rprop", "lbfgs"; "constant", "invscaling", "step"), a name
meaning the class with its defaults. ``LBFGS`` is full-batch L-BFGS through
SciPy, scikit-learn's ``solver="lbfgs"``. The update rules are written out in
csrc/fbp_kernels.h; ``fastbp.reference`` implements them again in plain
Python. Weight decay adds ``weight_decay * param`` to each gradient (biases
included, as torch.optim does, unless ``decay_biases=False``: scikit-learn's
``alpha`` decays the weights alone).
"""
import numpy as np

from fastbp import _validation as check
from fastbp import _vocabulary as vocabulary


class _Value:
    """Arguments kept as attributes in the constructor's order, shown by
    repr and compared by ==; ``name`` is the vocabulary's."""
    name = None
    _fields = ()

    def params(self):
        """The constructor arguments, as a dict."""
        return {f: getattr(self, f) for f in self._fields}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.params() == other.params()

    def __hash__(self):
        return hash((type(self), tuple(self.params().values())))


def _unit(value, name):
    """A float in [0, 1)."""
    return check.check_real(value, name, 0, 1, high_open=True)


def _positive(value, name):
    return check.check_real(value, name, 0, low_open=True)


def _pair(value, name, check_one):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers, got {value!r}")
    return tuple(check_one(v, f"{name}[{i}]") for i, v in enumerate(value))


# -- optimizers ----------------------------------------------------------------

class Optimizer(_Value):
    """What every optimizer has: a learning rate and L2 weight decay, of
    every parameter or (``decay_biases=False``) of the weights alone.

    Attributes
    ----------
    state : tuple of str
        The buffers of n_params values the rule keeps from update to update
        (torch.optim's names); ``warm_start`` continues them only for an
        optimizer of the same name keeping the same buffers.
    """
    state = ()

    def __init__(self, lr, weight_decay, decay_biases):
        self.lr = check.check_lr(lr)
        self.weight_decay = check.check_real(weight_decay, "weight_decay", 0)
        self.decay_biases = check.check_bool(decay_biases, "decay_biases")

    def state_key(self):
        """What a previous fit's optimizer state must match to be continued."""
        return (self.name, self.state)

    def initial_state(self):
        """The value each buffer of ``state`` starts at."""
        return (0.0,) * len(self.state)

    def check_batch(self, batch, n_samples):
        """Raises if the rule cannot train with batches of ``batch`` samples."""

    def core_fields(self):
        """The fields of the C struct fbp_optimizer_options beyond lr and
        weight_decay."""
        return dict(weights_only_decay=not self.decay_biases, **self._rule_fields())

    def _rule_fields(self):
        """The rule's own fields of fbp_optimizer_options."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD`` without dampening:
    b := momentum b + g, then params -= lr (g + momentum b) with Nesterov,
    lr b without (lr g when momentum is 0).

    Parameters
    ----------
    lr : float, default 0.1
    momentum : float in [0, 1), default 0.0
    nesterov : bool, default False
        Needs momentum > 0.
    weight_decay : float >= 0, default 0.0
    decay_biases : bool, default True
    """
    _fields = ("lr", "momentum", "nesterov", "weight_decay", "decay_biases")

    def __init__(self, lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0,
                 decay_biases=True):
        super().__init__(lr, weight_decay, decay_biases)
        self.momentum = _unit(momentum, "momentum")
        self.nesterov = check.check_bool(nesterov, "nesterov")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0")
        self.state = ("momentum_buffer",) if self.momentum else ()

    def _rule_fields(self):
        return dict(momentum=self.momentum, nesterov=self.nesterov)


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``: moments m and v of the gradient,
    corrected for their start at 0; eps is added to the corrected root.

    Parameters
    ----------
    lr : float, default 1e-3
    betas : (float, float) in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
    weight_decay : float >= 0, default 0.0
    decay_biases : bool, default True
    """
    _fields = ("lr", "betas", "eps", "weight_decay", "decay_biases")
    state = ("exp_avg", "exp_avg_sq")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decay_biases=True):
        super().__init__(lr, weight_decay, decay_biases)
        self.betas = _pair(betas, "betas", _unit)
        self.eps = _positive(eps, "eps")

    def _rule_fields(self):
        return dict(beta1=self.betas[0], beta2=self.betas[1], eps=self.eps)


class Rprop(Optimizer):
    """Resilient backpropagation (iRprop-), as ``torch.optim.Rprop``: a step
    size per parameter, times eta_plus while the gradient keeps its sign,
    times eta_minus when it flips (that gradient then counts as 0), within
    step_sizes. Full-batch only: it follows the sign of the whole gradient.

    Parameters
    ----------
    lr : float, default 0.01
        The initial step size.
    etas : (eta_minus, eta_plus), default (0.5, 1.2)
        0 < eta_minus < 1 < eta_plus.
    step_sizes : (min, max), default (1e-6, 50.0)
    weight_decay : float >= 0, default 0.0
    decay_biases : bool, default True
    """
    _fields = ("lr", "etas", "step_sizes", "weight_decay", "decay_biases")
    state = ("prev", "step_size")

    def __init__(self, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), weight_decay=0.0,
                 decay_biases=True):
        super().__init__(lr, weight_decay, decay_biases)
        self.etas = _pair(etas, "etas", _positive)
        self.step_sizes = _pair(step_sizes, "step_sizes", _positive)
        if not self.etas[0] < 1 < self.etas[1]:
            raise ValueError(f"etas must be (eta_minus, eta_plus) with 0 < eta_minus < 1 < "
                             f"eta_plus, got {etas!r}")
        if not self.step_sizes[0] <= self.step_sizes[1]:
            raise ValueError(f"step_sizes must be (min, max) with min <= max, got {step_sizes!r}")

    def initial_state(self):
        return (0.0, self.lr)

    def check_batch(self, batch, n_samples):
        if batch < n_samples:
            raise ValueError("optimizer 'rprop' is full-batch only (iRprop- follows the sign "
                             "of the whole gradient): use batch_size=None")

    def _rule_fields(self):
        return dict(eta_minus=self.etas[0], eta_plus=self.etas[1],
                    step_min=self.step_sizes[0], step_max=self.step_sizes[1])


class LBFGS(_Value):
    """Full-batch L-BFGS, as scikit-learn's ``solver="lbfgs"``: SciPy's
    L-BFGS-B minimises the mean loss plus weight_decay / 2 * |params|^2 (the
    weights' squares alone with ``decay_biases=False``), whose value and
    gradient over all the samples come from one compiled call
    (fastbp._lbfgs). It chooses each step by a line search: no learning rate.

    Parameters
    ----------
    max_iter : int >= 1, default 200
        The most iterations (SciPy's ``maxiter``); ``fit`` records one
        History entry per iteration.
    tol : float >= 0, default 1e-4
        Converged once no gradient component exceeds tol in magnitude
        (SciPy's ``gtol``; SciPy also stops when the loss falls by a relative
        2.2e-9 or less, its ``ftol``).
    max_fun : int >= 1, default 15000
        The most loss and gradient evaluations (SciPy's ``maxfun``); an
        iteration takes one or more.
    m : int >= 1, default 10
        Correction pairs kept (SciPy's ``maxcor``).
    weight_decay : float >= 0, default 0.0
    decay_biases : bool, default True

    Notes
    -----
    ``MLP.fit`` takes it for full-batch training only (``batch_size=None``),
    with ``epochs=1`` (max_iter counts the iterations), no ``lr``, the
    constant schedule and ``update_biases=True``; ``shuffle`` changes nothing
    but rounding (the gradient sums every sample). Each call starts a new
    L-BFGS run from the model's parameters: the curvature pairs are not kept,
    so ``warm_start`` is accepted and changes nothing, and an L-BFGS fit leaves
    no optimizer state for a later warm start. The defaults are
    scikit-learn's.
    """
    _fields = ("max_iter", "tol", "max_fun", "m", "weight_decay", "decay_biases")

    def __init__(self, max_iter=200, tol=1e-4, max_fun=15000, m=10, weight_decay=0.0,
                 decay_biases=True):
        self.max_iter = check.check_positive_int(max_iter, "max_iter")
        self.tol = check.check_real(tol, "tol", 0)
        self.max_fun = check.check_positive_int(max_fun, "max_fun")
        self.m = check.check_positive_int(m, "m")
        self.weight_decay = check.check_real(weight_decay, "weight_decay", 0)
        self.decay_biases = check.check_bool(decay_biases, "decay_biases")

    def check_batch(self, batch, n_samples):
        """Raises unless ``batch`` covers every sample."""
        if batch < n_samples:
            raise ValueError("optimizer 'lbfgs' is full-batch only (it minimises the loss "
                             "of all the samples): use batch_size=None")


# -- learning-rate schedules: the rate of epoch e (from 0) ----------------------

class Schedule(_Value):
    """A learning-rate schedule: the rate of each epoch from the optimizer's lr."""


class Constant(Schedule):
    """lr every epoch."""


class InvScaling(Schedule):
    """lr / (e + 1)^power_t.

    Parameters
    ----------
    power_t : float >= 0, default 0.5
    """
    _fields = ("power_t",)

    def __init__(self, power_t=0.5):
        self.power_t = check.check_real(power_t, "power_t", 0)


class Step(Schedule):
    """lr * gamma^(e // every), as ``torch.optim.lr_scheduler.StepLR``.

    Parameters
    ----------
    every : int >= 1, default 10
    gamma : float in (0, 1], default 0.5
    """
    _fields = ("every", "gamma")

    def __init__(self, every=10, gamma=0.5):
        self.every = check.check_positive_int(every, "every")
        self.gamma = check.check_real(gamma, "gamma", 0, 1, low_open=True)


OPTIMIZERS = vocabulary.pairs(vocabulary.OPTIMIZERS, (SGD, Adam, Rprop))
FULL_BATCH_OPTIMIZERS = vocabulary.pairs(vocabulary.FULL_BATCH_OPTIMIZERS, (LBFGS,))
SCHEDULES = vocabulary.pairs(vocabulary.SCHEDULES, (Constant, InvScaling, Step))
for _name, _cls in {**OPTIMIZERS, **FULL_BATCH_OPTIMIZERS, **SCHEDULES}.items():
    _cls.name = _name


def _remade(value, kind, classes, changes):
    """A new, checked object of the class named by value, or of value's class
    with its arguments; ``changes`` replace some of them."""
    if isinstance(value, str):
        cls, args = classes[check.check_choice(value, kind, tuple(classes))], {}
    elif isinstance(value, tuple(classes.values())):
        cls, args = type(value), value.params()
    else:
        raise TypeError(f"{kind} must be a name ({', '.join(classes)}) or a fastbp.optim."
                        f"{kind.capitalize()}, got {value!r}")
    return cls(**{**args, **changes})


def as_optimizer(optimizer, lr=None, dtype=np.float64, full_batch=False):
    """A checked optimizer from a name or an object; ``lr``, when not None,
    replaces its learning rate, which must stay positive in ``dtype``.
    ``full_batch`` also takes ``FULL_BATCH_OPTIMIZERS`` (``MLP.fit``'s LBFGS,
    which has no learning rate).

    >>> as_optimizer("adam", lr=0.01)
    Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, decay_biases=True)
    """
    classes = {**OPTIMIZERS, **FULL_BATCH_OPTIMIZERS} if full_batch else OPTIMIZERS
    optimizer = _remade(optimizer, "optimizer", classes, {})
    if not isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError(f"optimizer {optimizer.name!r} takes no lr (its line search "
                             f"chooses each step), got lr={lr!r}")
        return optimizer
    if lr is not None:
        optimizer = _remade(optimizer, "optimizer", classes, {"lr": lr})
    check.check_lr(optimizer.lr, dtype)
    return optimizer


def as_schedule(schedule):
    """A checked schedule from a name or an object; a callable ``f(epoch)``
    giving each epoch's learning rate itself is passed through."""
    if callable(schedule) and not isinstance(schedule, type):
        return schedule
    return _remade(schedule, "schedule", SCHEDULES, {})
