"""Training beyond plain per-sample SGD: optimizers, weight decay, sample
weights, learning-rate schedules, warm starts, validation and the stopping
rules, on the compiled core and the reference.

Three kinds of evidence: the core against the reference (which implements
every optimizer in plain Python) over several epochs; both against the
optimizers' formulas applied by hand to a one-weight network; and stopping
rules on data whose stopping epoch is known in advance.
"""
import math

import numpy as np
import pytest

import fastbp
from fastbp import optim, reference
from helpers import OPTIMIZERS

IMPLS = [pytest.param(fastbp.MLP, id="fastbp"), pytest.param(reference.MLP, id="reference")]

SCHEDULES = [
    pytest.param(dict(schedule="constant"), id="constant"),
    pytest.param(dict(schedule=optim.InvScaling(power_t=0.7)), id="invscaling"),
    pytest.param(dict(schedule=optim.Step(every=2, gamma=0.3)), id="step"),
    pytest.param(dict(schedule=lambda epoch: 0.05 / (1 + epoch % 2)), id="callable"),
]


def data(n=12, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.uniform(0.1, 0.9, size=(n, n_out))


def pair(sizes=(3, 5, 2), dtype="float64", **kwargs):
    """(core, reference) with the same starting weights."""
    core = fastbp.MLP(list(sizes), seed=3, dtype=dtype, **kwargs)
    ref = reference.MLP.from_weights([W.astype(np.float64) for W in core.weights],
                                     [b.astype(np.float64) for b in core.biases],
                                     activation=list(core.activations), loss=core.loss_name,
                                     dtype="float64")
    return core, ref


def params_of(net):
    return np.asarray(net.params, dtype=np.float64)


# -- the core agrees with the reference ----------------------------------------------

@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("options", OPTIMIZERS)
@pytest.mark.parametrize("batch_size", [1, 5])
def test_core_matches_reference(kernel_path, options, schedule, batch_size):
    options = {"batch_size": batch_size, **options, **schedule}
    X, Y = data()
    core, ref = pair(activation="tanh", output_activation="sigmoid")
    h_core = core.fit(X, Y, epochs=5, seed=1, **options)
    h_ref = ref.fit(X, Y, epochs=5, seed=1, **options)
    np.testing.assert_allclose(params_of(core), params_of(ref), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_core.loss, h_ref.loss, rtol=1e-10)
    assert h_core.lr == h_ref.lr
    assert params_of(core).tolist() != pair(activation="tanh")[0].params.tolist()


@pytest.mark.parametrize("options", OPTIMIZERS)
def test_sample_weights_and_fixed_biases_match_reference(kernel_path, options):
    X, Y = data(n=10)
    weights = np.linspace(0.0, 2.0, 10)
    core, ref = pair(sizes=(3, 4, 4, 2), activation="relu", output_activation="softmax",
                     loss="cross_entropy")
    Y = Y / Y.sum(axis=1, keepdims=True)
    kwargs = {"epochs": 4, "seed": 2, "sample_weight": weights, "update_biases": False,
              "batch_size": 3, **options}
    h_core, h_ref = core.fit(X, Y, **kwargs), ref.fit(X, Y, **kwargs)
    np.testing.assert_allclose(params_of(core), params_of(ref), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_core.loss, h_ref.loss, rtol=1e-10)
    for b_core, b_ref in zip(core.biases, ref.biases):
        assert np.all(b_core == 0) and b_ref == [0.0] * len(b_ref)


@pytest.mark.parametrize("options", OPTIMIZERS)
def test_float32_core_follows_the_reference(options):
    X, Y = data()
    core, ref = pair(dtype="float32", activation="sigmoid")
    core.fit(X, Y, epochs=3, seed=4, **options)
    ref.fit(X, Y, epochs=3, seed=4, **options)
    np.testing.assert_allclose(params_of(core), params_of(ref), rtol=1e-4, atol=1e-4)


# -- both against the formulas, on one weight ----------------------------------------
# One identity unit without bias, one sample x = 2 with target 1: E = 1/2 (2w - 1)^2,
# so dE/dw = 2 (2w - 1). Each optimizer's rule, applied by hand for 4 updates.

def grad(w):
    return 2.0 * (2.0 * w - 1.0)


def by_hand(optimizer, w, lr, steps=4, momentum=0.0, nesterov=False, wd=0.0):
    b = m = v = prev = 0.0
    step = lr
    for t in range(1, steps + 1):
        g = grad(w) + wd * w
        if optimizer == "sgd":
            b = momentum * b + g
            w -= lr * ((g + momentum * b if nesterov else b) if momentum else g)
        elif optimizer == "adam":
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            w -= lr * (m / (1 - 0.9 ** t)) / (math.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        else:                                  # iRprop-, etas (0.5, 1.2), steps (1e-6, 50)
            if g * prev > 0:
                step = min(step * 1.2, 50.0)
            elif g * prev < 0:
                step, g = max(step * 0.5, 1e-6), 0.0
            w -= math.copysign(step, g) if g else 0.0
            prev = g
    return w


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("optimizer, lr, extra", [
    ("sgd", 0.05, dict()),
    ("sgd", 0.05, dict(momentum=0.9)),
    ("sgd", 0.05, dict(momentum=0.9, nesterov=True)),
    ("sgd", 0.05, dict(weight_decay=0.5)),
    ("adam", 0.1, dict()),
    ("rprop", 0.3, dict()),
])
def test_optimizers_follow_their_formulas(impl, optimizer, lr, extra):
    net = impl.from_weights([[[0.1]]], activation="identity")
    net.fit([[2.0]], [1.0], epochs=4, optimizer=optim.OPTIMIZERS[optimizer](lr, **extra),
            shuffle=False)
    expected = by_hand(optimizer, 0.1, lr, momentum=extra.get("momentum", 0.0),
                       nesterov=extra.get("nesterov", False), wd=extra.get("weight_decay", 0.0))
    assert params_of(net)[0] == pytest.approx(expected, rel=1e-13)
    # The rules really differ: a plain SGD step would not land there.
    if optimizer != "sgd" or extra:
        assert expected != pytest.approx(by_hand("sgd", 0.1, lr), rel=1e-6)


def test_adam_and_sgd_match_torch():
    """The torch.optim update rules, on a small network (torch is optional)."""
    torch = pytest.importorskip("torch")
    X, Y = data(n=8)
    for name, options, make in [
            ("adam", dict(optimizer=optim.Adam(lr=0.01, weight_decay=0.01)),
             lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01)),
            ("nesterov", dict(optimizer=optim.SGD(lr=0.05, momentum=0.9, nesterov=True)),
             lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
            ("rprop", dict(optimizer="rprop", lr=0.01, batch_size=None),
             lambda p: torch.optim.Rprop(p, lr=0.01))]:
        net = fastbp.MLP([3, 4, 2], activation="tanh", seed=5)
        W = [torch.tensor(w.copy(), requires_grad=True) for w in net.weights]
        b = [torch.tensor(v.copy(), requires_grad=True) for v in net.biases]
        opt = make(W + b)
        batch = options.get("batch_size", 4) or 8
        for start in range(0, 8, batch):
            a = torch.tensor(X[start:start + batch])
            for l in range(2):
                a = a @ W[l].T + b[l]
                a = torch.tanh(a)
            loss = 0.5 * ((a - torch.tensor(Y[start:start + batch])) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.fit(X, Y, epochs=1, shuffle=False, batch_size=options.pop("batch_size", 4),
                **options)
        for l in range(2):
            np.testing.assert_allclose(net.weights[l], W[l].detach().numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=name)


# -- warm starts ---------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("options", [
    dict(optimizer="adam", lr=0.01, schedule="invscaling"),
    dict(optimizer=optim.SGD(momentum=0.9, nesterov=True), schedule=optim.Step(every=2)),
    dict(optimizer="rprop", batch_size=None),
])
def test_several_warm_calls_equal_one(impl, options):
    X, Y = data()
    once, twice = impl([3, 5, 2], seed=6), impl([3, 5, 2], seed=6)
    h = once.fit(X, Y, epochs=5, shuffle=False, **options)
    h1 = twice.fit(X, Y, epochs=2, shuffle=False, **options)
    h2 = twice.fit(X, Y, epochs=3, shuffle=False, warm_start=True, **options)
    assert params_of(twice).tolist() == params_of(once).tolist()
    assert h1.loss + h2.loss == h.loss and h1.lr + h2.lr == h.lr


def test_without_warm_start_the_state_starts_over():
    X, Y = data()
    a, b = fastbp.MLP([3, 5, 2], seed=6), fastbp.MLP([3, 5, 2], seed=6)
    a.fit(X, Y, epochs=2, shuffle=False, optimizer="adam", lr=0.01)
    b.fit(X, Y, epochs=2, shuffle=False, optimizer="adam", lr=0.01)
    a.fit(X, Y, epochs=1, shuffle=False, optimizer="adam", lr=0.01)
    b.fit(X, Y, epochs=1, shuffle=False, optimizer="adam", lr=0.01, warm_start=True)
    assert a.params.tolist() != b.params.tolist()


# -- schedules, History ---------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_history_records_schedule_and_times(impl):
    X, Y = data()
    net = impl([3, 4, 2], seed=0)
    h = net.fit(X, Y, epochs=5, lr=0.4, schedule=optim.Step(every=2, gamma=0.5))
    assert h.lr == [0.4, 0.4, 0.2, 0.2, 0.1]
    assert h.n_epochs == 5 and h.stop_reason == "epochs" and h.val_loss == []
    assert all(t1 < t2 for t1, t2 in zip(h.epoch_time, h.epoch_time[1:]))
    assert 0 < h.epoch_time[-1] <= h.wall_time
    h = net.fit(X, Y, epochs=3, lr=0.4, schedule="invscaling")
    assert h.lr == pytest.approx([0.4, 0.4 / math.sqrt(2), 0.4 / math.sqrt(3)], rel=1e-15)


# -- validation and stopping ----------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_validation_data_is_measured_after_each_epoch(impl):
    X, Y = data(n=20)
    net = impl([3, 4, 2], seed=0)
    h = net.fit(X[:15], Y[:15], epochs=3, validation_data=(X[15:], Y[15:]))
    assert len(h.val_loss) == 3
    assert h.val_loss[-1] == pytest.approx(net.loss(X[15:], Y[15:]), rel=1e-15)
    assert h.val_loss[0] != h.val_loss[-1]


def test_validation_fraction_holds_out_the_drawn_samples():
    X, Y = data(n=20)
    net, twin = fastbp.MLP([3, 4, 2], seed=0), fastbp.MLP([3, 4, 2], seed=0)
    h = net.fit(X, Y, epochs=3, validation_fraction=0.25, seed=7, shuffle=False)
    held = np.zeros(20, bool)
    held[np.random.default_rng(7).permutation(20)[:5]] = True
    h_twin = twin.fit(X[~held], Y[~held], epochs=3, validation_data=(X[held], Y[held]),
                      seed=7, shuffle=False)
    assert h.loss == h_twin.loss and h.val_loss == h_twin.val_loss


@pytest.mark.parametrize("impl", IMPLS)
def test_early_stopping_epoch_and_best_weights(impl):
    """A tiny learning rate: every epoch improves the loss, but by far less
    than tol, so epoch 1 stays the best and patience 3 ends training after
    epoch 4; restore_best goes back to the weights after epoch 1."""
    X, Y = data()
    net, after_one = impl([3, 4, 2], seed=0), impl([3, 4, 2], seed=0)
    h = net.fit(X, Y, epochs=50, lr=1e-6, patience=3, tol=0.5, restore_best=True,
                shuffle=False)
    after_one.fit(X, Y, epochs=1, lr=1e-6, shuffle=False)
    assert (h.n_epochs, h.best_epoch, h.stop_reason) == (4, 1, "early_stopping")
    assert params_of(net).tolist() == params_of(after_one).tolist()


def test_early_stopping_watches_the_validation_loss():
    """Training on targets the validation set contradicts: the training loss
    keeps falling while the validation loss rises from the first epoch."""
    X, Y = data(n=10, n_out=1)
    net = fastbp.MLP([3, 1], activation="identity", seed=0)
    h = net.fit(X, Y, epochs=40, lr=0.05, patience=2, validation_data=(X, -Y - 5),
                shuffle=False)
    assert h.stop_reason == "early_stopping" and h.n_epochs == 3 and h.best_epoch == 1
    assert h.loss[2] < h.loss[0] and h.val_loss[2] > h.val_loss[0]


@pytest.mark.parametrize("impl", IMPLS)
def test_target_loss_stops_at_the_first_epoch_below_it(impl):
    X, Y = data()
    full = impl([3, 4, 2], seed=0).fit(X, Y, epochs=10, lr=0.5, shuffle=False)
    assert all(a > b for a, b in zip(full.loss, full.loss[1:]))
    target = (full.loss[5] + full.loss[6]) / 2
    h = impl([3, 4, 2], seed=0).fit(X, Y, epochs=10, lr=0.5, shuffle=False,
                                    target_loss=target)
    assert (h.n_epochs, h.stop_reason) == (7, "target_loss")
    assert h.loss == full.loss[:7]


# -- sample weights ------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_zero_weight_samples_are_ignored(impl):
    X, Y = data(n=8)
    weights = np.array([1, 0, 1, 1, 0, 1, 1, 1.0])
    a, b = impl([3, 4, 2], seed=0), impl([3, 4, 2], seed=0)
    a.fit(X, Y, epochs=3, shuffle=False, sample_weight=weights)
    b.fit(X[weights > 0], Y[weights > 0], epochs=3, shuffle=False)
    np.testing.assert_allclose(params_of(a), params_of(b), rtol=1e-14)


def test_a_weight_scales_the_step():
    X, Y = data(n=1)
    a, b = fastbp.MLP([3, 4, 2], seed=0), fastbp.MLP([3, 4, 2], seed=0)
    ha = a.fit(X, Y, lr=0.1, sample_weight=[3.0])
    hb = b.fit(X, Y, lr=0.3)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-14)
    assert ha.loss[0] == pytest.approx(3 * hb.loss[0], rel=1e-15)


# -- divergence keeps the optimizer state whole ---------------------------------------

def test_divergence_restores_parameters_and_adam_state():
    X, Y = data(n=40)
    net = fastbp.MLP([3, 8, 2], activation="identity", seed=0)
    net.fit(X, Y, epochs=2, optimizer="adam", lr=0.01)
    before, state = net.params.copy(), net._state.values.copy()
    with pytest.raises(fastbp.DivergenceError, match="epoch 1"):
        net.fit(X * 1e200, Y, epochs=3, optimizer="adam", lr=0.01, warm_start=True)
    assert net.params.tolist() == before.tolist()
    assert net._state.values.tolist() == state.tolist()


# -- bad arguments: a clear error, nothing changed -----------------------------------

BAD = [
    # fastbp.MLP: full-batch only; the reference has no L-BFGS.
    (dict(optimizer="lbfgs"), ValueError, "unknown optimizer 'lbfgs'|'lbfgs' is full-batch"),
    (dict(optimizer=object()), TypeError, "optimizer must be a name"),
    (dict(optimizer=optim.SGD), TypeError, "optimizer must be a name"),
    (dict(optimizer="rprop"), ValueError, "full-batch only"),
    (dict(lr=0.0), ValueError, "lr must be a positive"),
    (dict(lr="0.1"), TypeError, "lr must be a number"),
    (dict(optimizer=optim.SGD(momentum=0.5), lr=float("inf")), ValueError, "lr"),
    (dict(schedule="cosine"), ValueError, "unknown schedule 'cosine'"),
    (dict(schedule=optim.Step), TypeError, "schedule must be a name"),
    (dict(schedule=lambda epoch: -1.0), ValueError, "rate of epoch 0 must be a positive"),
    (dict(callback="print"), TypeError, "callback must be None or callable"),
    (dict(patience=0), ValueError, "patience"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(target_loss=float("inf")), ValueError, "target_loss"),
    (dict(warm_start=1), TypeError, "warm_start"),
    (dict(progress="yes"), TypeError, "progress"),
    (dict(sample_weight=[1.0, 2.0]), ValueError, "sample_weight must have shape"),
    (dict(sample_weight=[1.0] * 11 + [float("nan")]), ValueError, "sample_weight contains"),
    (dict(sample_weight=[1.0] * 11 + [-1.0]), ValueError, "non-negative"),
    (dict(sample_weight=[0.0] * 12), ValueError, "zero for every sample"),
    (dict(validation_data=(np.zeros((3, 4)), np.zeros((3, 2)))), ValueError, "X has 4"),
    (dict(validation_data=np.zeros((3, 3))), ValueError, "validation_data must be a pair"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
    (dict(validation_fraction=0.01), ValueError, "no training or no validation"),
    (dict(validation_fraction=0.5, validation_data=(np.zeros((1, 3)), np.zeros((1, 2)))),
     ValueError, "not both"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kwargs, error, message", BAD)
def test_bad_training_arguments(impl, kwargs, error, message):
    X, Y = data()
    net = impl([3, 4, 2], seed=0)
    net.fit(X, Y, epochs=1, optimizer="adam", lr=0.01)      # some state to keep
    before, history = params_of(net).tolist(), net.history
    with pytest.raises(error, match=message):
        net.fit(X, Y, epochs=2, **kwargs)
    assert params_of(net).tolist() == before
    # A callable schedule's rate is checked when its epoch comes, in the loop.
    assert net.history is history or callable(kwargs.get("schedule"))


def test_a_pickled_model_continues_its_warm_start():
    import pickle
    X, Y = data()
    net = fastbp.MLP([3, 5, 2], seed=6)
    net.fit(X, Y, epochs=2, shuffle=False, optimizer="adam", lr=0.01)
    twin = pickle.loads(pickle.dumps(net))
    for model in (net, twin):
        model.fit(X, Y, epochs=2, shuffle=False, optimizer="adam", lr=0.01, warm_start=True)
    assert twin.params.tolist() == net.params.tolist()


@pytest.mark.parametrize("impl", IMPLS)
def test_n_jobs_is_checked_and_changes_nothing(impl):
    X, Y = data(n=16)
    a, b = impl([3, 4, 2], seed=0), impl([3, 4, 2], seed=0)
    a.fit(X, Y, epochs=2, batch_size=8, shuffle=False)
    b.fit(X, Y, epochs=2, batch_size=8, shuffle=False, n_jobs=2)
    np.testing.assert_allclose(params_of(a), params_of(b), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(a.predict(X)), np.asarray(b.predict(X, n_jobs=2)),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="n_jobs must be >= 1"):
        a.fit(X, Y, n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs must be an int"):
        a.predict(X, n_jobs=None)
