"""fastbp.optim's optimizers and schedules as objects (checks, defaults, repr,
equality, state), fit's callback, and the vocabulary every layer reads."""
import numpy as np
import pytest

import fastbp
from fastbp import _core, _vocabulary, mlp, optim, reference, trace


def data(n=12):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)), rng.uniform(0.1, 0.9, size=(n, 2))


# -- the objects -----------------------------------------------------------------

def test_defaults_repr_and_equality():
    assert repr(optim.SGD()) == ("SGD(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0, "
                                 "decay_biases=True)")
    assert repr(optim.Adam()) == ("Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, "
                                  "weight_decay=0.0, decay_biases=True)")
    assert repr(optim.Rprop()) == ("Rprop(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-06, 50.0), "
                                   "weight_decay=0.0, decay_biases=True)")
    assert repr(optim.Step(every=3)) == "Step(every=3, gamma=0.5)"
    assert repr(optim.Constant()) == "Constant()"
    assert optim.Adam(betas=[0.9, 0.999]) == optim.Adam()
    assert hash(optim.Adam(betas=[0.9, 0.999])) == hash(optim.Adam())
    assert optim.SGD(momentum=0.5) != optim.SGD()
    assert optim.InvScaling() != optim.Constant()
    assert [optim.OPTIMIZERS[n]().name for n in ("sgd", "adam", "rprop")] == \
        ["sgd", "adam", "rprop"]


BAD = [
    (optim.SGD, dict(lr=0.0), ValueError, "lr must be a positive"),
    (optim.SGD, dict(momentum=1.0), ValueError, "momentum"),
    (optim.SGD, dict(momentum=-0.1), ValueError, "momentum"),
    (optim.SGD, dict(momentum="0.9"), TypeError, "momentum must be a number"),
    (optim.SGD, dict(nesterov=True), ValueError, "nesterov=True needs a momentum"),
    (optim.SGD, dict(nesterov=1), TypeError, "nesterov must be True or False"),
    (optim.SGD, dict(weight_decay=-1e-3), ValueError, "weight_decay"),
    (optim.SGD, dict(weight_decay=float("nan")), ValueError, "weight_decay"),
    (optim.Adam, dict(betas=(0.9,)), ValueError, "betas must be a pair"),
    (optim.Adam, dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
    (optim.Adam, dict(eps=0.0), ValueError, "eps"),
    (optim.Rprop, dict(etas=(1.5, 2.0)), ValueError, "etas"),
    (optim.Rprop, dict(step_sizes=(2.0, 1.0)), ValueError, "step_sizes"),
    (optim.InvScaling, dict(power_t=-1.0), ValueError, "power_t"),
    (optim.Step, dict(every=0), ValueError, "every"),
    (optim.Step, dict(every=2.5), TypeError, "every must be an int"),
    (optim.Step, dict(gamma=0.0), ValueError, "gamma"),
]


@pytest.mark.parametrize("cls, kwargs, error, message", BAD)
def test_bad_arguments_are_refused_by_the_constructor(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls(**kwargs)


def test_as_optimizer_takes_names_and_objects_and_replaces_lr():
    assert optim.as_optimizer("adam") == optim.Adam()
    assert optim.as_optimizer("adam", lr=0.01) == optim.Adam(lr=0.01)
    given = optim.SGD(momentum=0.9)
    assert optim.as_optimizer(given, lr=0.5) == optim.SGD(lr=0.5, momentum=0.9)
    assert given.lr == 0.1                         # the caller's object is not changed
    given.momentum = 2.0                           # changed after its checks: checked again
    with pytest.raises(ValueError, match="momentum"):
        optim.as_optimizer(given)
    with pytest.raises(ValueError, match="not a positive finite float32"):
        optim.as_optimizer("sgd", lr=1e-50, dtype=np.float32)


@pytest.mark.parametrize("optimizer", [optim.SGD(), optim.SGD(momentum=0.5), optim.Adam(),
                                       optim.Rprop(lr=0.3)])
def test_the_state_an_optimizer_names_is_the_state_the_core_keeps(optimizer):
    compiled = mlp._compiled(optimizer)
    assert len(optimizer.initial_state()) == compiled.state_blocks
    assert compiled.lr == optimizer.lr


@pytest.mark.parametrize("impl", [fastbp.MLP, reference.MLP])
def test_a_name_is_its_class_with_defaults_and_lr_none_keeps_its_rate(impl):
    X, Y = data()
    runs = [impl([3, 4, 2], seed=1).fit(X, Y, epochs=2, seed=0, **options)
            for options in (dict(optimizer="adam"), dict(optimizer=optim.Adam()),
                            dict(optimizer=optim.Adam(lr=0.5), lr=1e-3))]
    assert runs[0].lr == [1e-3, 1e-3]
    assert runs[0].loss == runs[1].loss == runs[2].loss


def test_fit_builds_the_compiled_optimizer_once(monkeypatch):
    built = []
    compiled = mlp._compiled
    monkeypatch.setattr(mlp, "_compiled", lambda o: built.append(o) or compiled(o))
    X, Y = data()
    h = fastbp.MLP([3, 4, 2], seed=1).fit(X, Y, epochs=4, schedule=optim.Step(every=1))
    assert len(built) == 1 and h.lr == [0.1, 0.05, 0.025, 0.0125]


# -- fit's callback -----------------------------------------------------------------

@pytest.mark.parametrize("impl", [fastbp.MLP, reference.MLP])
def test_the_callback_sees_each_epoch_and_can_stop(impl):
    X, Y = data()
    net = impl([3, 4, 2], seed=1)
    seen = []

    def callback(history):
        seen.append((history.n_epochs, list(net.params)))
        return history.n_epochs == 3

    h = net.fit(X, Y, epochs=10, callback=callback)
    assert (h.n_epochs, h.stop_reason) == (3, "callback")
    assert [n for n, _ in seen] == [1, 2, 3]
    assert seen[-1][1] == list(net.params) and seen[0][1] != seen[-1][1]


# -- the vocabulary -----------------------------------------------------------------

def test_every_name_has_its_code_and_every_layer_knows_it():
    assert list(_vocabulary.ACTIVATION_CODES.values()) == list(_core.ACTIVATION_CODES)
    assert set(reference.LOSS_FUNCTIONS) == set(_vocabulary.LOSSES)
    assert set(reference.FUNCTIONS) == set(reference.DERIVATIVES) == \
        set(trace.DERIVATIVE_TEXT) == set(_vocabulary.HIDDEN_ACTIVATIONS)
    assert set(optim.OPTIMIZERS) == set(_vocabulary.OPTIMIZERS) == \
        set(_vocabulary.OPTIMIZER_CODES)
    assert set(optim.SCHEDULES) == set(_vocabulary.SCHEDULES)
