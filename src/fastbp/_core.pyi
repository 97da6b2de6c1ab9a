"""Type stub of the compiled module fastbp._core (src/fastbp/_core.pyx).

Keep it in step with _core.pyx: names, parameter names and order. Cython's
fused ``floating`` is the constrained type variable ``_F``: every array
argument of one call has the same float type, float32 or float64.
"""
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
from typing_extensions import Self

_F = TypeVar("_F", np.float32, np.float64)

ACTIVATIONS: Final[dict[str, int]]
LOSSES: Final[dict[str, int]]
PATHS: Final[tuple[str, str, str]]

def supported_paths() -> list[str]: ...
def select_path(name: str) -> None: ...
def current_path() -> str: ...

class Topology:
    # Cython's __cinit__: the arguments go to __new__.
    def __new__(
        cls,
        sizes: npt.NDArray[np.intp],
        w_offsets: npt.NDArray[np.intp],
        b_offsets: npt.NDArray[np.intp],
        activations: npt.NDArray[np.intc],
        loss: int,
    ) -> Self: ...
    @property
    def sizes(self) -> npt.NDArray[np.intp]: ...
    @property
    def w_offsets(self) -> npt.NDArray[np.intp]: ...
    @property
    def b_offsets(self) -> npt.NDArray[np.intp]: ...
    @property
    def activations(self) -> npt.NDArray[np.intc]: ...
    @property
    def workspace_size(self) -> int: ...

def fit(
    top: Topology,
    params: npt.NDArray[_F],
    X: npt.NDArray[_F],
    Y: npt.NDArray[_F],
    order: npt.NDArray[np.intp],
    batch_size: int,
    lr: float,
    update_biases: bool,
    check_params: bool,
    workspace: npt.NDArray[_F],
    grad: npt.NDArray[_F],
) -> tuple[float, int]: ...
def predict(
    top: Topology,
    params: npt.NDArray[_F],
    X: npt.NDArray[_F],
    out: npt.NDArray[_F],
    workspace: npt.NDArray[_F],
) -> None: ...
def loss_sum(
    top: Topology,
    params: npt.NDArray[_F],
    X: npt.NDArray[_F],
    Y: npt.NDArray[_F],
    workspace: npt.NDArray[_F],
) -> float: ...
def gradient(
    top: Topology,
    params: npt.NDArray[_F],
    x: npt.NDArray[_F],
    t: npt.NDArray[_F],
    workspace: npt.NDArray[_F],
    grad: npt.NDArray[_F],
) -> float: ...
