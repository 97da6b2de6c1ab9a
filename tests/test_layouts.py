"""The array layouts and kinds both implementations accept (strided,
read-only, unaligned, Fortran-ordered, bool), which give the results of a
plain C-contiguous copy; and the parameter buffer, which starts on a cache
line however a model is made."""
import pickle

import numpy as np
import pytest

import fastbp
from fastbp import reference
from impls import IMPLS, clone, flat, outputs


# -- layouts and kinds of arrays that are accepted ------------------------------

def _unaligned(a):
    buf = np.zeros(a.nbytes + 1, np.uint8)
    u = np.frombuffer(buf[1:].data, dtype=a.dtype).reshape(a.shape)
    u[...] = a
    return u


def _read_only(a):
    b = a.copy()
    b.flags.writeable = False
    return b


def _column_strided(a):
    wide = np.full((a.shape[0], 2 * a.shape[1]), -7.0)
    wide[:, ::2] = a
    return wide[:, ::2]


def _row_strided(a):
    tall = np.full((2 * a.shape[0], a.shape[1]), -7.0)
    tall[::2] = a
    return tall[::2]


def _negative_strides(a):
    return a[::-1, ::-1].copy()[::-1, ::-1]


LAYOUTS = {
    "fortran": np.asfortranarray,
    "column-strided": _column_strided,
    "row-strided": _row_strided,
    "negative-strides": _negative_strides,
    "read-only": _read_only,
    "read-only-fortran": lambda a: _read_only(np.asfortranarray(a)),
    "unaligned": _unaligned,
    "big-endian": lambda a: a.astype(a.dtype.newbyteorder(">")),
    "int64": lambda a: a.astype(np.int64),
    "int8": lambda a: a.astype(np.int8),
    "uint16": lambda a: np.abs(a).astype(np.uint16),
    "nested-list": lambda a: a.tolist(),
    "tuple-of-tuples": lambda a: tuple(map(tuple, a.tolist())),
}


LAYOUT_FLAGS = {
    "fortran": ("C_CONTIGUOUS", False),
    "column-strided": ("C_CONTIGUOUS", False),
    "row-strided": ("C_CONTIGUOUS", False),
    "negative-strides": ("C_CONTIGUOUS", False),
    "read-only": ("WRITEABLE", False),
    "read-only-fortran": ("WRITEABLE", False),
    "unaligned": ("ALIGNED", False),
}


def _layout_data():
    # Small integers so that int and float forms hold the same numbers.
    rng = np.random.default_rng(42)
    Xd = rng.integers(0, 4, size=(9, 3)).astype(np.float64)
    Yd = rng.integers(0, 2, size=(9, 2)).astype(np.float64)
    return Xd, Yd


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_accepted_layouts_give_identical_results(impl, layout, dtype):
    Xd, Yd = _layout_data()
    make = LAYOUTS[layout]
    Xl, Yl = make(Xd), make(Yd)
    if layout in LAYOUT_FLAGS:            # the layout is what its name says
        flag, value = LAYOUT_FLAGS[layout]
        assert Xl.flags[flag] is value and Yl.flags[flag] is value
    base = impl([3, 4, 2], seed=1, dtype=dtype)
    a, b = clone(base), clone(base)
    assert np.array_equal(outputs(a, Xl), outputs(a, Xd))
    assert np.array_equal(outputs(a, Xl[0]), outputs(a, Xd[0]))
    assert a.loss(Xl, Yl) == a.loss(Xd, Yd)
    ha = a.fit(Xl, Yl, epochs=2, lr=0.3, shuffle=True, seed=5)
    hb = b.fit(Xd, Yd, epochs=2, lr=0.3, shuffle=True, seed=5)
    assert ha.loss == hb.loss
    assert flat(a).tobytes() == flat(b).tobytes()
    assert not np.array_equal(flat(a), flat(base))           # training did something
    ga = a.gradient(Xl[1], Yl[1])
    gb = b.gradient(Xd[1], Yd[1])
    assert all(np.array_equal(np.asarray(u), np.asarray(v)) for u, v in zip(ga[0], gb[0]))
    # inputs are never written to
    if isinstance(Xl, np.ndarray):
        assert np.array_equal(Xl, make(Xd))


def test_bool_arrays_equal_their_0_1_floats():
    rng = np.random.default_rng(3)
    Xb = rng.random((8, 3)) < 0.5
    Yb = rng.random((8, 1)) < 0.5
    for impl in (fastbp.MLP, reference.MLP):
        a = impl([3, 2, 1], seed=4)
        b = clone(a)
        assert np.array_equal(outputs(a, Xb), outputs(a, Xb.astype(float)))
        a.fit(Xb, Yb, epochs=3, seed=2)
        b.fit(Xb.astype(float), Yb.astype(float), epochs=3, seed=2)
        assert flat(a).tobytes() == flat(b).tobytes()


def test_train_step_accepts_strided_and_read_only_samples():
    net = fastbp.MLP([3, 4, 2], seed=0)
    twin = net.copy()
    wide = np.arange(12.0).reshape(2, 6) / 10
    x = wide[0, ::2]                        # strided view
    t = _read_only(np.array([0.0, 1.0]))
    assert not x.flags.c_contiguous
    e1 = net.train_step(x, t, 0.5)
    e2 = twin.train_step(np.ascontiguousarray(x), np.array([0.0, 1.0]), 0.5)
    assert e1 == e2
    assert net.params.tobytes() == twin.params.tobytes()


# -- the parameter buffer -------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes", [[2, 2, 2], [3, 5, 1], [256, 512, 10]])
def test_params_start_on_a_cache_line(tmp_path, sizes, dtype):
    # The kernels' vector loads run up to 30% slower when params straddle
    # cache lines; every way of making a model keeps them aligned.
    net = fastbp.MLP(sizes, dtype=dtype, seed=0)
    path = tmp_path / "net.npz"
    net.save(path)
    for made in (net, net.copy(), pickle.loads(pickle.dumps(net)), fastbp.load(path)):
        assert made.params.ctypes.data % 64 == 0
        assert made.params.dtype == dtype and made.params.shape == net.params.shape
        assert np.array_equal(made.params, net.params)
