"""The public API of fastbp.MLP and fastbp.reference.MLP: what they refuse and
what a refused call leaves behind, the array layouts they accept, seeds,
shapes, History, views, copies, divergence, threads, and one convergence
check.

Every refusal is checked on both implementations: they share their checks
and must accept and reject the same inputs, with a message that names the
argument. "A rejected call changes nothing" is checked on the flat parameter
buffer, by value and byte for byte.
"""
import math
import pickle
import re
import threading

import numpy as np
import pytest

import fastbp
from fastbp import reference

IMPLS = [pytest.param(fastbp.MLP, id="fastbp"), pytest.param(reference.MLP, id="reference")]

# XOR: 4 samples, 2 features, 1 output.
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def flat(net):
    """The parameters as a float64 array (the reference's params is a list)."""
    if isinstance(net, reference.MLP):
        return np.array(net.params, dtype=np.float64)
    return net.params.copy()


def outputs(net, X_):
    return np.asarray(net.predict(X_), dtype=np.float64)


def assert_unchanged(net, before):
    """Same values and the same bytes as ``before`` (a ``flat`` copy)."""
    now = flat(net)
    assert now.dtype == before.dtype
    assert np.array_equal(now, before)
    assert now.tobytes() == before.tobytes()
    if isinstance(net, fastbp.MLP):
        # weights and biases are still views into params after the refusal
        assert all(np.shares_memory(W, net.params) for W in net.weights)


def make_net(impl, kind):
    if kind == "sq":
        return impl([2, 3, 1], seed=0)
    if kind == "bce":
        return impl([2, 3, 1], output_activation="sigmoid", loss="binary_cross_entropy", seed=0)
    if kind == "ce":
        return impl([2, 3, 2], output_activation="softmax", loss="cross_entropy", seed=0)
    raise AssertionError(kind)


def with_value(a, index, value):
    b = np.array(a, dtype=np.float64)
    b[index] = value
    return b


def index_text(shape, index):
    """How _validation prints the first bad index, as a regex: '(3, 1)'."""
    return re.escape(str(tuple(i % s for i, s in zip(index, shape))))


# -- refused calls on a network ---------------------------------------------
# (kind of network, call, exception, regex the message must match)

def _case(id_, call, exc, match, kind="sq"):
    return pytest.param(kind, call, exc, match, id=id_)


CT = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 0.0]])   # cross-entropy targets

CALL_CASES = [
    # wrong number of features or targets
    _case("fit-X-3-features", lambda n: n.fit(np.ones((4, 3)), Y), ValueError,
          r"X has 3 features per sample, but the network has 2"),
    _case("fit-Y-2-outputs", lambda n: n.fit(X, np.ones((4, 2))), ValueError,
          r"Y has 2 outputs per sample, but the network has 1"),
    _case("predict-X-3-features", lambda n: n.predict(np.ones((4, 3))), ValueError,
          r"X has 3 features"),
    _case("predict-1d-3-features", lambda n: n.predict([1.0, 2.0, 3.0]), ValueError,
          r"X has 3 features, but the network has 2"),
    _case("predict-1d-1-feature", lambda n: n.predict([1.0]), ValueError, r"X has 1 features"),
    _case("loss-X-1-feature", lambda n: n.loss(np.ones((4, 1)), Y), ValueError,
          r"X has 1 features"),
    _case("loss-Y-3-outputs", lambda n: n.loss(X, np.ones((4, 3))), ValueError,
          r"Y has 3 outputs"),
    _case("gradient-x-3", lambda n: n.gradient([1.0, 2.0, 3.0], [1.0]), ValueError,
          r"x has 3 features"),
    _case("gradient-t-2", lambda n: n.gradient([1.0, 2.0], [1.0, 0.0]), ValueError,
          r"t has 2 outputs"),
    _case("train_step-x-1", lambda n: n.train_step([1.0], [1.0], 0.1), ValueError,
          r"x has 1 features"),
    _case("train_step-t-2", lambda n: n.train_step([1.0, 2.0], [1.0, 0.0], 0.1), ValueError,
          r"t has 2 outputs"),
    # wrong dimensionality
    _case("fit-X-1d", lambda n: n.fit(X[0], Y[0]), ValueError, r"X must be 2-D"),
    _case("fit-X-3d", lambda n: n.fit(X[None], Y), ValueError, r"X must be 2-D"),
    _case("fit-X-0d", lambda n: n.fit(1.0, Y), ValueError, r"X must be 2-D"),
    _case("fit-Y-3d", lambda n: n.fit(X, Y[None]), ValueError, r"Y must be 2-D"),
    _case("loss-X-1d", lambda n: n.loss(X[0], Y[0]), ValueError, r"X must be 2-D"),
    _case("loss-Y-3d", lambda n: n.loss(X, Y[:, :, None]), ValueError, r"Y must be 2-D"),
    _case("predict-X-3d", lambda n: n.predict(X[None]), ValueError, r"X must be 2-D"),
    _case("predict-X-0d", lambda n: n.predict(1.0), ValueError, r"X must be 2-D"),
    _case("gradient-x-2d", lambda n: n.gradient(X[:1], Y[0]), ValueError,
          r"x must be one sample"),
    _case("gradient-t-2d", lambda n: n.gradient(X[0], Y[:1]), ValueError,
          r"t must be one sample"),
    _case("train_step-x-2d", lambda n: n.train_step(X[:2], Y[0], 0.1), ValueError,
          r"x must be one sample"),
    _case("train_step-t-2d", lambda n: n.train_step(X[0], Y[:2], 0.1), ValueError,
          r"t must be one sample"),
    # mismatched sample counts
    _case("fit-4-vs-3-samples", lambda n: n.fit(X, Y[:3]), ValueError,
          r"X and Y hold different numbers of samples: 4 and 3"),
    _case("fit-3-vs-4-samples-1d-Y", lambda n: n.fit(X[:3], Y[:, 0]), ValueError,
          r"X and Y hold different numbers of samples: 3 and 4"),
    _case("loss-4-vs-1-samples", lambda n: n.loss(X, Y[:1]), ValueError,
          r"X and Y hold different numbers of samples"),
    # empty data
    _case("fit-empty", lambda n: n.fit(np.empty((0, 2)), np.empty((0, 1))), ValueError,
          r"X is empty"),
    _case("fit-empty-list", lambda n: n.fit([], []), ValueError, r"X"),
    _case("fit-empty-Y", lambda n: n.fit(X, np.empty((0, 1))), ValueError, r"Y is empty"),
    _case("predict-empty", lambda n: n.predict(np.empty((0, 2))), ValueError, r"X is empty"),
    _case("loss-empty", lambda n: n.loss(np.empty((0, 2)), np.empty((0, 1))), ValueError,
          r"X is empty"),
    _case("gradient-x-empty", lambda n: n.gradient([], [1.0]), ValueError,
          r"x has 0 features"),
    # non-numeric data
    _case("fit-X-strings", lambda n: n.fit(X.astype(str), Y), TypeError, r"X must be numeric"),
    _case("fit-X-list-of-strings", lambda n: n.fit([["a", "b"]] * 4, Y), TypeError,
          r"X must be numeric"),
    _case("fit-X-bytes", lambda n: n.fit(X.astype(bytes), Y), TypeError, r"X must be numeric"),
    _case("fit-X-objects", lambda n: n.fit(np.full((4, 2), object()), Y), TypeError,
          r"X must be numeric"),
    _case("fit-X-complex", lambda n: n.fit(X + 0j, Y), TypeError, r"X must be numeric"),
    _case("fit-X-datetime", lambda n: n.fit(np.zeros((4, 2), "datetime64[s]"), Y), TypeError,
          r"X must be numeric"),
    _case("fit-X-dict", lambda n: n.fit({"a": 1}, Y), TypeError, r"X must be numeric"),
    _case("fit-Y-strings", lambda n: n.fit(X, Y.astype(str)), TypeError, r"Y must be numeric"),
    _case("fit-Y-objects", lambda n: n.fit(X, np.full((4, 1), object())), TypeError,
          r"Y must be numeric"),
    _case("predict-X-strings", lambda n: n.predict([["0", "1"]]), TypeError,
          r"X must be numeric"),
    _case("predict-1d-strings", lambda n: n.predict(["0", "1"]), TypeError,
          r"X must be numeric"),
    _case("loss-Y-strings", lambda n: n.loss(X, Y.astype(str)), TypeError,
          r"Y must be numeric"),
    _case("gradient-x-strings", lambda n: n.gradient(["a", "b"], [1.0]), TypeError,
          r"x must be numeric"),
    _case("train_step-t-object", lambda n: n.train_step([1.0, 0.0], [object()], 0.1),
          TypeError, r"t must be numeric"),
    # Strings inside an object array are not numbers either: they must not be
    # parsed silently (np.asarray(...).astype(float) turns "1.5" into 1.5).
    _case("fit-X-object-array-of-numeric-strings",
          lambda n: n.fit(np.array([["0", "1"], ["1", "0"]], dtype=object), Y[:2]), TypeError,
          r"X must be numeric"),
    _case("predict-X-object-array-of-numeric-strings",
          lambda n: n.predict(np.array([["0.5", 2.0]], dtype=object)), TypeError,
          r"X must be numeric"),
    # A ragged nested list is not a (n_samples, n_features) array; numpy's own
    # "inhomogeneous shape" error does not say which argument is wrong.
    _case("fit-X-ragged", lambda n: n.fit([[0.0, 1.0], [1.0]], [0.0, 1.0]),
          (ValueError, TypeError), r"\bX\b"),
    _case("predict-X-ragged", lambda n: n.predict([[0.0, 1.0], [1.0]]), (ValueError, TypeError),
          r"\bX\b"),
    # learning rate
    *[_case(f"{m}-lr-{v!r}", (lambda n, v=v, m=m: n.fit(X, Y, lr=v) if m == "fit"
                              else n.train_step(X[0], Y[0], v)), ValueError,
            r"lr must be a positive finite number")
      for m in ("fit", "train_step")
      for v in (0, 0.0, -0.1, -1, math.nan, math.inf, -math.inf, np.float32("nan"), 1e-400)],
    *[_case(f"{m}-lr-{v!r}", (lambda n, v=v, m=m: n.fit(X, Y, lr=v) if m == "fit"
                              else n.train_step(X[0], Y[0], v)), TypeError,
            r"lr must be a number")
      for m in ("fit", "train_step")
      for v in ("0.1", None, True, 1j, [0.1], np.array([0.1]))
      if not (m == "fit" and v is None)],       # fit's lr=None: the optimizer's own
    # epochs
    *[_case(f"fit-epochs-{v!r}", lambda n, v=v: n.fit(X, Y, epochs=v), ValueError,
            r"epochs must be >= 1") for v in (0, -1, np.int64(0))],
    *[_case(f"fit-epochs-{v!r}", lambda n, v=v: n.fit(X, Y, epochs=v), TypeError,
            r"epochs must be an int") for v in (1.5, 2.0, True, False, "2", None, np.float64(2))],
    # batch_size
    *[_case(f"fit-batch_size-{v!r}", lambda n, v=v: n.fit(X, Y, batch_size=v), ValueError,
            r"batch_size must be >= 1") for v in (0, -1)],
    *[_case(f"fit-batch_size-{v!r}", lambda n, v=v: n.fit(X, Y, batch_size=v), TypeError,
            r"batch_size must be an int") for v in (2.5, "3", True, 2.0)],
    # shuffle, update_biases
    *[_case(f"fit-shuffle-{v!r}", lambda n, v=v: n.fit(X, Y, shuffle=v), TypeError,
            r"shuffle must be True or False") for v in ("yes", 1, 0, None)],
    *[_case(f"fit-update_biases-{v!r}", lambda n, v=v: n.fit(X, Y, update_biases=v),
            TypeError, r"update_biases must be True or False") for v in ("no", 0, None)],
    *[_case(f"train_step-update_biases-{v!r}",
            lambda n, v=v: n.train_step(X[0], Y[0], 0.1, update_biases=v),
            TypeError, r"update_biases must be True or False") for v in ("no", 1, None)],
    # The seed of fit: numpy's own messages ("SeedSequence expects int ...",
    # "expected non-negative integer") do not name the argument.
    *[_case(f"fit-seed-{v!r}", lambda n, v=v: n.fit(X, Y, seed=v), (ValueError, TypeError),
            r"\bseed\b") for v in ("abc", -1, 1.5)],
    # targets the log losses are not defined for
    _case("bce-fit-Y-above-1-last", lambda n: n.fit(X, with_value(Y, (-1, 0), 1.5)), ValueError,
          r"binary_cross_entropy needs targets in \[0, 1\]", kind="bce"),
    _case("bce-fit-Y-below-0", lambda n: n.fit(X, with_value(Y, (0, 0), -0.5)), ValueError,
          r"binary_cross_entropy needs targets in \[0, 1\]", kind="bce"),
    _case("bce-loss-Y-2", lambda n: n.loss(X, with_value(Y, (2, 0), 2.0)), ValueError,
          r"binary_cross_entropy", kind="bce"),
    _case("bce-gradient-t", lambda n: n.gradient(X[0], [1.0001]), ValueError,
          r"binary_cross_entropy", kind="bce"),
    _case("bce-train_step-t", lambda n: n.train_step(X[0], [-1e-9], 0.1), ValueError,
          r"binary_cross_entropy", kind="bce"),
    _case("ce-fit-negative-target-last", lambda n: n.fit(X, with_value(CT, (-1, -1), -0.5)),
          ValueError, r"cross_entropy needs non-negative targets", kind="ce"),
    _case("ce-train_step-negative", lambda n: n.train_step(X[0], [1.5, -0.5], 0.1), ValueError,
          r"cross_entropy needs non-negative targets", kind="ce"),
]

# NaN and infinity in X, Y, x and t, at the first and at the last element.
for _name, _v in (("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf)):
    for _where in ((0, 0), (-1, -1)):
        _X, _Y = with_value(X, _where, _v), with_value(Y, _where, _v)
        _xi = index_text(X.shape, _where)
        _yi = index_text(Y.shape, _where)
        _v1 = _where[0]
        CALL_CASES += [
            _case(f"fit-X-{_name}-at-{_where}", lambda n, a=_X: n.fit(a, Y), ValueError,
                  rf"X contains NaN or infinity \(first at index {_xi}\)"),
            _case(f"fit-Y-{_name}-at-{_where}", lambda n, a=_Y: n.fit(X, a), ValueError,
                  rf"Y contains NaN or infinity \(first at index {_yi}\)"),
            _case(f"fit-Y1d-{_name}-at-{_where}", lambda n, a=_Y[:, 0]: n.fit(X, a), ValueError,
                  r"Y contains NaN or infinity"),
            _case(f"predict-X-{_name}-at-{_where}", lambda n, a=_X: n.predict(a), ValueError,
                  rf"X contains NaN or infinity \(first at index {_xi}\)"),
            _case(f"predict-1d-{_name}-at-{_v1}", lambda n, a=_X[_v1]: n.predict(a), ValueError,
                  r"X contains NaN or infinity"),
            _case(f"predict-X-list-{_name}-at-{_where}", lambda n, a=_X.tolist(): n.predict(a),
                  ValueError, r"X contains NaN or infinity"),
            _case(f"loss-X-{_name}-at-{_where}", lambda n, a=_X: n.loss(a, Y), ValueError,
                  r"X contains NaN or infinity"),
            _case(f"loss-Y-{_name}-at-{_where}", lambda n, a=_Y: n.loss(X, a), ValueError,
                  r"Y contains NaN or infinity"),
            _case(f"gradient-x-{_name}-at-{_where[1]}",
                  lambda n, a=with_value(X[1], _where[1], _v): n.gradient(a, Y[1]), ValueError,
                  r"x contains NaN or infinity"),
            _case(f"train_step-x-{_name}-at-{_where[1]}",
                  lambda n, a=with_value(X[1], _where[1], _v): n.train_step(a, Y[1], 0.1),
                  ValueError, r"x contains NaN or infinity"),
        ]
    CALL_CASES.append(_case(f"train_step-t-{_name}", lambda n, a=[_v]: n.train_step(X[1], a, 0.1),
                            ValueError, r"t contains NaN or infinity"))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind, call, exc, match", CALL_CASES)
def test_refused_call_names_the_argument_and_changes_nothing(impl, kind, call, exc, match):
    net = make_net(impl, kind)
    before = flat(net)
    with pytest.raises(exc, match=match) as info:
        call(net)
    # a validation error, not a numerical failure further in
    assert type(info.value) in (ValueError, TypeError)
    assert_unchanged(net, before)


def test_refused_call_leaves_predictions_and_training_as_before():
    """After a refusal the model trains exactly like an untouched copy."""
    net = fastbp.MLP([2, 3, 1], seed=0)
    twin = net.copy()
    for call in (lambda: net.fit(X, Y, lr=math.nan), lambda: net.fit(X, Y[:3]),
                 lambda: net.train_step(X[0], [math.inf], 0.1), lambda: net.predict(X[:, :1])):
        with pytest.raises(ValueError):
            call()
    h1 = net.fit(X, Y, epochs=3, seed=1)
    h2 = twin.fit(X, Y, epochs=3, seed=1)
    assert h1.loss == h2.loss
    assert net.params.tobytes() == twin.params.tobytes()


# -- refused constructions ----------------------------------------------------

CTOR_CASES = [
    pytest.param(dict(layer_sizes=[]), ValueError, r"layer_sizes needs at least 2", id="sizes-[]"),
    pytest.param(dict(layer_sizes=[3]), ValueError, r"layer_sizes needs at least 2",
                 id="sizes-[3]"),
    pytest.param(dict(layer_sizes=[2, 0, 1]), ValueError, r"layer_sizes must be >= 1",
                 id="sizes-[2,0,1]"),
    pytest.param(dict(layer_sizes=[2, 3, -1]), ValueError, r"layer_sizes must be >= 1",
                 id="sizes-[2,3,-1]"),
    pytest.param(dict(layer_sizes=[2, 1.5]), TypeError, r"layer_sizes must hold ints",
                 id="sizes-[2,1.5]"),
    pytest.param(dict(layer_sizes=[2, 1.0]), TypeError, r"layer_sizes must hold ints",
                 id="sizes-[2,1.0]"),
    pytest.param(dict(layer_sizes=[2, True]), TypeError, r"layer_sizes must hold ints",
                 id="sizes-[2,True]"),
    pytest.param(dict(layer_sizes=[2, "3"]), TypeError, r"layer_sizes must hold ints",
                 id="sizes-[2,'3']"),
    pytest.param(dict(layer_sizes="23"), TypeError, r"layer_sizes must be a sequence",
                 id="sizes-'23'"),
    pytest.param(dict(layer_sizes=b"23"), TypeError, r"layer_sizes must be a sequence",
                 id="sizes-b'23'"),
    pytest.param(dict(layer_sizes=5), TypeError, r"layer_sizes must be a sequence", id="sizes-5"),
    pytest.param(dict(layer_sizes=None), TypeError, r"layer_sizes", id="sizes-None"),
    pytest.param(dict(activation="sigmoidd"), ValueError, r"unknown activation 'sigmoidd'",
                 id="activation-unknown"),
    pytest.param(dict(activation="Sigmoid"), ValueError, r"unknown activation",
                 id="activation-case"),
    pytest.param(dict(activation=None), TypeError, r"activation must be a name",
                 id="activation-None"),
    pytest.param(dict(activation=["sigmoid"]), ValueError, r"activation has 1 names",
                 id="activation-too-few"),
    pytest.param(dict(activation=["sigmoid", "foo"]), ValueError, r"unknown activation 'foo'",
                 id="activation-list-unknown"),
    pytest.param(dict(output_activation="softplus"), ValueError,
                 r"unknown activation 'softplus'", id="output_activation-unknown"),
    pytest.param(dict(activation="softmax"), ValueError,
                 r"softmax is only allowed in the output layer", id="softmax-hidden"),
    pytest.param(dict(activation=["softmax", "sigmoid"]), ValueError,
                 r"softmax is only allowed in the output layer", id="softmax-hidden-list"),
    pytest.param(dict(loss="mse"), ValueError, r"unknown loss 'mse'", id="loss-unknown"),
    pytest.param(dict(loss=None), ValueError, r"unknown loss", id="loss-None"),
    pytest.param(dict(loss="cross_entropy"), ValueError,
                 r"loss 'cross_entropy' needs a softmax output layer", id="ce-sigmoid-output"),
    pytest.param(dict(loss="cross_entropy", output_activation="sigmoid"), ValueError,
                 r"loss 'cross_entropy' needs a softmax", id="ce-sigmoid-output-explicit"),
    pytest.param(dict(loss="binary_cross_entropy", output_activation="identity"), ValueError,
                 r"loss 'binary_cross_entropy' needs a sigmoid output layer",
                 id="bce-identity-output"),
    pytest.param(dict(loss="binary_cross_entropy", activation="tanh"), ValueError,
                 r"loss 'binary_cross_entropy' needs a sigmoid", id="bce-tanh-output"),
    pytest.param(dict(loss="binary_cross_entropy", output_activation="softmax"), ValueError,
                 r"binary_cross_entropy' needs a sigmoid", id="bce-softmax-output"),
    pytest.param(dict(dtype="int32"), ValueError, r"dtype must be float32 or float64, got int32",
                 id="dtype-int32"),
    pytest.param(dict(dtype="float16"), ValueError, r"dtype must be float32 or float64",
                 id="dtype-float16"),
    pytest.param(dict(dtype=np.int64), ValueError, r"dtype must be", id="dtype-np.int64"),
    pytest.param(dict(dtype=np.complex128), ValueError, r"dtype must be", id="dtype-complex"),
    pytest.param(dict(dtype="longdouble"), ValueError, r"dtype must be", id="dtype-longdouble"),
    pytest.param(dict(dtype="floaty"), TypeError, r"dtype must be float32 or float64",
                 id="dtype-nonsense"),
    pytest.param(dict(bias="yes"), TypeError, r"bias must be True or False", id="bias-str"),
    pytest.param(dict(bias=1), TypeError, r"bias must be True or False", id="bias-1"),
    # numpy's messages for these do not name the argument
    pytest.param(dict(seed="abc"), (ValueError, TypeError), r"\bseed\b", id="seed-str"),
    pytest.param(dict(seed=-1), (ValueError, TypeError), r"\bseed\b", id="seed-negative"),
    pytest.param(dict(seed=1.5), (ValueError, TypeError), r"\bseed\b", id="seed-float"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kwargs, exc, match", CTOR_CASES)
def test_refused_construction(impl, kwargs, exc, match):
    kwargs = {"layer_sizes": [2, 3, 1], **kwargs}
    with pytest.raises(exc, match=match) as info:
        impl(**kwargs)
    assert type(info.value) in (ValueError, TypeError)


W0 = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])        # 2 -> 3
W1 = np.array([[0.7, 0.8, 0.9]])                          # 3 -> 1
B0 = np.array([0.01, 0.02, 0.03])
B1 = np.array([0.04])

FROM_WEIGHTS_CASES = [
    pytest.param(dict(weights=[W0, np.ones((1, 4))]), ValueError,
                 r"weights\[1\] has 4 inputs per row, but weights\[0\] has 3 outputs: "
                 r"the shapes do not chain", id="no-chain"),
    pytest.param(dict(weights=[W0, W1.T]), ValueError, r"weights\[1\].*do not chain",
                 id="transposed"),
    pytest.param(dict(weights=[W0, W1, np.ones((2, 2))]), ValueError,
                 r"weights\[2\].*do not chain", id="no-chain-third"),
    pytest.param(dict(weights=[W0[0], W1]), ValueError,
                 r"weights\[0\] must be a non-empty 2-D", id="1d-weights"),
    pytest.param(dict(weights=[W0, W1[None]]), ValueError,
                 r"weights\[1\] must be a non-empty 2-D", id="3d-weights"),
    pytest.param(dict(weights=[np.ones((0, 2))]), ValueError,
                 r"weights\[0\] must be a non-empty", id="empty-layer"),
    pytest.param(dict(weights=[]), TypeError, r"weights must be a non-empty list", id="no-layers"),
    pytest.param(dict(weights=np.ones((1, 2, 2))), TypeError, r"weights must be a non-empty list",
                 id="ndarray"),
    pytest.param(dict(weights=None), TypeError, r"weights must be", id="None"),
    pytest.param(dict(weights=[W0.astype(str), W1]), TypeError, r"weights\[0\] must be numeric",
                 id="strings"),
    pytest.param(dict(weights=[W0, np.full((1, 3), object())]), TypeError,
                 r"weights\[1\] must be numeric", id="objects"),
    pytest.param(dict(weights=[W0, W1], biases=[B0]), ValueError,
                 r"biases has 1 entries, but weights has 2", id="biases-count"),
    pytest.param(dict(weights=[W0, W1], biases=[B0[:2], B1]), ValueError,
                 r"biases\[0\] must have shape \(3,\), got \(2,\)", id="biases-short"),
    pytest.param(dict(weights=[W0, W1], biases=[B0, np.zeros(2)]), ValueError,
                 r"biases\[1\] must have shape \(1,\)", id="biases-long-last"),
    pytest.param(dict(weights=[W0, W1], biases=[B0[:, None], B1]), ValueError,
                 r"biases\[0\] must have shape \(3,\), got \(3, 1\)", id="biases-2d"),
    pytest.param(dict(weights=[W0, W1], biases=[B0, 0.04]), ValueError,
                 r"biases\[1\] must have shape \(1,\), got \(\)", id="biases-scalar"),
    pytest.param(dict(weights=[W0, W1], biases=np.zeros((2, 3))), TypeError,
                 r"biases must be a list", id="biases-ndarray"),
    pytest.param(dict(weights=[W0, W1], biases=[B0, ["x"]]), TypeError,
                 r"biases\[1\] must be numeric", id="biases-strings"),
    pytest.param(dict(weights=[W0, W1], loss="cross_entropy"), ValueError,
                 r"cross_entropy' needs a softmax", id="ce-sigmoid"),
    pytest.param(dict(weights=[W0, W1], activation="softmax"), ValueError,
                 r"softmax is only allowed in the output layer", id="softmax-hidden"),
    pytest.param(dict(weights=[W0, W1], activation="relu", loss="binary_cross_entropy"),
                 ValueError, r"binary_cross_entropy' needs a sigmoid", id="bce-relu"),
    pytest.param(dict(weights=[W0, W1], loss="hinge"), ValueError, r"unknown loss",
                 id="loss-unknown"),
    pytest.param(dict(weights=[W0, W1], dtype="int32"), ValueError, r"dtype must be float32",
                 id="dtype-int32"),
    pytest.param(dict(weights=[W0, W1], dtype="float16"), ValueError, r"dtype must be float32",
                 id="dtype-float16"),
]
for _name, _v in (("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf)):
    FROM_WEIGHTS_CASES += [
        pytest.param(dict(weights=[with_value(W0, (0, 0), _v), W1]), ValueError,
                     r"weights\[0\] contains NaN or infinity \(first at index \(0, 0\)\)",
                     id=f"weights0-{_name}-first"),
        pytest.param(dict(weights=[W0, with_value(W1, (-1, -1), _v)]), ValueError,
                     r"weights\[1\] contains NaN or infinity \(first at index \(0, 2\)\)",
                     id=f"weights1-{_name}-last"),
        pytest.param(dict(weights=[with_value(W0, (-1, -1), _v).tolist(), W1.tolist()]),
                     ValueError,
                     r"weights\[0\] contains NaN or infinity \(first at index \(2, 1\)",
                     id=f"weights0-list-{_name}-last"),
        pytest.param(dict(weights=[W0, W1], biases=[with_value(B0, 0, _v), B1]), ValueError,
                     r"biases\[0\] contains NaN or infinity \(first at index \(0,\)\)",
                     id=f"biases0-{_name}-first"),
        pytest.param(dict(weights=[W0, W1], biases=[with_value(B0, -1, _v), B1]), ValueError,
                     r"biases\[0\] contains NaN or infinity \(first at index \(2,\)\)",
                     id=f"biases0-{_name}-last"),
        pytest.param(dict(weights=[W0, W1], biases=[B0, [_v]]), ValueError,
                     r"biases\[1\] contains NaN or infinity", id=f"biases1-{_name}-last-layer"),
    ]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kwargs, exc, match", FROM_WEIGHTS_CASES)
def test_refused_from_weights(impl, kwargs, exc, match):
    weights = kwargs["weights"]
    given = ([np.array(w, copy=True) for w in weights]
             if isinstance(weights, list) else [])
    with pytest.raises(exc, match=match) as info:
        impl.from_weights(**kwargs)
    assert type(info.value) in (ValueError, TypeError)
    # the caller's arrays are untouched
    if given:
        for g, w in zip(given, kwargs["weights"]):
            assert np.array_equal(np.asarray(w), g, equal_nan=g.dtype.kind == "f")


@pytest.mark.parametrize("impl", IMPLS)
def test_from_weights_takes_the_given_values(impl):
    net = impl.from_weights([W0, W1], [B0, B1])
    expected = np.concatenate([W0.ravel(), B0, W1.ravel(), B1])
    assert np.array_equal(flat(net), expected)
    assert net.layer_sizes == (2, 3, 1)
    no_bias = impl.from_weights([W0, W1])
    assert no_bias.biases is None
    assert np.array_equal(flat(no_bias), np.concatenate([W0.ravel(), W1.ravel()]))


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
    a, b = _clone(base), _clone(base)
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
        b = _clone(a)
        assert np.array_equal(outputs(a, Xb), outputs(a, Xb.astype(float)))
        a.fit(Xb, Yb, epochs=3, seed=2)
        b.fit(Xb.astype(float), Yb.astype(float), epochs=3, seed=2)
        assert flat(a).tobytes() == flat(b).tobytes()


def _clone(net):
    if isinstance(net, fastbp.MLP):
        return net.copy()
    return pickle.loads(pickle.dumps(net))


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


# -- seeds ---------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_same_initial_weights(impl, dtype):
    a = impl([5, 7, 3], seed=123, dtype=dtype)
    b = impl([5, 7, 3], seed=123, dtype=dtype)
    c = impl([5, 7, 3], seed=124, dtype=dtype)
    assert flat(a).tobytes() == flat(b).tobytes()
    assert not np.array_equal(flat(a), flat(c))
    # np.int64 seeds mean the same as ints
    assert flat(impl([5, 7, 3], seed=np.int64(123), dtype=dtype)).tobytes() == flat(a).tobytes()
    # biases start at zero, weights within the documented Glorot-type limit
    limit = math.sqrt(2.0 / (5 + 7))
    W = np.asarray(a.weights[0])
    assert np.all(np.abs(W) <= limit) and np.abs(W).max() > limit / 2
    assert all(np.all(np.asarray(b_) == 0) for b_ in a.biases)


def test_unseeded_networks_differ():
    assert not np.array_equal(fastbp.MLP([5, 7, 3]).params, fastbp.MLP([5, 7, 3]).params)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fastbp_and_reference_start_from_the_same_weights(dtype):
    a = fastbp.MLP([4, 6, 2], activation="tanh", seed=9, dtype=dtype)
    r = reference.MLP([4, 6, 2], activation="tanh", seed=9, dtype=dtype)
    assert np.array_equal(a.params.astype(np.float64), np.array(r.params))


@pytest.mark.parametrize("impl", IMPLS)
def test_fit_seed_reproduces_shuffled_training(impl):
    rng = np.random.default_rng(0)
    Xd, Yd = rng.random((12, 3)), rng.random((12, 2))
    base = impl([3, 5, 2], seed=0)
    a, b, c = _clone(base), _clone(base), _clone(base)
    ha = a.fit(Xd, Yd, epochs=3, lr=0.5, shuffle=True, seed=11)
    hb = b.fit(Xd, Yd, epochs=3, lr=0.5, shuffle=True, seed=11)
    hc = c.fit(Xd, Yd, epochs=3, lr=0.5, shuffle=True, seed=12)
    assert flat(a).tobytes() == flat(b).tobytes()
    assert ha.loss == hb.loss
    assert not np.array_equal(flat(a), flat(c))
    assert ha.loss != hc.loss
    # without shuffling the seed plays no part
    d, e = _clone(base), _clone(base)
    d.fit(Xd, Yd, epochs=2, shuffle=False, seed=1)
    e.fit(Xd, Yd, epochs=2, shuffle=False, seed=2)
    assert flat(d).tobytes() == flat(e).tobytes()


def test_fit_shuffles_in_the_documented_order():
    """shuffle=True visits the samples in default_rng(seed).permutation order,
    a fresh permutation per epoch: the same as shuffle=False on reordered data."""
    rng = np.random.default_rng(1)
    Xd, Yd = rng.random((10, 3)), rng.random((10, 1))
    a = fastbp.MLP([3, 4, 1], seed=0)
    b = a.copy()
    a.fit(Xd, Yd, epochs=2, shuffle=True, seed=7)
    perm = np.random.default_rng(7)
    for _ in range(2):
        order = perm.permutation(10)
        b.fit(Xd[order], Yd[order], shuffle=False)
    assert a.params.tobytes() == b.params.tobytes()


# -- shapes, targets, batch sizes -----------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_predict_shapes(impl):
    net = impl([3, 4, 2], seed=0)
    Xd = np.random.default_rng(0).random((5, 3))
    out = outputs(net, Xd)
    assert out.shape == (5, 2)
    one = outputs(net, Xd[2])
    assert one.shape == (2,)
    assert np.array_equal(one, out[2])
    assert outputs(net, Xd[:1]).shape == (1, 2)
    assert outputs(net, Xd[2].tolist()).shape == (2,)
    # sigmoid outputs are in (0, 1)
    assert np.all((out > 0) & (out < 1))
    if impl is fastbp.MLP:
        assert isinstance(net.predict(Xd), np.ndarray)
    single = impl([1, 2, 1], seed=0)
    assert outputs(single, [[0.5], [1.5]]).shape == (2, 1)
    assert outputs(single, [0.5]).shape == (1,)


@pytest.mark.parametrize("impl", IMPLS)
def test_one_output_accepts_1d_targets(impl):
    base = impl([2, 3, 1], seed=0)
    a, b = _clone(base), _clone(base)
    ha = a.fit(X, Y[:, 0], epochs=3, seed=1)
    hb = b.fit(X, Y, epochs=3, seed=1)
    assert ha.loss == hb.loss
    assert flat(a).tobytes() == flat(b).tobytes()
    assert a.loss(X, Y[:, 0]) == a.loss(X, Y)
    assert a.train_step(X[0], 0.0, 0.1) == b.train_step(X[0], [0.0], 0.1)   # scalar target


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("big", [4, 5, 1000])
def test_batch_size_at_least_n_samples_is_full_batch(impl, big):
    base = impl([2, 3, 1], seed=0)
    a, b = _clone(base), _clone(base)
    ha = a.fit(X, Y, epochs=3, lr=0.7, batch_size=big, seed=3)
    hb = b.fit(X, Y, epochs=3, lr=0.7, batch_size=None, seed=3)
    assert ha.loss == hb.loss
    assert flat(a).tobytes() == flat(b).tobytes()
    assert not np.array_equal(flat(a), flat(base))


# -- History --------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_history_matches_the_reference(batch_size):
    rng = np.random.default_rng(5)
    Xd, Yd = rng.random((7, 3)), rng.random((7, 2))
    net = fastbp.MLP([3, 4, 2], seed=2)
    ref = reference.MLP([3, 4, 2], seed=2)
    h = net.fit(Xd, Yd, epochs=4, lr=0.5, batch_size=batch_size, seed=8)
    hr = ref.fit(Xd, Yd, epochs=4, lr=0.5, batch_size=batch_size, seed=8)
    assert isinstance(h, fastbp.History)
    assert len(h.loss) == h.n_epochs == 4
    assert all(isinstance(v, float) for v in h.loss)
    np.testing.assert_allclose(h.loss, hr.loss, rtol=1e-12)
    assert h.wall_time > 0 and isinstance(h.wall_time, float)
    np.testing.assert_allclose(net.params, ref.params, rtol=1e-10, atol=1e-14)


def test_history_is_the_mean_loss_before_each_update():
    """Per-sample SGD: loss[e] is the mean of what train_step reports for the
    same samples in the same order. Full batch: loss[e] is loss(X, Y) at the
    start of epoch e."""
    rng = np.random.default_rng(6)
    Xd, Yd = rng.random((6, 2)), rng.random((6, 1))
    net = fastbp.MLP([2, 3, 1], seed=0)
    steps = net.copy()
    h = net.fit(Xd, Yd, epochs=3, lr=0.5, shuffle=False)
    for e in range(3):
        losses = [steps.train_step(x, t, 0.5) for x, t in zip(Xd, Yd)]
        assert h.loss[e] == pytest.approx(np.mean(losses), rel=1e-13, abs=0)
    # fit works out a tiny network's next net inputs algebraically (rounding
    # differs from train_step's sums of the updated weights).
    np.testing.assert_allclose(steps.params, net.params, rtol=1e-13, atol=0)
    assert h.loss[0] != h.loss[2]

    full = fastbp.MLP([2, 3, 1], seed=0)
    probe = full.copy()
    hf = full.fit(Xd, Yd, epochs=3, lr=0.5, batch_size=None, shuffle=False)
    for e in range(3):
        assert hf.loss[e] == pytest.approx(probe.loss(Xd, Yd), rel=1e-13, abs=0)
        probe.fit(Xd, Yd, lr=0.5, batch_size=None, shuffle=False)
    assert probe.params.tobytes() == full.params.tobytes()


@pytest.mark.parametrize("epochs", [1, 2, 7])
def test_history_length_is_epochs(epochs):
    net = fastbp.MLP([2, 3, 1], seed=0)
    h = net.fit(X, Y, epochs=epochs)
    assert len(h.loss) == h.n_epochs == epochs


def test_train_step_returns_the_loss_before_the_update():
    net = fastbp.MLP([2, 3, 1], seed=0)
    before = net.loss(X[1:2], Y[1:2])
    p0 = net.params.copy()
    g_w, g_b = net.gradient(X[1], Y[1])
    assert net.train_step(X[1], Y[1], 0.25) == pytest.approx(before, rel=1e-14)
    grad = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(g_w, g_b)])
    np.testing.assert_allclose(net.params, p0 - 0.25 * grad, rtol=1e-14, atol=1e-16)
    # update_biases=False keeps every bias
    fixed = fastbp.MLP([2, 3, 1], seed=0)
    fixed.biases[0][...] = [0.1, 0.2, 0.3]
    b0 = [b.copy() for b in fixed.biases]
    fixed.train_step(X[1], Y[1], 0.25, update_biases=False)
    fixed.fit(X, Y, epochs=2, update_biases=False)
    assert all(np.array_equal(b, c) for b, c in zip(fixed.biases, b0))


# -- views, copies, pickles ------------------------------------------------------

def test_weights_and_biases_are_views_of_params():
    net = fastbp.MLP([2, 3, 2], seed=0)
    assert all(np.shares_memory(W, net.params) for W in net.weights)
    assert all(np.shares_memory(b, net.params) for b in net.biases)
    assert [W.shape for W in net.weights] == [(3, 2), (2, 3)]
    assert [b.shape for b in net.biases] == [(3,), (2,)]
    assert net.params.size == 3 * 2 + 3 + 2 * 3 + 2
    before = net.predict(X)
    net.weights[0][0, 0] = 5.0
    assert net.params[0] == 5.0
    net.weights[0][2, 1] = -4.0
    assert net.params[5] == -4.0               # row-major, layer 0 weights first
    net.biases[0][1] = 0.75
    assert net.params[6 + 1] == 0.75           # then layer 0's biases
    net.weights[1][1, 2] = 3.0
    assert net.params[9 + 5] == 3.0
    net.biases[1][1] = -2.0
    assert net.params[-1] == -2.0
    after = net.predict(X)
    assert not np.array_equal(before, after)
    # the layout, written out: layer by layer, weights row by row, then biases
    W0_, b0_, W1_, b1_ = net.weights[0], net.biases[0], net.weights[1], net.biases[1]
    hidden = 1 / (1 + np.exp(-(X @ W0_.T + b0_)))
    np.testing.assert_allclose(after, 1 / (1 + np.exp(-(hidden @ W1_.T + b1_))), rtol=1e-14)
    # writing params shows through the views
    net.params[...] = 0.0
    assert all(np.all(W == 0) for W in net.weights)
    np.testing.assert_array_equal(net.predict(X), np.full((4, 2), 0.5))
    # training updates params in place, so the views see it
    net.fit(X, np.ones((4, 2)), epochs=2)
    assert all(np.shares_memory(W, net.params) for W in net.weights)
    assert net.weights[1][0, 0] == net.params[9] != 0.0


def test_no_bias_network():
    net = fastbp.MLP([2, 3, 1], bias=False, seed=0)
    assert net.biases is None
    assert net.params.size == 2 * 3 + 3
    net.fit(X, Y, epochs=2)
    c = net.copy()
    assert c.biases is None and c.params.tobytes() == net.params.tobytes()
    p = pickle.loads(pickle.dumps(net))
    assert p.biases is None and p.params.tobytes() == net.params.tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("how", ["copy", "pickle"])
def test_copy_and_pickle_round_trip_and_are_independent(how, dtype):
    net = fastbp.MLP([3, 4, 2], activation="tanh", output_activation="softmax",
                     loss="cross_entropy", dtype=dtype, seed=3)
    rng = np.random.default_rng(0)
    Xd = rng.random((6, 3))
    Yd = np.eye(2)[rng.integers(0, 2, 6)]
    net.fit(Xd, Yd, epochs=2)
    twin = net.copy() if how == "copy" else pickle.loads(pickle.dumps(net))
    assert type(twin) is fastbp.MLP
    assert twin.params.dtype == net.params.dtype == np.dtype(dtype)
    assert twin.params.tobytes() == net.params.tobytes()
    assert (twin.layer_sizes, twin.activations, twin.loss_name, twin.dtype, twin.bias) == \
        (net.layer_sizes, net.activations, net.loss_name, net.dtype, net.bias)
    assert np.array_equal(twin.predict(Xd), net.predict(Xd))
    assert twin.loss(Xd, Yd) == net.loss(Xd, Yd)
    assert not np.shares_memory(twin.params, net.params)
    assert all(np.shares_memory(W, twin.params) for W in twin.weights)
    # independent both ways
    saved = net.params.copy()
    twin.fit(Xd, Yd, epochs=3)
    assert net.params.tobytes() == saved.tobytes()
    twin_saved = twin.params.copy()
    net.weights[0][0, 0] += 1.0
    assert twin.params.tobytes() == twin_saved.tobytes()
    # and they keep training alike from equal states
    a, b = net.copy(), pickle.loads(pickle.dumps(net))
    a.fit(Xd, Yd, epochs=2, seed=4)
    b.fit(Xd, Yd, epochs=2, seed=4)
    assert a.params.tobytes() == b.params.tobytes()


def test_reference_pickles():
    ref = reference.MLP([3, 4, 2], seed=3)
    ref.fit(np.ones((2, 3)), np.zeros((2, 2)))
    twin = pickle.loads(pickle.dumps(ref))
    assert twin.params == ref.params
    twin.fit(np.ones((2, 3)), np.zeros((2, 2)))
    assert twin.params != ref.params


# -- divergence ------------------------------------------------------------------

def identity_net(impl, w=1.0, b=0.0):
    return impl.from_weights([[[w]]], [[b]], activation="identity")


@pytest.mark.parametrize("impl", IMPLS)
def test_fit_with_huge_lr_raises_and_restores(impl):
    # Each update multiplies |w| by about lr * x^2 = 1e10: the loss overflows
    # within the first epoch, which is one block of samples.
    net = identity_net(impl)
    before = flat(net)
    Xd = np.full((40, 1), 100.0)
    Yd = np.zeros((40, 1))
    with pytest.raises(fastbp.DivergenceError, match=r"diverged") as info:
        net.fit(Xd, Yd, lr=1e6, shuffle=False)
    assert isinstance(info.value, ValueError)
    assert np.isfinite(flat(net)).all()
    assert_unchanged(net, before)
    # still a working model
    h = net.fit(Xd[:1] / 100, Yd[:1], lr=0.1)
    assert h.loss == [0.5]
    assert flat(net) == pytest.approx([0.9, -0.1])


@pytest.mark.parametrize("impl", IMPLS)
def test_divergence_in_a_later_epoch_keeps_the_last_finite_epoch(impl):
    net = identity_net(impl)
    Xd, Yd = np.array([[1.0], [2.0]]), np.array([[0.0], [5.0]])
    with pytest.raises(fastbp.DivergenceError, match=r"epoch (\d+)") as info:
        net.fit(Xd, Yd, epochs=60, lr=1e6, shuffle=False)
    epoch = int(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert epoch > 1
    assert np.isfinite(flat(net)).all()
    replay = identity_net(impl)
    h = replay.fit(Xd, Yd, epochs=epoch - 1, lr=1e6, shuffle=False)
    assert all(math.isfinite(v) for v in h.loss)
    assert flat(replay).tobytes() == flat(net).tobytes()


@pytest.mark.parametrize("impl", IMPLS)
def test_fit_raises_when_the_loss_overflows_before_the_params(impl):
    """w = 1e200, x = 1: the loss 1/2 (1e200)^2 is infinite while the updated
    weight 1e200 - 1e-3 * 1e200 is finite. A NaN or infinite loss is
    divergence (DivergenceError's docstring), and fit must not return a
    History holding inf."""
    net = identity_net(impl, w=1e200)
    before = flat(net)
    with pytest.raises(fastbp.DivergenceError):
        net.fit([[1.0]], [[0.0]], lr=1e-3)
    assert_unchanged(net, before)


@pytest.mark.parametrize("impl", IMPLS)
def test_train_step_with_overflowing_lr_raises_and_restores(impl):
    # dE/dw = (w x - t) x = 100; w - 1e308 * 100 is -inf.
    net = identity_net(impl)
    before = flat(net)
    with pytest.raises(fastbp.DivergenceError):
        net.train_step([10.0], [0.0], 1e308)
    assert_unchanged(net, before)
    # the loss itself overflowing
    big = identity_net(impl, w=1e200)
    before = flat(big)
    with pytest.raises(fastbp.DivergenceError):
        big.train_step([1.0], [0.0], 1e-3)
    assert_unchanged(big, before)


def test_divergence_with_batches_restores_the_block():
    net = fastbp.MLP.from_weights([[[1.0, 1.0]]], [[0.0]], activation="identity")
    before = net.params.copy()
    # each batch of 4 multiplies |w| by about lr * 2 * 50^2 = 5e33
    Xd = np.full((64, 2), 50.0)
    with pytest.raises(fastbp.DivergenceError):
        net.fit(Xd, np.zeros(64), lr=1e30, batch_size=4)
    assert net.params.tobytes() == before.tobytes()


# -- threads -------------------------------------------------------------------

def test_fit_and_predict_from_two_threads():
    """fit and predict share params and the workspace; a model serialises them.
    Every prediction made during training must be that of a state between two
    fit calls, and the end state must be the one a single thread reaches."""
    rng = np.random.default_rng(0)
    Xd, Yd = rng.random((64, 8)), rng.random((64, 4))
    n_calls = 500
    net = fastbp.MLP([8, 16, 4], seed=0)

    serial = net.copy()
    states = {serial.predict(Xd).tobytes()}
    for i in range(n_calls):
        serial.fit(Xd, Yd, lr=0.2, seed=i)
        states.add(serial.predict(Xd).tobytes())

    errors, seen = [], []
    barrier = threading.Barrier(2)

    def fitter():
        try:
            barrier.wait()
            for i in range(n_calls):
                net.fit(Xd, Yd, lr=0.2, seed=i)
        except BaseException as e:        # noqa: BLE001 - reported below
            errors.append(e)

    def predictor():
        try:
            barrier.wait()
            for _ in range(n_calls):
                seen.append(net.predict(Xd).tobytes())
                assert np.isfinite(net.loss(Xd, Yd))
        except BaseException as e:        # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=fitter), threading.Thread(target=predictor)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not any(th.is_alive() for th in threads)
    assert errors == []
    assert len(seen) == n_calls
    assert np.isfinite(net.params).all()
    assert net.params.tobytes() == serial.params.tobytes()
    assert all(s in states for s in seen)


# -- one convergence check -------------------------------------------------------

@pytest.mark.parametrize("impl", [fastbp.MLP])
def test_xor_trains_below_an_error_bound(impl):
    """FANN's TrainOnDateSimpleXor: train XOR, expect the mean squared error
    below a bound, not a particular number."""
    net = impl([2, 4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    start = net.loss(X, Y)
    h = net.fit(X, Y, epochs=2000, lr=0.5, seed=0)
    mse = float(np.mean((net.predict(X) - Y) ** 2))
    assert start > 0.1
    assert mse < 0.01
    assert h.loss[-1] < h.loss[0] / 10
    assert np.array_equal(net.predict(X) > 0.5, Y > 0.5)


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
