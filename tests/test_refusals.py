"""What fastbp.MLP and fastbp.reference.MLP refuse, and what a refused call
leaves behind.

Every refusal is checked on both implementations: they share their checks
and must accept and reject the same inputs, with a message that names the
argument. "A rejected call changes nothing" is checked on the flat parameter
buffer, by value and byte for byte.
"""
import math
import re

import numpy as np
import pytest

import fastbp
from impls import IMPLS, XOR_X as X, XOR_Y as Y, assert_unchanged, flat


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
      for v in ("0.1", True, 1j, [0.1], np.array([0.1]))],  # lr=None: the optimizer's own
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
