"""History: what a call to ``fit`` measured."""
from dataclasses import dataclass, field


@dataclass
class History:
    """What ``fit`` measured, epoch by epoch.

    Attributes
    ----------
    loss : list of float
        Per epoch, the mean over samples of each sample's loss measured
        during the epoch, before that sample's (or its batch's) update, as
        FANN and Keras report it: no extra pass over the data. With sample
        weights, the weighted sum divided by the number of samples.
    val_loss : list of float
        Per epoch, the mean loss on the validation data after the epoch;
        empty without validation data.
    lr : list of float
        The learning rate of each epoch (after the schedule); NaN for
        L-BFGS, whose line search chooses each step.
    epoch_time : list of float
        Seconds from the start of ``fit`` to the end of each epoch.
    wall_time : float
        Seconds spent in ``fit``.
    best_epoch : int or None
        With early stopping: the epoch (1-based) of the best monitored loss.
    stop_reason : str
        Why training ended: "epochs", "early_stopping", "target_loss" or
        "callback" (fit's callback returned True); for L-BFGS, whose epochs
        are its iterations, "converged", "max_iter", "max_fun" or
        "abnormal" (SciPy's line search found no lower loss) instead of
        "epochs".
    """
    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    wall_time: float = 0.0
    best_epoch: object = None
    stop_reason: str = "epochs"

    @property
    def n_epochs(self):
        """Epochs completed."""
        return len(self.loss)

    def plot(self, ax=None):
        """Draw the training (and validation) loss per epoch with matplotlib;
        returns the Axes. Needs matplotlib (``pip install "fastbp[plot]"``)."""
        from fastbp.plot import plot_history
        return plot_history(self, ax=ax)
