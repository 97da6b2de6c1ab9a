"""dtype handling: a model keeps its dtype end to end, inputs of another type
are cast to it (the result equals casting first), from_weights infers float32
or float64, float32 and float64 models agree to float32 precision, and values
that do not fit in float32 are refused rather than stored as infinity.

scikit-learn's test_sgd_dtype_match and test_sgd_numerical_consistency, and
pykdtree's test3d_float32_mismatch, are the models.
"""
import pickle

import numpy as np
import pytest

import fastbp
from fastbp import reference
from impls import IMPLS

DTYPES = ["float32", "float64"]


def data(n=10, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.random((n, n_out))


# -- the model's dtype, end to end ----------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spelling", ["name", "numpy-type", "numpy-dtype"])
def test_dtype_is_kept_end_to_end(dtype, spelling):
    dt = np.dtype(dtype)
    given = {"name": dtype, "numpy-type": dt.type, "numpy-dtype": dt}[spelling]
    net = fastbp.MLP([3, 5, 2], dtype=given, seed=0)
    Xd, Yd = data()
    assert net.dtype == dt
    assert net.params.dtype == dt
    assert all(W.dtype == dt for W in net.weights)
    assert all(b.dtype == dt for b in net.biases)
    assert net.predict(Xd).dtype == dt
    assert net.predict(Xd[0]).dtype == dt
    g_w, g_b = net.gradient(Xd[0], Yd[0])
    assert all(g.dtype == dt for g in g_w) and all(g.dtype == dt for g in g_b)
    assert isinstance(net.loss(Xd, Yd), float)
    assert isinstance(net.train_step(Xd[0], Yd[0], 0.1), float)
    h = net.fit(Xd, Yd, epochs=2)
    assert all(isinstance(v, float) for v in h.loss)
    assert net.params.dtype == dt
    assert all(W.dtype == dt and np.shares_memory(W, net.params) for W in net.weights)
    assert net.copy().params.dtype == dt
    assert pickle.loads(pickle.dumps(net)).params.dtype == dt
    assert net.params.nbytes == net.params.size * dt.itemsize


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_weights_with_explicit_dtype_rounds_to_it(dtype):
    rng = np.random.default_rng(1)
    W = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    b = [rng.standard_normal(4), rng.standard_normal(2)]
    net = fastbp.MLP.from_weights(W, b, dtype=dtype)
    ref = reference.MLP.from_weights(W, b, dtype=dtype)
    expected = np.concatenate([W[0].ravel(), b[0], W[1].ravel(), b[1]]).astype(dtype)
    assert net.params.dtype == np.dtype(dtype)
    assert net.params.tobytes() == expected.tobytes()
    assert ref.dtype == np.dtype(dtype)
    assert np.array_equal(np.array(ref.params), expected.astype(np.float64))


# -- inputs of another dtype ----------------------------------------------------

@pytest.mark.parametrize("model_dtype, input_dtype", [
    ("float32", "float64"), ("float64", "float32"), ("float32", "float16"),
    ("float64", "float16"), ("float32", "longdouble")])
def test_input_of_another_dtype_equals_casting_first(model_dtype, input_dtype):
    Xd, Yd = data(seed=2)
    Xi, Yi = Xd.astype(input_dtype), Yd.astype(input_dtype)
    Xc, Yc = Xi.astype(model_dtype), Yi.astype(model_dtype)
    base = fastbp.MLP([3, 5, 2], dtype=model_dtype, seed=0)
    a, b = base.copy(), base.copy()
    out = a.predict(Xi)
    assert out.dtype == np.dtype(model_dtype)
    assert out.tobytes() == a.predict(Xc).tobytes()
    assert a.predict(Xi[3]).tobytes() == a.predict(Xc[3]).tobytes()
    assert a.loss(Xi, Yi) == a.loss(Xc, Yc)
    ga, gb = a.gradient(Xi[1], Yi[1]), a.gradient(Xc[1], Yc[1])
    assert all(u.tobytes() == v.tobytes() for u, v in zip(ga[0] + ga[1], gb[0] + gb[1]))
    ha = a.fit(Xi, Yi, epochs=2, seed=3)
    hb = b.fit(Xc, Yc, epochs=2, seed=3)
    assert ha.loss == hb.loss
    assert a.params.dtype == np.dtype(model_dtype)
    assert a.params.tobytes() == b.params.tobytes()
    assert a.train_step(Xi[0], Yi[0], 0.3) == b.train_step(Xc[0], Yc[0], 0.3)
    assert a.params.tobytes() == b.params.tobytes()


def test_float64_input_is_rounded_for_a_float32_model():
    """The float32 model sees float32(x), not x: 1 + 2^-30 rounds to 1."""
    net = fastbp.MLP([1, 1], activation="identity", dtype="float32", seed=0)
    net.weights[0][0, 0] = 1.0
    x = np.array([[1.0 + 2.0 ** -30]])
    assert net.predict(x)[0, 0] == np.float32(1.0)
    wide = fastbp.MLP([1, 1], activation="identity", dtype="float64", seed=0)
    wide.weights[0][0, 0] = 1.0
    assert wide.predict(x)[0, 0] == 1.0 + 2.0 ** -30


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("int_dtype", ["int64", "int32", "uint8", "bool"])
def test_int_and_bool_inputs_are_accepted(dtype, int_dtype):
    rng = np.random.default_rng(4)
    Xi = rng.integers(0, 2, (8, 3)).astype(int_dtype)
    Yi = rng.integers(0, 2, (8, 2)).astype(int_dtype)
    base = fastbp.MLP([3, 4, 2], dtype=dtype, seed=1)
    a, b = base.copy(), base.copy()
    assert a.predict(Xi).dtype == np.dtype(dtype)
    assert a.predict(Xi).tobytes() == a.predict(Xi.astype(dtype)).tobytes()
    a.fit(Xi, Yi, epochs=2, seed=0)
    b.fit(Xi.astype(dtype), Yi.astype(dtype), epochs=2, seed=0)
    assert a.params.tobytes() == b.params.tobytes()
    assert not np.array_equal(a.params, base.params)


def test_int_X_on_the_reference():
    Xi = np.array([[0, 1, 2], [3, 1, 0]])
    Yi = np.array([[1, 0], [0, 1]])
    a = reference.MLP([3, 4, 2], seed=1)
    b = reference.MLP([3, 4, 2], seed=1)
    assert a.predict(Xi) == b.predict(Xi.astype(float))
    a.fit(Xi, Yi, seed=0)
    b.fit(Xi.astype(float), Yi.astype(float), seed=0)
    assert a.params == b.params


# -- from_weights with dtype=None -------------------------------------------------

def _w(dtype):
    return [np.array([[0.5, -0.25], [0.125, 1.0], [2.0, -1.5]], dtype),
            np.array([[0.75, -0.5, 0.25]], dtype)]


def _b(dtype):
    return [np.array([0.1, 0.2, 0.3], dtype), np.array([-0.4], dtype)]


F32_SCALAR_LISTS = [[[np.float32(v) for v in row] for row in W] for W in _w(np.float32)]

INFER_CASES = [
    pytest.param(_w(np.float32), _b(np.float32), "float32", id="float32-arrays"),
    pytest.param(_w(np.float32), None, "float32", id="float32-no-biases"),
    pytest.param(F32_SCALAR_LISTS, None, "float32", id="float32-scalar-lists"),
    pytest.param(_w(np.float64), _b(np.float64), "float64", id="float64-arrays"),
    pytest.param(_w(np.float32), _b(np.float64), "float64", id="float32-weights-float64-biases"),
    pytest.param([_w(np.float32)[0], _w(np.float64)[1]], None, "float64", id="mixed-layers"),
    pytest.param([W.tolist() for W in _w(np.float64)], [b.tolist() for b in _b(np.float64)],
                 "float64", id="nested-lists"),
    pytest.param([np.array([[1, 2], [3, 4], [5, 6]]), np.array([[1, -1, 0]])], None,
                 "float64", id="int64-arrays"),
    pytest.param([np.ones((3, 2), np.int32), np.ones((1, 3), np.int32)], None,
                 "float64", id="int32-arrays"),
    pytest.param([[[1, 2], [3, 4], [5, 6]], [[1, -1, 0]]], [[0, 0, 0], [1]],
                 "float64", id="int-lists"),
    pytest.param([np.ones((3, 2), bool), np.ones((1, 3), np.float32)], None,
                 "float64", id="bool-layer"),
    pytest.param([np.ones((3, 2), np.float16), np.ones((1, 3), np.float16)], None,
                 "float64", id="float16-arrays"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("weights, biases, expected", INFER_CASES)
def test_from_weights_infers_the_dtype(impl, weights, biases, expected):
    net = impl.from_weights(weights, biases)
    assert net.dtype == np.dtype(expected)
    given = [np.asarray(W, np.float64).ravel() for W in weights]
    if biases is not None:
        bias_arrays = [np.asarray(b, np.float64) for b in biases]
        given = [p for pair in zip(given, bias_arrays) for p in pair]
    assert np.array_equal(np.asarray(net.params, np.float64), np.concatenate(given))
    if impl is fastbp.MLP:
        assert net.params.dtype == np.dtype(expected)
        assert net.predict([[1.0, 2.0]]).dtype == np.dtype(expected)


# -- float32 against float64 ----------------------------------------------------

@pytest.mark.parametrize("activation, output_activation, loss", [
    ("sigmoid", None, "squared_error"),
    ("tanh", "identity", "squared_error"),
    ("relu", "sigmoid", "binary_cross_entropy"),
    ("leaky_relu", "softmax", "cross_entropy"),
])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_float32_and_float64_agree(activation, output_activation, loss, batch_size):
    """Both from the same float32-representable weights and data."""
    rng = np.random.default_rng(7)
    W = [rng.uniform(-0.6, 0.6, (6, 4)).astype(np.float32),
         rng.uniform(-0.6, 0.6, (3, 6)).astype(np.float32)]
    b = [rng.uniform(-0.1, 0.1, 6).astype(np.float32),
         rng.uniform(-0.1, 0.1, 3).astype(np.float32)]
    Xd = rng.random((20, 4)).astype(np.float32)
    if loss == "cross_entropy":
        Yd = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 20)]
    else:
        Yd = rng.random((20, 3)).astype(np.float32)
    kw = dict(activation=activation, output_activation=output_activation, loss=loss)
    n32 = fastbp.MLP.from_weights(W, b, dtype=None, **kw)
    n64 = fastbp.MLP.from_weights([w.astype(np.float64) for w in W],
                                  [v.astype(np.float64) for v in b], **kw)
    assert n32.dtype == np.float32 and n64.dtype == np.float64
    assert np.array_equal(n32.params.astype(np.float64), n64.params)
    np.testing.assert_allclose(n32.predict(Xd), n64.predict(Xd), rtol=1e-5, atol=1e-6)
    g32, g64 = n32.gradient(Xd[0], Yd[0]), n64.gradient(Xd[0], Yd[0])
    for u, v in zip(g32[0] + g32[1], g64[0] + g64[1]):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-6)
    h32 = n32.fit(Xd, Yd, epochs=5, lr=0.1, batch_size=batch_size, seed=1)
    h64 = n64.fit(Xd, Yd, epochs=5, lr=0.1, batch_size=batch_size, seed=1)
    np.testing.assert_allclose(h32.loss, h64.loss, rtol=1e-4)
    np.testing.assert_allclose(n32.params, n64.params, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(n32.predict(Xd), n64.predict(Xd), rtol=1e-4, atol=1e-6)
    assert n32.loss(Xd, Yd) == pytest.approx(n64.loss(Xd, Yd), rel=1e-4)
    # training moved the weights well beyond the tolerance ...
    assert np.abs(n64.params - np.concatenate([np.concatenate([w.ravel(), v])
                                               for w, v in zip(W, b)])).max() > 1e-3
    # ... and the float32 model really computed in float32: after 100
    # updates it is not the float64 result rounded to float32.
    assert not np.array_equal(n32.params, n64.params.astype(np.float32))


# -- values that do not fit in float32 --------------------------------------------

@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("where", ["X-first", "X-last", "Y-last"])
def test_float64_input_that_overflows_float32_is_refused(impl, where):
    net = impl([2, 3, 1], dtype="float32", seed=0)
    before = np.array(net.params, dtype=np.float64)
    Xd, Yd = np.ones((3, 2)), np.zeros((3, 1))
    name = where[0]
    (Xd if name == "X" else Yd)[(0, 0) if where.endswith("first") else (-1, -1)] = 1e39
    with pytest.raises(ValueError, match=rf"{name}\[\d+, \d+\] = 1e\+39 overflows float32"):
        net.fit(Xd, Yd)
    assert np.array_equal(np.array(net.params, dtype=np.float64), before)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("which", ["weights-first", "weights-last", "biases-last"])
def test_from_weights_refuses_values_that_overflow_float32(impl, which):
    """1e39 is a finite float64 but infinite as float32: with dtype float32
    the model must refuse it, as it refuses inf, instead of storing inf."""
    W = [np.ones((3, 2)), np.ones((1, 3))]
    b = [np.zeros(3), np.zeros(1)]
    if which == "weights-first":
        W[0][0, 0] = 1e39
    elif which == "weights-last":
        W[1][0, 2] = -1e39
    else:
        b[1][0] = 1e39
    name = {"weights-first": r"weights\[0\]", "weights-last": r"weights\[1\]",
            "biases-last": r"biases\[1\]"}[which]
    with pytest.raises(ValueError, match=name):
        impl.from_weights(W, b, dtype="float32")
    # as float64 the same values are fine
    assert np.isfinite(impl.from_weights(W, b, dtype="float64").params).all()
