"""Type stub of the compiled module fastbp._core (src/fastbp/_core.pyx and
the _core_*.pxi files it includes).

Keep it in step with them: names, parameter names and order. Cython's
fused ``floating`` is the constrained type variable ``_F``: every array
argument of one call has the same float type, float32 or float64.
"""
from contextlib import AbstractContextManager
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
from typing_extensions import Self

_F = TypeVar("_F", np.float32, np.float64)

ACTIVATION_CODES: Final[tuple[int, ...]]
LOSS_CODES: Final[tuple[int, ...]]
OPTIMIZER_CODES: Final[tuple[int, ...]]
PATHS: Final[tuple[str, str, str]]
ROWS_MIN: Final[int]

def supported_paths() -> list[str]: ...
def select_path(name: str) -> None: ...
def current_path() -> str: ...
def set_matrix_path(enabled: bool) -> None: ...
def matrix_path_enabled() -> bool: ...
def set_special_paths(enabled: bool) -> None: ...
def special_paths_enabled() -> bool: ...

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
    def n_params(self) -> int: ...
    @property
    def workspace_size(self) -> int: ...
    @property
    def chunk_rows(self) -> int: ...
    def takes_matrix_path(self, rows: int) -> bool: ...

def limit_blas(n: int) -> AbstractContextManager[object]: ...
def blas_threads(top: Topology, rows: int, n_jobs: int) -> AbstractContextManager[object]: ...

class Optimizer:
    def __new__(
        cls,
        kind: int,
        lr: float,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        nesterov: bool = False,
        beta1: float = 0.0,
        beta2: float = 0.0,
        eps: float = 0.0,
        eta_minus: float = 0.0,
        eta_plus: float = 0.0,
        step_min: float = 0.0,
        step_max: float = 0.0,
    ) -> Self: ...
    @property
    def lr(self) -> float: ...
    @lr.setter
    def lr(self, value: float) -> None: ...
    @property
    def plain_sgd(self) -> bool: ...
    @property
    def state_blocks(self) -> int: ...

class FitOptions:
    def __new__(
        cls, optimizer: Optimizer, batch_size: int, loss_scale: float, update_biases: bool
    ) -> Self: ...
    @property
    def optimizer(self) -> Optimizer: ...
    @optimizer.setter
    def optimizer(self, optimizer: Optimizer) -> None: ...
    @property
    def batch_done(self) -> int: ...
    @batch_done.setter
    def batch_done(self, done: int) -> None: ...
    @property
    def finish(self) -> bool: ...
    @finish.setter
    def finish(self, finish: bool) -> None: ...
    @property
    def check_params(self) -> bool: ...
    @check_params.setter
    def check_params(self, check: bool) -> None: ...
    @property
    def needs_grad(self) -> bool: ...

def fit(
    top: Topology,
    options: FitOptions,
    params: npt.NDArray[_F],
    X: npt.NDArray[_F],
    Y: npt.NDArray[_F],
    sample_weight: npt.NDArray[_F],
    order: npt.NDArray[np.intp],
    workspace: npt.NDArray[_F],
    grad: npt.NDArray[_F],
    state: npt.NDArray[_F],
    n_updates: int,
) -> tuple[float, int, int]: ...
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

STEP_OK: Final[int]
STEP_DIVERGED: Final[int]
STEP_BAD_INPUT: Final[int]
STEP_NOT_FAST: Final[int]

class Stepper:
    @property
    def loss(self) -> float: ...
    @property
    def n_updates(self) -> int: ...
    @property
    def output(self) -> npt.NDArray[np.floating] | None: ...
    # Cython's __cinit__: the arguments go to __new__.
    def __new__(cls, top: Topology, params: npt.NDArray[_F],
                workspace: npt.NDArray[_F], undo: npt.NDArray[_F], lock: object,
                lr_low: float, lr_high: float) -> Self: ...
    def step(
        self,
        x: object,
        t: object,
        optimizer: Optimizer,
        lr: float,
        update_biases: bool,
        grad: npt.NDArray[_F] | None,
        state: npt.NDArray[_F] | None,
        undo: npt.NDArray[_F],
        n_updates: int,
        want_output: bool,
    ) -> int: ...
class OneSampleCalls:
    _stepper: Stepper | None
    def predict(self, X: object, n_jobs: int = 1) -> npt.NDArray[np.floating]: ...
    def train_step(
        self, x: object, t: object, lr: float | None = None, update_biases: bool = True,
        *, optimizer: object = "sgd"
    ) -> float: ...
    def learn_one(
        self, x: object, t: object, lr: float | None = None, update_biases: bool = True,
        *, optimizer: object = "sgd"
    ) -> npt.NDArray[np.floating]: ...
def fit_csr(
    top: Topology,
    options: FitOptions,
    params: npt.NDArray[_F],
    data: npt.NDArray[_F],
    indices: npt.NDArray[np.intp],
    indptr: npt.NDArray[np.intp],
    Y: npt.NDArray[_F],
    sample_weight: npt.NDArray[_F],
    order: npt.NDArray[np.intp],
    workspace: npt.NDArray[_F],
    grad: npt.NDArray[_F],
    state: npt.NDArray[_F],
    n_updates: int,
) -> tuple[float, int, int]: ...
def predict_csr(
    top: Topology,
    params: npt.NDArray[_F],
    data: npt.NDArray[_F],
    indices: npt.NDArray[np.intp],
    indptr: npt.NDArray[np.intp],
    out: npt.NDArray[_F],
    workspace: npt.NDArray[_F],
) -> None: ...
def loss_sum_csr(
    top: Topology,
    params: npt.NDArray[_F],
    data: npt.NDArray[_F],
    indices: npt.NDArray[np.intp],
    indptr: npt.NDArray[np.intp],
    Y: npt.NDArray[_F],
    workspace: npt.NDArray[_F],
) -> float: ...
class EntryCalls:
    # Cython's __cinit__: the arguments go to __new__.
    def __new__(cls, top: Topology, params: npt.NDArray[_F], workspace: npt.NDArray[_F],
                lock: object) -> Self: ...
    def predict(self, x: dict[Any, Any], position: dict[Any, int]) -> npt.NDArray[np.floating]: ...
    def sgd(self, x: dict[Any, Any], position: dict[Any, int], t: object, lr: float) -> bool: ...
