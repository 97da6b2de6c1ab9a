"""One sample per call: ``MLP.train_step`` and ``MLP.learn_one`` against
``fit(batch_size=1, shuffle=False)``, and their fast path against the full
checks.

A sequence of steps is fit's per-sample loop cut into calls of one sample,
so the two agree bit for bit (params and optimizer state), except where
fit's plain-SGD loop carries work from one sample to the next: on tiny
networks it computes each next sample's first-layer net inputs
algebraically (fit_tiny), and on others it sums them in the first layer's
update pass (sgd_rows_next), which with FMA rounds the last few inputs
(beyond whole registers) differently from the forward pass's sums; there
the two agree to rounding. main's train_step differs from fit in the same
places. The fast path (arrays taken as they are,
checked in C) must refuse exactly what the full checks refuse, with their
messages, and a refused or diverging call must leave params and optimizer
state as they were, byte for byte.
"""
import math
import re

import numpy as np
import pytest

import fastbp
from fastbp import _validation as check
from fastbp import optim

DTYPES = ["float32", "float64"]
# fit's optimizers that train per sample (rprop is full-batch only).
OPTIMIZERS = [
    pytest.param(dict(), id="sgd"),
    pytest.param(dict(optimizer=optim.SGD(momentum=0.9)), id="momentum"),
    pytest.param(dict(optimizer=optim.SGD(momentum=0.8, nesterov=True)), id="nesterov"),
    pytest.param(dict(optimizer=optim.SGD(weight_decay=0.01)), id="sgd-decay"),
    pytest.param(dict(optimizer="adam"), id="adam"),
    pytest.param(dict(optimizer=optim.Adam(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.001)),
                 id="adam-decay"),
]
HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
OUTPUTS = [("identity", "squared_error"), ("sigmoid", "binary_cross_entropy"),
           ("softmax", "cross_entropy"), ("softmax", "squared_error"),
           ("tanh", "squared_error"), ("relu", "squared_error")]
# Wider than a register of lanes (not tiny): 16 inputs, whole registers in
# every build; 9 hidden units (two groups of four rows and one), 3 outputs.
SIZES = (16, 9, 3)
# 13 inputs: a remainder after whole registers in the first layer.
RAGGED = (13, 9, 3)
TINY = (2, 3, 2)


def problem(sizes, loss, dtype, n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, sizes[0])).astype(dtype)
    if loss == "cross_entropy":
        Y = np.eye(sizes[-1])[rng.integers(sizes[-1], size=n)]
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, size=(n, sizes[-1])).astype(float)
    else:
        Y = rng.uniform(-0.5, 0.5, size=(n, sizes[-1]))
    return X, Y.astype(dtype)


def lr_of(options):
    return 0.01 if options.get("optimizer") == "adam" else 0.02


def snapshot(net):
    """Params and optimizer state as bytes, to compare byte for byte."""
    state = net._state
    return (net.params.tobytes(),
            None if state is None else (state.key, state.values.tobytes(), state.n_updates))


def assert_same_training(twin, net, options):
    """Params, and optimizer state where the optimizer has one, byte for
    byte (plain SGD steps make no state; fit makes an empty one)."""
    assert twin.params.tobytes() == net.params.tobytes()
    if options:
        assert snapshot(twin) == snapshot(net)


def fit_and_steps(sizes, hidden, output, loss, dtype, options):
    """(net after fit over the samples, twin after one learn_one or
    train_step per sample), from the same start; every learn_one's output
    is checked against predict just before it."""
    X, Y = problem(sizes, loss, dtype)
    net = fastbp.MLP(sizes, activation=hidden, output_activation=output, loss=loss,
                     dtype=dtype, seed=1)
    twin = net.copy()
    lr = lr_of(options)
    net.fit(X, Y, epochs=1, lr=lr, batch_size=1, shuffle=False, **options)
    for i, (x, t) in enumerate(zip(X, Y)):
        if i % 2:
            before = twin.predict(x)
            out = twin.learn_one(x, t, lr, **options)
            assert out.dtype == twin.dtype and out.shape == (sizes[-1],)
            assert out.tobytes() == before.tobytes(), f"sample {i}"
        else:
            twin.train_step(x, t, lr, **options)
    return net, twin


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", OPTIMIZERS)
@pytest.mark.parametrize("output, loss", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_steps_equal_fit_bit_for_bit(kernel_path, hidden, output, loss, options, dtype):
    net, twin = fit_and_steps(SIZES, hidden, output, loss, dtype, options)
    assert_same_training(twin, net, options)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", OPTIMIZERS)
def test_steps_equal_fit_with_a_ragged_first_layer(kernel_path, options, dtype):
    net, twin = fit_and_steps(RAGGED, "tanh", "sigmoid", "binary_cross_entropy", dtype,
                              options)
    if options or kernel_path == "baseline":       # no fused sums, or no FMA
        assert_same_training(twin, net, options)
    else:
        # sgd_rows_next's sums: measured differences of one ulp of a few
        # parameters after 12 samples.
        rtol = 1e-13 if dtype == "float64" else 1e-5
        np.testing.assert_allclose(twin.params, net.params, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", OPTIMIZERS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_steps_equal_fit_on_a_tiny_network(kernel_path, hidden, options, dtype):
    net, twin = fit_and_steps(TINY, hidden, "sigmoid", "binary_cross_entropy", dtype, options)
    if options:
        assert_same_training(twin, net, options)
    else:
        # fit_tiny's shortcut across samples: measured differences of a few
        # ulp of the parameters (at most 2e-16 in float64, 1.2e-7 in float32).
        rtol = 1e-13 if dtype == "float64" else 1e-5
        np.testing.assert_allclose(twin.params, net.params, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_steps_go_on_from_fit_and_from_each_other(kernel_path, dtype):
    # The optimizer state (Adam's moments and step count) carries from fit
    # to steps and between steps exactly as between fit's samples.
    X, Y = problem(SIZES, "squared_error", dtype, n=10)
    net = fastbp.MLP(SIZES, dtype=dtype, seed=2)
    twin = net.copy()
    net.fit(X, Y, lr=0.01, batch_size=1, shuffle=False, optimizer="adam")
    twin.fit(X[:4], Y[:4], lr=0.01, batch_size=1, shuffle=False, optimizer="adam")
    for x, t in zip(X[4:], Y[4:]):
        twin.learn_one(x, t, 0.01, optimizer="adam")
    assert twin._state.n_updates == 10
    assert snapshot(twin) == snapshot(net)


def test_plain_sgd_steps_keep_the_optimizer_state():
    # Plain SGD has no state: a step leaves the state of an earlier fit in
    # place for fit(warm_start=True).
    X, Y = problem(SIZES, "squared_error", "float64")
    net = fastbp.MLP(SIZES, seed=0)
    net.fit(X, Y, lr=0.01, optimizer="adam")
    state = snapshot(net)[1]
    net.train_step(X[0], Y[0], 0.1)
    assert snapshot(net)[1] == state


# -- the fast path against the full checks ------------------------------------------

def x_of(net, values=None):
    x = np.linspace(-1, 1, net.n_inputs).astype(net.dtype)
    if values:
        for i, v in values.items():
            x[i] = v
    return x


# (description, loss kind, x, t) of one sample, every one refused by MLP._sample:
# the bad inputs of test_api.py and test_dtypes.py, one sample at a time.
def bad_samples(net):
    n_in, K, dt = net.n_inputs, net.n_outputs, net.dtype
    t = np.zeros(K, dt)
    cases = []
    for name, v in (("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf)):
        for i in (0, n_in - 1):
            cases.append((f"x-{name}-at-{i}", x_of(net, {i: v}), t))
        for k in (0, K - 1):
            bad_t = t.copy()
            bad_t[k] = v
            cases.append((f"t-{name}-at-{k}", x_of(net), bad_t))
        if K == 1:
            cases.append((f"t-float-{name}", x_of(net), v))
    cases += [
        ("x-too-short", x_of(net)[:-1], t),
        ("x-too-long", np.append(x_of(net), 0.5).astype(dt), t),
        ("x-2d", x_of(net).reshape(1, -1), t),
        ("x-empty", np.zeros(0, dt), t),
        ("x-strings", ["a"] * n_in, t),
        ("x-objects", np.full(n_in, object()), t),
        ("x-ragged", [[0.0]] + [[0.0, 1.0]] * (n_in - 1), t),
        ("t-too-long", x_of(net), np.zeros(K + 1, dt)),
        ("t-2d", x_of(net), t.reshape(1, -1)),
        ("t-strings", x_of(net), ["0"] * K),
        ("t-object", x_of(net), [object()] * K),
    ]
    if net.loss_name == "binary_cross_entropy":
        cases += [("t-below-0", x_of(net), t - 1e-9 * (np.arange(K) == K - 1)),
                  ("t-above-1", x_of(net), t + 1.0001 * (np.arange(K) == 0))]
        if K == 1:
            cases += [("t-float-above-1", x_of(net), 1.5)]
    if net.loss_name == "cross_entropy":
        cases += [("t-negative", x_of(net), t - 0.5 * (np.arange(K) == K - 1))]
    if dt == np.float32:
        cases += [("x-overflows-float32", x_of(net).astype(np.float64) * 1e39, t)]
        if K == 1:
            cases += [("t-float-overflows-float32", x_of(net), 1e39)]
    return cases


def full_check_error(net, x, t):
    """The error MLP._sample (the full checks) raises for (x, t)."""
    with pytest.raises((ValueError, TypeError)) as info:
        net._sample(x, t)
    return type(info.value), str(info.value)


NETS = {
    "sq": dict(layer_sizes=(4, 6, 1)),
    "sq-2": dict(layer_sizes=(4, 6, 2)),
    "bce": dict(layer_sizes=(4, 6, 1), output_activation="sigmoid",
                loss="binary_cross_entropy"),
    "bce-3": dict(layer_sizes=(4, 6, 3), output_activation="sigmoid",
                  loss="binary_cross_entropy"),
    "ce": dict(layer_sizes=(4, 6, 3), output_activation="softmax", loss="cross_entropy"),
}


@pytest.mark.parametrize("options", [OPTIMIZERS[0], OPTIMIZERS[1], OPTIMIZERS[4]])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", NETS)
def test_bad_samples_are_refused_as_the_full_checks_refuse_them(kind, dtype, options):
    net = fastbp.MLP(**NETS[kind], dtype=dtype, seed=0)
    X, Y = problem(net.layer_sizes, net.loss_name, dtype, n=3)
    net.fit(X, Y, lr=0.01, batch_size=1, **options)     # a state to keep
    for name, x, t in bad_samples(net):
        exc, message = full_check_error(net, x, t)
        before = snapshot(net)
        for call in (net.train_step, net.learn_one):
            with pytest.raises(exc) as info:
                call(x, t, 0.05, **options)
            assert str(info.value) == message, f"{name}, {call.__name__}"
            assert snapshot(net) == before, f"{name}, {call.__name__}"
        if name.startswith("x-"):
            # n_jobs as a NumPy int takes predict's full checks.
            try:
                net.predict(x, n_jobs=np.int64(1))
            except (ValueError, TypeError) as error:
                with pytest.raises(type(error)) as info:
                    net.predict(x)
                assert str(info.value) == str(error), name
            else:
                assert net.predict(x).tobytes() == net.predict(x, n_jobs=np.int64(1)).tobytes()
            assert snapshot(net) == before, name


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n_inputs", [5, 37])
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_non_finite_input_is_found_wherever_it_is(kernel_path, dtype, n_inputs, bad):
    # The compiled step measures short runs in a scalar loop and long ones
    # (37: four quarters of 9 and one more) in a vector loop: every position
    # of either is seen.
    net = fastbp.MLP((n_inputs, 40, 1), seed=0, dtype=dtype)
    t = np.ones(1, dtype)
    before = snapshot(net)
    for i in range(n_inputs):
        x = np.full(n_inputs, 0.5, dtype)
        x[i] = bad
        for call in (net.train_step, net.learn_one):
            with pytest.raises(ValueError, match="x must be finite|x contains"):
                call(x, t, 0.1)
        assert snapshot(net) == before, i
    # and a finite x at the end, with every value as large as a step allows
    x = np.full(n_inputs, 1e3, dtype)
    assert math.isfinite(net.train_step(x, t, 0.1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bad_arguments_are_refused_and_change_nothing(dtype):
    net = fastbp.MLP((4, 6, 1), dtype=dtype, seed=0)
    x, t = x_of(net), np.zeros(1, dtype)
    net.train_step(x, t, 0.1, optimizer="adam")
    before = snapshot(net)
    cases = [(dict(lr=v), ValueError, "lr must be a positive finite number")
             for v in (0, 0.0, -0.1, math.nan, math.inf, 1e-400)]
    cases += [(dict(lr=v), TypeError, "lr must be a number")
              for v in ("0.1", True, 1j, [0.1], np.array([0.1]))]
    cases += [(dict(lr=0.1, update_biases=v), TypeError, "update_biases must be True or False")
              for v in ("no", 1, None)]
    cases += [
        (dict(lr=0.1, optimizer="rprop"), ValueError, "rprop' is full-batch only"),
        (dict(lr=0.1, optimizer="lbfgs"), ValueError, "unknown optimizer 'lbfgs'"),
        (dict(lr=0.1, optimizer=optim.Rprop()), ValueError, "rprop' is full-batch only"),
        (dict(lr=0.1, optimizer=42), TypeError, "optimizer must be a name"),
        (dict(lr=0.1, optimizer=optim.Step()), TypeError, "optimizer must be a name"),
        (dict(lr=0.1, schedule="step"), TypeError, "unexpected keyword argument 'schedule'"),
    ]
    if dtype == "float32":
        cases.append((dict(lr=1e39), ValueError, "is not a positive finite float32"))
    for kwargs, exc, match in cases:
        for call in (net.train_step, net.learn_one):
            with pytest.raises(exc, match=re.escape(match) if "\\" not in match else match):
                call(x, t, **kwargs)
            assert snapshot(net) == before, (kwargs, call.__name__)


def variants(a, dtype):
    """a (values exact in float32 and float64) as the inputs that miss the
    fast path: converted by the full checks, they are a again."""
    other = np.float32 if dtype == "float64" else np.float64
    wide = np.repeat(a, 2)
    read_only = a.copy()
    read_only.flags.writeable = False
    found = {"list": a.tolist(), "strided": wide[::2], "other-dtype": a.astype(other),
             "big-endian": a.astype(a.dtype.newbyteorder(">")), "read-only": read_only,
             "row": np.stack([a, a])[1], "int": a.astype(np.int64) if (a == a.round()).all()
             else a.tolist()}
    if np.isin(a, (0, 1)).all():
        found["bool"] = a.astype(bool)
    if a.size == 1:
        found.update({"float": float(a[0]), "numpy-float": np.float64(a[0]),
                      "0-d": np.array(a[0]), "int-number": int(a[0]) if a[0] == int(a[0])
                      else float(a[0])})
    return found


@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_other_layouts_and_types_give_the_fast_paths_results(dtype, n_outputs):
    base = fastbp.MLP((5, 7, n_outputs), dtype=dtype, seed=0)
    x = np.array([-1.0, -0.5, 0.0, 0.25, 1.0], dtype)
    for t in (np.full(n_outputs, 0.25, dtype), np.ones(n_outputs, dtype)):
        for kx, xv in variants(x, dtype).items():
            assert base.predict(xv).tobytes() == base.predict(x).tobytes(), kx
            for kt, tv in variants(t, dtype).items():
                for call in ("train_step", "learn_one"):
                    fast, slow = base.copy(), base.copy()
                    got_fast = getattr(fast, call)(x, t, 0.1)
                    got_slow = getattr(slow, call)(xv, tv, 0.1)
                    assert np.asarray(got_slow).tobytes() == np.asarray(got_fast).tobytes(), \
                        (call, kx, kt)
                    assert snapshot(slow) == snapshot(fast), (call, kx, kt)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_path_is_taken_for_arrays_and_rows(dtype, monkeypatch):
    # The common inputs never reach the full checks.
    net = fastbp.MLP((5, 7, 2), dtype=dtype, seed=0)
    X = np.linspace(0, 1, 15).reshape(3, 5).astype(dtype)
    Y = np.zeros((3, 2), dtype)

    def refuse(*args):
        raise AssertionError("the full checks ran")

    monkeypatch.setattr(net, "_sample", refuse)
    monkeypatch.setattr(check, "as_vector", refuse)
    net.train_step(X[1], Y[1], 0.1)
    net.learn_one(X[2], Y[2], 0.1, optimizer="adam")
    assert net.predict(X[0]).shape == (2,)


# -- divergence -------------------------------------------------------------------

def identity_net(dtype, w=1.0):
    return fastbp.MLP.from_weights([[[w]]], [[0.0]], activation="identity", dtype=dtype)


@pytest.mark.parametrize("options", OPTIMIZERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_diverging_step_changes_nothing(kernel_path, dtype, options):
    # dE/dw = (w x - t) x = 1e4; any optimizer's update with lr 1e36 (Adam:
    # lr / (1 - beta1) per unit step) leaves float32 and, at lr 1e305, float64.
    lr = 1e36 if dtype == "float32" else 1e305
    for call in ("train_step", "learn_one"):
        net = identity_net(dtype)
        net.train_step([0.5], [0.0], 0.01, **options)  # some state to keep
        before = snapshot(net)
        with pytest.raises(fastbp.DivergenceError, match="training diverged in the step"):
            getattr(net, call)([100.0], [0.0], lr, **options)
        assert snapshot(net) == before, call
        # and it still trains as an untouched copy does
        twin = identity_net(dtype)
        twin.train_step([0.5], [0.0], 0.01, **options)
        assert net.train_step([0.5], [0.2], 0.01, **options) == \
            twin.train_step([0.5], [0.2], 0.01, **options)
        assert snapshot(net) == snapshot(twin)


@pytest.mark.parametrize("options", OPTIMIZERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_an_overflowing_loss_is_refused_before_any_update(dtype, options):
    net = identity_net(dtype, w=1e30 if dtype == "float32" else 1e200)
    fresh = snapshot(net)
    with pytest.raises(fastbp.DivergenceError):
        net.learn_one([1e10], [0.0], 1e-3, **options)
    assert snapshot(net) == fresh       # no state was made either


def copied_first(net, step):
    """Whether ``step()`` copied the parameters before updating them (into
    the scratch buffer fbp_step gets, filled with NaN beforehand)."""
    net._snapshot[...] = np.nan
    step()
    return not np.isnan(net._snapshot).all()


@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_step_near_overflow_equals_fit(kernel_path, dtype, layer):
    # A weight of an eighth of the largest float. In the first layer the
    # step still cannot overflow it (its moves are far below half the gap to
    # infinity): applied in place. Above it, the bound on the deltas it
    # carries down fails: params copied first and checked after.
    big = float(np.finfo(dtype).max) / 8
    # Nine hidden units: wider than a register, so not fit_tiny's network.
    W = [np.linspace(-0.5, 0.5, 18).reshape(9, 2), np.linspace(-0.3, 0.3, 9).reshape(1, 9)]
    # Unit 0 of the hidden layer: the big weight from input 0 (always 0), or
    # its output 0 into the big weight.
    W[0][0] = [big, 0.5] if layer == 0 else [0.0, 0.0]
    W[1][0, 0] = 0.3 if layer == 0 else big
    net = fastbp.MLP.from_weights(W, [[0.0] * 9, [0.0]], activation="tanh",
                                  output_activation="sigmoid", dtype=dtype)
    twin = net.copy()
    X = np.array([[0.0, 0.5], [0.0, -0.25]], dtype)
    Y = np.array([[1.0], [0.0]], dtype)
    net.fit(X, Y, lr=0.1, batch_size=1, shuffle=False)
    copied = [copied_first(twin, lambda: twin.train_step(x, t, 0.1)) for x, t in zip(X, Y)]
    assert copied[0] == (layer == 1) and not copied[1]   # the big weight took its unit
    assert_same_training(twin, net, {})                  # to saturation, its delta to 0


def test_a_usual_step_copies_nothing(kernel_path):
    net = fastbp.MLP(SIZES, seed=0)
    X, Y = problem(SIZES, "squared_error", "float64", n=3)
    for x, t in zip(X, Y):
        assert not copied_first(net, lambda: net.train_step(x, t, 0.1))
    # A diverging one does, to restore them: an identity network's outputs
    # and deltas of order 1e100, times inputs of 1e100, times lr 1e200.
    net = fastbp.MLP(SIZES, activation="identity", seed=0)
    before = snapshot(net)
    net._snapshot[...] = np.nan
    with pytest.raises(fastbp.DivergenceError):
        net.train_step(X[0] * 1e100, Y[0], 1e200)
    assert not np.isnan(net._snapshot).all()
    assert snapshot(net) == before
    # A loss that overflows is refused before the update: nothing to copy.
    net._snapshot[...] = np.nan
    with pytest.raises(fastbp.DivergenceError):
        net.learn_one(X[0] * 1e200, Y[0], 0.1)
    assert np.isnan(net._snapshot).all()
    assert snapshot(net) == before


@pytest.mark.parametrize("width", [1, 9])
@pytest.mark.parametrize("options", OPTIMIZERS)
def test_a_hidden_overflow_under_a_finite_loss_changes_nothing(kernel_path, options, width):
    # A relu unit overflows to infinity, the sigmoid output saturates and the
    # loss stays finite, but the update would write inf * 0 = NaN. (Nine
    # hidden units: not a tiny network.)
    W0, W1 = np.zeros((width, 2)), np.zeros((1, width))
    W0[0, 0], W1[0, 0] = 1e30, 1.0
    net = fastbp.MLP.from_weights([W0, W1], [np.zeros(width), [0.0]],
                                  activation="relu", output_activation="sigmoid",
                                  dtype="float32")
    x, t = np.array([1e10, 0.0], np.float32), np.array([1.0], np.float32)
    assert np.isfinite(net.loss(x.reshape(1, -1), t.reshape(1, -1)))
    before = snapshot(net)
    with pytest.raises(fastbp.DivergenceError):
        net.learn_one(x, t, 0.1, **options)
    assert snapshot(net) == before
    with pytest.raises(fastbp.DivergenceError):
        net.fit(x.reshape(1, -1), t.reshape(1, -1), lr=0.1, **options)


@pytest.mark.parametrize("options", OPTIMIZERS)
def test_the_reference_steps_as_the_core_does(options):
    # The oracle of train_step and learn_one, optimizer state included.
    net = fastbp.MLP(SIZES, activation="tanh", output_activation="sigmoid",
                     loss="binary_cross_entropy", seed=3)
    ref = fastbp.reference.MLP.from_model(net)
    X, Y = problem(net.layer_sizes, net.loss_name, "float64", n=6)
    for x, t in zip(X, Y):
        np.testing.assert_allclose(ref.learn_one(x, t, 0.05, **options),
                                   net.learn_one(x, t, 0.05, **options), rtol=1e-12)
        assert ref.train_step(x, t, 0.05, **options) == pytest.approx(
            net.train_step(x, t, 0.05, **options), rel=1e-12)
    np.testing.assert_allclose(ref.params, net.params, rtol=1e-10, atol=1e-13)
