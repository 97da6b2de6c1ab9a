"""What ``fit`` does between epochs, shared by ``MLP`` and ``reference.MLP``:
the checks of its training arguments, the validation split, the
learning-rate schedule, the stopping rules and progress reports. The
arithmetic of an epoch (and of each optimizer) belongs to each model.
"""
import time
from dataclasses import dataclass

import numpy as np

from fastbp import _validation as check

OPTIMIZERS = ("sgd", "adam", "rprop")
SCHEDULES = ("constant", "invscaling", "step")


@dataclass(frozen=True)
class Settings:
    """The checked training arguments of one ``fit`` call (see ``MLP.fit``)."""
    optimizer: str
    lr: float
    momentum: float
    nesterov: bool
    betas: tuple
    eps: float
    etas: tuple
    step_sizes: tuple
    weight_decay: float
    schedule: str
    power_t: float
    step_every: int
    gamma: float
    patience: object
    tol: float
    restore_best: bool
    target_loss: object
    warm_start: bool
    progress: bool
    verbose: bool

    def state_key(self):
        """What optimizer state must match for warm_start to continue it."""
        return (self.optimizer, self.momentum != 0)


def _unit(value, name):
    return check.check_real(value, name, 0, 1, high_open=True)


def _positive(value, name):
    return check.check_real(value, name, 0, low_open=True)


def _pair(value, name, check_one):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers, got {value!r}")
    return tuple(check_one(v, f"{name}[{i}]") for i, v in enumerate(value))


def check_settings(dtype, batch, n_samples, *, lr, optimizer="sgd", momentum=0.0,
                   nesterov=False, betas=(0.9, 0.999), eps=1e-8, etas=(0.5, 1.2),
                   step_sizes=(1e-6, 50.0), weight_decay=0.0, schedule="constant",
                   power_t=0.5, step_every=10, gamma=0.5, patience=None, tol=0.0,
                   restore_best=False, target_loss=None, warm_start=False, progress=False,
                   verbose=False):
    """Settings from fit's arguments, or the error naming the first bad one.
    The defaults are MLP.fit's (the reference passes only what it is given)."""
    optimizer = check.check_choice(optimizer, "optimizer", OPTIMIZERS)
    if optimizer == "rprop" and batch < n_samples:
        raise ValueError("optimizer 'rprop' is full-batch only (iRprop- follows the sign "
                         "of the whole gradient): use batch_size=None")
    etas = _pair(etas, "etas", _positive)
    step_sizes = _pair(step_sizes, "step_sizes", _positive)
    if not etas[0] < 1 < etas[1]:
        raise ValueError(f"etas must be (eta_minus, eta_plus) with 0 < eta_minus < 1 < "
                         f"eta_plus, got {etas!r}")
    if not step_sizes[0] <= step_sizes[1]:
        raise ValueError(f"step_sizes must be (min, max) with min <= max, got {step_sizes!r}")
    nesterov = check.check_bool(nesterov, "nesterov")
    momentum = _unit(momentum, "momentum")
    if nesterov and momentum == 0:
        raise ValueError("nesterov=True needs a momentum > 0")
    return Settings(
        optimizer=optimizer, lr=check.check_lr(lr, dtype), momentum=momentum,
        nesterov=nesterov, betas=_pair(betas, "betas", _unit),
        eps=_positive(eps, "eps"), etas=etas, step_sizes=step_sizes,
        weight_decay=check.check_real(weight_decay, "weight_decay", 0),
        schedule=check.check_choice(schedule, "schedule", SCHEDULES),
        power_t=check.check_real(power_t, "power_t", 0),
        step_every=check.check_positive_int(step_every, "step_every"),
        gamma=check.check_real(gamma, "gamma", 0, 1, low_open=True),
        patience=None if patience is None else check.check_positive_int(patience, "patience"),
        tol=check.check_real(tol, "tol", 0),
        restore_best=check.check_bool(restore_best, "restore_best"),
        target_loss=None if target_loss is None else check.check_real(target_loss,
                                                                       "target_loss"),
        warm_start=check.check_bool(warm_start, "warm_start"),
        progress=check.check_bool(progress, "progress"),
        verbose=check.check_bool(verbose, "verbose"))


def scheduled_lr(settings, epoch):
    """The learning rate of epoch ``epoch`` (0 for the first ever trained
    with this optimizer state): constant; "invscaling" lr / (epoch + 1)^power_t;
    "step" lr * gamma^(epoch // step_every)."""
    if settings.schedule == "invscaling":
        return settings.lr / (epoch + 1) ** settings.power_t
    if settings.schedule == "step":
        return settings.lr * settings.gamma ** (epoch // settings.step_every)
    return settings.lr


@dataclass
class Data:
    """Training samples (arrays in the model's dtype) and validation samples."""
    X: np.ndarray
    Y: np.ndarray
    weight: object          # None or (n,) array
    X_val: object = None
    Y_val: object = None


def prepare_data(samples, dtype, X, Y, sample_weight, validation_data,
                 validation_fraction, seed):
    """Checked arrays for fit. ``samples(X, Y)`` is the model's own check of
    a data set. ``validation_fraction`` holds out that share of the samples,
    drawn with ``numpy.random.default_rng(seed)``; the rest keep their order."""
    X, Y = samples(X, Y)
    weight = check.as_sample_weight(sample_weight, X.shape[0], dtype)
    if validation_data is not None and validation_fraction is not None:
        raise ValueError("give validation_data or validation_fraction, not both")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, Y_val)")
        X_val, Y_val = samples(*validation_data)
        return Data(X, Y, weight, X_val, Y_val)
    if validation_fraction is None:
        return Data(X, Y, weight)
    fraction = check.check_real(validation_fraction, "validation_fraction", 0, 1,
                                low_open=True, high_open=True)
    n_val = int(round(fraction * X.shape[0]))
    if not 0 < n_val < X.shape[0]:
        raise ValueError(f"validation_fraction={fraction} of {X.shape[0]} samples leaves "
                         "no training or no validation sample")
    held = np.zeros(X.shape[0], bool)
    held[np.random.default_rng(seed).permutation(X.shape[0])[:n_val]] = True
    keep = ~held
    return Data(X[keep], Y[keep], None if weight is None else weight[keep], X[held], Y[held])


class Stopping:
    """The stopping rules: early stopping on the monitored loss (validation
    loss when there is one, else training loss) after ``patience`` epochs
    without an improvement of more than ``tol``, and ``target_loss`` on the
    training loss. Keeps a copy of the best parameters when restore_best."""

    def __init__(self, settings, get_params):
        self.settings = settings
        self.get_params = get_params
        self.best = np.inf
        self.best_params = None
        self.waited = 0

    def update(self, history):
        """Records the epoch just ended; returns the reason to stop, or None."""
        s = self.settings
        if s.patience is not None or s.restore_best:
            monitored = (history.val_loss or history.loss)[-1]
            if monitored < self.best - s.tol:
                self.best, self.waited = monitored, 0
                history.best_epoch = history.n_epochs
                if s.restore_best:
                    self.best_params = self.get_params()
            else:
                self.waited += 1
            if s.patience is not None and self.waited >= s.patience:
                return "early_stopping"
        if s.target_loss is not None and history.loss[-1] < s.target_loss:
            return "target_loss"
        return None


def run_epochs(history, settings, epochs, first_epoch, n_samples, run_epoch,
               validation_loss, get_params, set_params):
    """The epoch loop: for each epoch, ``run_epoch(epoch, lr)`` trains and
    returns the epoch's mean loss, ``validation_loss()`` (or None) measures
    after it; History, progress and stopping rules are kept up to date.
    ``first_epoch`` counts the epochs already trained (the schedule goes on)."""
    from fastbp._progress import make_reporter
    reporter = make_reporter(epochs, n_samples, settings.progress, settings.verbose)
    stopping = Stopping(settings, get_params)
    start = time.perf_counter()
    try:
        for epoch in range(1, epochs + 1):
            lr = scheduled_lr(settings, first_epoch + epoch - 1)
            history.loss.append(run_epoch(epoch, lr))
            history.lr.append(lr)
            if validation_loss is not None:
                history.val_loss.append(validation_loss())
            history.epoch_time.append(time.perf_counter() - start)
            if reporter is not None:
                reporter.epoch_end(epoch, history.loss[-1],
                                   history.val_loss[-1] if history.val_loss else None,
                                   history.epoch_time[-1])
            reason = stopping.update(history)
            if reason:
                history.stop_reason = reason
                break
    finally:
        history.wall_time = time.perf_counter() - start
        if reporter is not None:
            reporter.close()
    if stopping.best_params is not None:
        set_params(stopping.best_params)
    return history
