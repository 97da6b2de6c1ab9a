"""History: what a call to ``fit`` measured."""
from dataclasses import dataclass, field


@dataclass
class History:
    """What ``fit`` measured.

    Attributes
    ----------
    loss : list of float
        Per epoch, the mean over samples of each sample's loss measured
        during the epoch, before that sample's (or its batch's) update, as
        FANN and Keras report it: no extra pass over the data.
    wall_time : float
        Seconds spent in ``fit``.
    """
    loss: list = field(default_factory=list)
    wall_time: float = 0.0

    @property
    def n_epochs(self):
        return len(self.loss)
