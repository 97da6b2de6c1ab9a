"""Checks of arguments and arrays, shared by ``MLP`` and ``reference.MLP`` so
both accept and reject the same inputs. Every check runs before any state
changes; every message names the argument and what is wrong with it.
"""
import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fastbp._sparse import SparseRows, is_sparse
from fastbp._vocabulary import ACTIVATIONS, LOSS_OUTPUT, LOSSES, OUTPUT_ONLY
# Arrays up to this size are checked for NaN and infinity in a Python loop,
# which beats the NumPy calls' overhead (train_step checks two each call).
SMALL = 32
# Learning rates that are positive and finite in every supported dtype.
SAFE_LR = (1e-30, 1e30)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_sequence(value):
    """A list, tuple, range or array: ordered, unlike a set or a dict."""
    return (isinstance(value, (Sequence, np.ndarray))
            and not isinstance(value, (str, bytes)))


def check_layer_sizes(layer_sizes):
    """Tuple of ints: [n_inputs, hidden..., n_outputs], at least 2, each >= 1."""
    if not _is_sequence(layer_sizes):
        raise TypeError("layer_sizes must be a sequence (a list or tuple) of ints, in "
                        f"order, got {type(layer_sizes).__name__} {layer_sizes!r}")
    if len(layer_sizes) < 2:
        raise ValueError("layer_sizes needs at least 2 entries (inputs and outputs), "
                         f"got {list(layer_sizes)}")
    for size in layer_sizes:
        if not _is_int(size):
            raise TypeError(f"layer_sizes must hold ints, got {size!r} in {list(layer_sizes)}")
        if size < 1:
            raise ValueError(f"layer_sizes must be >= 1 each, got {list(layer_sizes)}")
    return tuple(int(s) for s in layer_sizes)


def _check_activation_name(name):
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
    return name


def check_activations(activation, output_activation, n_layers):
    """One activation name per weight layer.

    ``activation`` is a name for every hidden layer, or a sequence with one
    name per weight layer; ``output_activation`` (when not None) replaces the
    last layer's. Softmax is refused in a hidden layer.
    """
    if isinstance(activation, str):
        names = [activation] * n_layers
    elif _is_sequence(activation):
        names = list(activation)
        if len(names) != n_layers:
            raise ValueError(f"activation has {len(names)} names, but the network has "
                             f"{n_layers} weight layers")
    else:
        raise TypeError("activation must be a name or a list of names, one per layer, got "
                        f"{type(activation).__name__} {activation!r}")
    if output_activation is not None:
        names[-1] = output_activation
    names = [_check_activation_name(n) for n in names]
    if OUTPUT_ONLY in names[:-1]:
        raise ValueError(f"{OUTPUT_ONLY} is only allowed in the output layer, "
                         f"got activations {names}")
    return tuple(names)


def check_loss(loss, output_activation):
    """The loss name, refused where it makes no sense for the output layer."""
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
    needed = LOSS_OUTPUT.get(loss)
    if needed is not None and output_activation != needed:
        raise ValueError(f"loss {loss!r} needs a {needed} output layer, "
                         f"got output activation {output_activation!r}")
    return loss


def check_memory(sizes, bias, dtype):
    """Refuses layer sizes whose network needs more memory than this machine
    has, before anything is allocated, saying how much it would need."""
    n_weights = sum(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    n_params = n_weights + (sum(sizes[1:]) if bias else 0)
    # MLP() at its peak holds the float64 initial weights, params, and the
    # snapshot fit restores after a divergence (fit adds its optimizer state).
    need = 8 * n_weights + 2 * n_params * np.dtype(dtype).itemsize
    have = _physical_memory()
    if have is not None and need > have:
        raise MemoryError(f"layer_sizes {list(sizes)} make a network of {n_params:,} "
                          f"parameters, which needs about {need / 2**30:,.1f} GiB of memory "
                          f"in {np.dtype(dtype).name}; this machine has "
                          f"{have / 2**30:,.1f} GiB")


def _physical_memory():
    """Bytes of RAM, or None where the OS does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_dtype(dtype):
    """np.float32 or np.float64, from a NumPy dtype, a type or a name."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def as_numeric(array, name):
    """array as a NumPy array of bool, int or float; refuses anything else,
    and a masked array with masked entries (np.asarray would drop the mask)."""
    if is_sparse(array):
        raise TypeError(f"{name} must be dense (an array-like), got a sparse matrix: only "
                        "the samples X of fit, predict and loss may be sparse")
    if isinstance(array, np.ma.MaskedArray):
        if np.ma.getmaskarray(array).any():
            raise ValueError(f"{name} is a masked array with masked entries; fill them "
                             f"({name}.filled(value)) or drop those samples first")
        array = array.data
    try:
        a = np.asarray(array)
    except ValueError:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array; its rows differ in "
                         "length") from None
    if a.dtype == object:
        if not all(isinstance(v, numbers.Real) for v in a.flat):
            raise TypeError(f"{name} must be numeric, got non-numeric values")
        a = a.astype(np.float64)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric (bool, int or float), got dtype {a.dtype}")
    return a


def _cast(a, dtype):
    """a as a C-contiguous, aligned array of dtype (the C core reads it as
    T*); values too large for dtype become inf (and are then refused by
    _check_finite) without a warning."""
    if a.dtype == dtype and a.flags.c_contiguous and a.flags.aligned:
        return a
    with np.errstate(over="ignore"):
        return np.require(a, dtype=dtype, requirements=["C", "A"])


def all_finite(a):
    """True if no entry of a is NaN or infinite."""
    # a . a is finite only if every entry is (NaN and infinity propagate), and
    # BLAS computes it at memory speed without a temporary; only when it is
    # not (bad values, or finite values whose squares overflow) does the exact
    # check run.
    flat = a.reshape(-1)
    if flat.size <= SMALL:
        return all(map(math.isfinite, flat.tolist()))
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.dot(flat, flat)):
            return True
    return bool(np.isfinite(a).all())


def _check_finite(a, name, given=None):
    """Refuses NaN and infinity in a, the cast of ``given`` (when not None):
    a finite value that became infinite overflows a's dtype."""
    if not all_finite(a):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        if given is not None and np.isfinite(given[where]):
            raise ValueError(f"{name}[{', '.join(map(str, where))}] = {float(given[where])!r} "
                             f"overflows {a.dtype.name} (largest "
                             f"{float(np.finfo(a.dtype).max):.4g}); rescale the data")
        raise ValueError(f"{name} contains NaN or infinity (first at index {where})")


def as_matrix(array, name, n_columns, dtype, what):
    """A C-contiguous (n_samples, n_columns) array of ``dtype``, checked for
    shape, emptiness and finiteness. ``what`` names the columns in messages.
    A SciPy sparse X becomes ``SparseRows`` instead (``as_sparse``)."""
    if is_sparse(array):
        return as_sparse(array, name, n_columns, dtype, what)
    a = as_numeric(array, name)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {what}), got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one sample")
    if a.shape[1] != n_columns:
        raise ValueError(f"{name} has {a.shape[1]} {what} per sample, but the network "
                         f"has {n_columns}")
    cast = _cast(a, dtype)
    _check_finite(cast, name, a)
    return cast


def as_sparse(X, name, n_columns, dtype, what):
    """A SciPy sparse X as ``SparseRows`` of ``dtype``, checked as
    ``as_matrix`` checks a dense one (its stored values for finiteness, its
    index arrays for consistency), without making it dense. Other formats
    than CSR are converted to it."""
    if isinstance(X, SparseRows) and X.shape[1] == n_columns and X.dtype == dtype:
        return X    # made by this function: checked already
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {what}), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric (bool, int or float), got dtype {X.dtype}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one sample")
    if X.shape[1] != n_columns:
        raise ValueError(f"{name} has {X.shape[1]} {what} per sample, but the network "
                         f"has {n_columns}")
    rows = SparseRows.of(X.tocsr())
    _check_csr(rows, name)
    nnz = rows.indptr[-1]
    rows.data, rows.indices = _cast(rows.data[:nnz], dtype), rows.indices[:nnz]
    if not all_finite(rows.data):
        k = int(np.argmin(np.isfinite(rows.data)))
        r = int(np.searchsorted(rows.indptr, k, side="right")) - 1
        raise ValueError(f"{name} contains NaN or infinity (first at index "
                         f"({r}, {int(rows.indices[k])}))")
    return rows


def _check_csr(rows, name):
    """The CSR arrays consistent, as the core reads them without checking
    (SciPy leaves them to its users too: ``check_format`` would modify X)."""
    indptr, indices, n_columns = rows.indptr, rows.indices, rows.shape[1]
    if (indptr.shape[0] != rows.shape[0] + 1 or indptr[0] != 0
            or indptr[-1] > min(rows.data.shape[0], indices.shape[0])
            or (np.diff(indptr) < 0).any()):
        raise ValueError(f"{name} is not a valid CSR matrix: its indptr does not "
                         "delimit its rows")
    stored = indices[:indptr[-1]]
    if stored.size and (stored.min() < 0 or stored.max() >= n_columns):
        raise ValueError(f"{name} is not a valid CSR matrix: a column index is outside "
                         f"[0, {n_columns})")


def as_targets(Y, n_samples, n_outputs, dtype, loss):
    """Targets as a (n_samples, n_outputs) array; 1-D is accepted for one output.
    Log losses need targets they are defined for."""
    a = as_numeric(Y, "Y")
    if a.ndim == 1 and n_outputs == 1:
        a = a.reshape(-1, 1)
    a = as_matrix(a, "Y", n_outputs, dtype, "outputs")
    if a.shape[0] != n_samples:
        raise ValueError(f"X and Y hold different numbers of samples: {n_samples} and "
                         f"{a.shape[0]}")
    check_target_range(a, loss)
    if loss == "squared_error":
        # Beyond sqrt(max), a sample's error squared overflows at the first
        # step: out of range, whatever the learning rate.
        limit = math.sqrt(float(np.finfo(dtype).max))
        big = max(float(a.max()), -float(a.min()))      # np.abs would copy Y
        if big > limit:
            raise ValueError(f"Y holds targets up to {big:.4g} in magnitude, out of range "
                             f"for squared_error in {np.dtype(dtype).name}: their squares "
                             f"overflow (keep them below {limit:.3g}); rescale the targets")
    return a


def check_target_range(t, loss):
    if loss == "binary_cross_entropy" and ((t < 0) | (t > 1)).any():
        raise ValueError("binary_cross_entropy needs targets in [0, 1]")
    if loss == "cross_entropy" and (t < 0).any():
        raise ValueError("cross_entropy needs non-negative targets (probabilities)")
    if loss == "poisson" and (t < 0).any():
        raise ValueError("poisson needs non-negative targets (counts or rates)")


def as_vector(values, name, n, dtype, what):
    """One sample as a C-contiguous (n,) array; a scalar is accepted when n == 1."""
    a = as_numeric(values, name)
    if a.ndim == 0 and n == 1:
        a = a.reshape(1)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one sample, 1-D with {n} {what}, got shape {a.shape}")
    if a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} {what}, but the network has {n}")
    cast = _cast(a, dtype)
    _check_finite(cast, name, a)
    return cast


def check_lr(lr, dtype=np.float64, name="lr"):
    """A positive finite learning rate that stays so in ``dtype``."""
    if not isinstance(lr, numbers.Real) or isinstance(lr, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got {lr!r}")
    lr = _as_float(lr, name)
    if SAFE_LR[0] <= lr <= SAFE_LR[1]:
        return float(lr)
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"{name} must be a positive finite number, got {lr!r}")
    with np.errstate(over="ignore", under="ignore"):
        in_dtype = np.dtype(dtype).type(lr)
    if not (np.isfinite(in_dtype) and in_dtype > 0):
        raise ValueError(f"{name}={lr!r} is not a positive finite {np.dtype(dtype).name}")
    return float(lr)


def check_last_rate(schedule, lr, last_rate, last_epoch, dtype):
    """Refuses, before training, ``schedule`` (a built-in one, whose rate
    from ``lr`` only falls) if its rate is no longer a positive finite rate
    of ``dtype`` by ``last_epoch``. ``last_rate()`` computes that rate; an
    OverflowError ((e + 1) ** power_t beyond a float) counts as 0."""
    try:
        rate = last_rate()
    except OverflowError:
        rate = 0.0
    try:
        check_lr(rate, dtype)
    except ValueError:
        raise ValueError(f"schedule {schedule!r} brings lr={lr!r} to {rate!r} by epoch "
                         f"{last_epoch} (counted from 0), not a positive finite "
                         f"{np.dtype(dtype).name}; train fewer epochs or choose a gentler "
                         "schedule") from None


def _as_float(value, name):
    """A real number as a float; a Python int beyond float's range is refused
    by name (float() would say only "int too large to convert to float")."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number, got an int of "
                         f"{len(str(abs(value)))} digits, beyond float range") from None


def check_seed(seed):
    """None, a non-negative int or a numpy.random.Generator (which
    numpy.random.default_rng returns as it is, to be drawn on from where it
    stands)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if not _is_int(seed):
        raise TypeError(f"seed must be None, a non-negative int or a Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be None or a non-negative int, got {seed!r}")
    return seed


def check_positive_int(value, name):
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def check_batch_size(batch_size, n_samples):
    """Samples per update: None (or more than n_samples) means all of them."""
    if batch_size is None:
        return n_samples
    return min(check_positive_int(batch_size, "batch_size"), n_samples)


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_weights(weights, biases, dtype):
    """Validated float arrays from nested lists or arrays.

    Returns (weights, biases, dtype): weights[l] has shape (n_out, n_in) and
    chains with the next layer; biases[l] has shape (n_out,), or biases is
    None. With dtype None, all-float32 input stays float32, else float64.
    """
    if isinstance(weights, np.ndarray) or not hasattr(weights, "__len__") or not len(weights):
        raise TypeError("weights must be a non-empty list of (n_out, n_in) arrays")
    W = [as_numeric(w, f"weights[{l}]") for l, w in enumerate(weights)]
    b = None
    if biases is not None:
        if isinstance(biases, np.ndarray) or not hasattr(biases, "__len__"):
            raise TypeError("biases must be a list of (n_out,) arrays, or None")
        if len(biases) != len(W):
            raise ValueError(f"biases has {len(biases)} entries, but weights has {len(W)}")
        b = [as_numeric(v, f"biases[{l}]") for l, v in enumerate(biases)]
    if dtype is None:
        given = W + (b or [])
        dtype = np.float32 if all(a.dtype == np.float32 for a in given) else np.float64
    dtype = check_dtype(dtype)
    W = [_cast(w, dtype) for w in W]
    b = None if b is None else [_cast(v, dtype) for v in b]
    for l, w in enumerate(W):
        if w.ndim != 2 or 0 in w.shape:
            raise ValueError(f"weights[{l}] must be a non-empty 2-D (n_out, n_in) array, "
                             f"got shape {w.shape}")
        if l and w.shape[1] != W[l - 1].shape[0]:
            raise ValueError(f"weights[{l}] has {w.shape[1]} inputs per row, but "
                             f"weights[{l - 1}] has {W[l - 1].shape[0]} outputs: "
                             "the shapes do not chain")
        _check_finite(w, f"weights[{l}]")
        if b is not None:
            if b[l].shape != (w.shape[0],):
                raise ValueError(f"biases[{l}] must have shape ({w.shape[0]},), "
                                 f"got {b[l].shape}")
            _check_finite(b[l], f"biases[{l}]")
    return W, b, dtype


def check_real(value, name, low=None, high=None, low_open=False, high_open=False):
    """A finite float within [low, high] (an end excluded when *_open)."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = _as_float(value, name)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or too_low or too_high:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        bounds = " and ".join(b for b in (lo, hi) if b) or "finite"
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    return value


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


def as_sample_weight(weights, n_samples, dtype):
    """None, or one finite non-negative weight per sample, not all zero."""
    if weights is None:
        return None
    w = as_numeric(weights, "sample_weight")
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), one weight per "
                         f"sample, got shape {w.shape}")
    w = _cast(w, dtype)
    _check_finite(w, "sample_weight")
    if (w < 0).any():
        raise ValueError("sample_weight must be non-negative")
    if not w.any():
        raise ValueError("sample_weight is zero for every sample")
    return w


@dataclass(frozen=True)
class Settings:
    """The checked training options of one ``fit`` call (see ``MLP.fit``)."""
    optimizer: object       # a fastbp.optim.Optimizer
    schedule: object        # a fastbp.optim.Schedule, or a callable epoch -> lr
    patience: object
    tol: float
    restore_best: bool
    target_loss: object
    warm_start: bool
    progress: bool
    verbose: bool
    callback: object


def check_settings(batch, n_samples, *, optimizer, schedule, patience, tol, restore_best,
                   target_loss, warm_start, progress, verbose, callback):
    """Settings from fit's options (``optimizer`` and ``schedule`` already
    made by ``fastbp.optim``), or the error naming the first bad one."""
    optimizer.check_batch(batch, n_samples)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be None or callable, got {callback!r}")
    return Settings(
        optimizer=optimizer, schedule=schedule,
        patience=None if patience is None else check_positive_int(patience, "patience"),
        tol=check_real(tol, "tol", 0),
        restore_best=check_bool(restore_best, "restore_best"),
        target_loss=None if target_loss is None else check_real(target_loss, "target_loss"),
        warm_start=check_bool(warm_start, "warm_start"),
        progress=check_bool(progress, "progress"),
        verbose=check_bool(verbose, "verbose"), callback=callback)


@dataclass
class Data:
    """Training samples (arrays in the model's dtype) and validation samples."""
    X: np.ndarray
    Y: np.ndarray
    weight: object          # None or (n,) array
    X_val: object = None
    Y_val: object = None


def fit_data(samples, dtype, X, Y, sample_weight, validation_data, validation_fraction, seed):
    """Checked arrays for fit. ``samples(X, Y)`` is the model's own check of
    a data set. ``validation_fraction`` holds out that share of the samples,
    drawn with ``numpy.random.default_rng(seed)``; the rest keep their order."""
    X, Y = samples(X, Y)
    weight = as_sample_weight(sample_weight, X.shape[0], dtype)
    if validation_data is not None and validation_fraction is not None:
        raise ValueError("give validation_data or validation_fraction, not both")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, Y_val)")
        X_val, Y_val = samples(*validation_data)
        return Data(X, Y, weight, X_val, Y_val)
    if validation_fraction is None:
        return Data(X, Y, weight)
    fraction = check_real(validation_fraction, "validation_fraction", 0, 1,
                          low_open=True, high_open=True)
    n_val = int(round(fraction * X.shape[0]))
    if not 0 < n_val < X.shape[0]:
        raise ValueError(f"validation_fraction={fraction} of {X.shape[0]} samples leaves "
                         "no training or no validation sample")
    held = np.zeros(X.shape[0], bool)
    held[np.random.default_rng(seed).permutation(X.shape[0])[:n_val]] = True
    keep = ~held
    return Data(X[keep], Y[keep], None if weight is None else weight[keep], X[held], Y[held])
