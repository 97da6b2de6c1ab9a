"""The epoch loop of ``fit`` (``MLP.fit``, and through it the scikit-learn
estimators and the command line): the learning-rate schedule, the stopping
rules, the per-epoch callback and progress reports. The arithmetic of an
epoch belongs to the model; ``fastbp.reference`` has a loop of its own.
"""
import time

import numpy as np

from fastbp import _validation as check
from fastbp import optim


def scheduled_lr(settings, epoch):
    """The learning rate of epoch ``epoch`` (0 for the first ever trained
    with this optimizer state), by the schedules of ``fastbp.optim``."""
    schedule, lr = settings.schedule, settings.optimizer.lr
    if isinstance(schedule, optim.Constant):
        return lr
    if isinstance(schedule, optim.InvScaling):
        return lr / (epoch + 1) ** schedule.power_t
    if isinstance(schedule, optim.Step):
        return lr * schedule.gamma ** (epoch // schedule.every)
    return check.check_lr(schedule(epoch), name=f"the schedule's rate of epoch {epoch}")


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


class EpochLog:
    """The end of each epoch of a fit, for any loop that trains epoch by
    epoch: History, progress and the stopping rules are brought up to date,
    then ``settings.callback(history)`` is called. ``validation_loss()`` (or
    None) measures the model after an epoch."""

    def __init__(self, history, settings, epochs, n_samples, validation_loss, get_params):
        from fastbp._progress import make_reporter
        self.history, self.settings, self.validation_loss = history, settings, validation_loss
        self.reporter = make_reporter(epochs, n_samples, settings.progress, settings.verbose)
        self.stopping = Stopping(settings, get_params)
        self.start = time.perf_counter()

    def end_epoch(self, epoch, loss, lr):
        """Records epoch ``epoch`` (from 1), its training loss and learning
        rate; returns the reason to stop (also set as the History's), or None."""
        history = self.history
        history.loss.append(loss)
        history.lr.append(lr)
        if self.validation_loss is not None:
            history.val_loss.append(self.validation_loss())
        history.epoch_time.append(time.perf_counter() - self.start)
        if self.reporter is not None:
            self.reporter.epoch_end(epoch, loss, history.val_loss[-1] if history.val_loss
                                    else None, history.epoch_time[-1])
        reason = self.stopping.update(history)
        if self.settings.callback is not None and self.settings.callback(history):
            reason = reason or "callback"
        if reason:
            history.stop_reason = reason
        return reason

    def close(self):
        """Ends the fit's timing and progress report (also after an error)."""
        self.history.wall_time = time.perf_counter() - self.start
        if self.reporter is not None:
            self.reporter.close()

    def best_params(self):
        """The parameters to end with when restore_best kept some, else None."""
        return self.stopping.best_params


def run_epochs(history, settings, epochs, first_epoch, n_samples, run_epoch,
               validation_loss, get_params, set_params):
    """The epoch loop: for each epoch, ``run_epoch(epoch, lr)`` trains and
    returns the epoch's mean loss, then ``EpochLog.end_epoch`` records it
    and may stop training. ``first_epoch`` counts the epochs already trained
    (the schedule goes on)."""
    log = EpochLog(history, settings, epochs, n_samples, validation_loss, get_params)
    try:
        for epoch in range(1, epochs + 1):
            lr = scheduled_lr(settings, first_epoch + epoch - 1)
            if log.end_epoch(epoch, run_epoch(epoch, lr), lr):
                break
    finally:
        log.close()
    if log.best_params() is not None:
        set_params(log.best_params())
    return history
