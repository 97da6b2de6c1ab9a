"""``MLP.fit`` with ``fastbp.optim.LBFGS`` (issue 15): the estimators' lbfgs
on the same data and start, SciPy minimising the reference's loss, the
objective's gradient against finite differences, History and the stopping
rules, and refusals that leave the model as it was."""
import math

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse

import fastbp
from fastbp import _validation as check
from fastbp import optim, reference
from fastbp._lbfgs import Objective


def data(n=40, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    Y = np.tanh(X @ rng.normal(size=(n_in, n_out)))
    return X, Y


def tanh_net(sizes=(3, 6, 2), dtype="float64", seed=1):
    return fastbp.MLP(list(sizes), activation="tanh", output_activation="identity",
                      dtype=dtype, seed=seed)


def fit_lbfgs(net, X, Y, **kwargs):
    return net.fit(X, Y, batch_size=None, optimizer=optim.LBFGS(**kwargs))


# -- the optimizer object ------------------------------------------------------------

def test_lbfgs_object_has_sklearns_defaults_and_a_name():
    assert optim.LBFGS() == optim.LBFGS(max_iter=200, tol=1e-4, max_fun=15000, m=10)
    assert repr(optim.LBFGS(m=5)) == ("LBFGS(max_iter=200, tol=0.0001, max_fun=15000, m=5, "
                                      "weight_decay=0.0, decay_biases=True)")
    assert optim.LBFGS.name == "lbfgs"
    assert optim.as_optimizer("lbfgs", full_batch=True) == optim.LBFGS()


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(max_iter=2.5), TypeError, "max_iter"),
    (dict(tol=-1e-3), ValueError, "tol"),
    (dict(max_fun=0), ValueError, "max_fun"),
    (dict(m=0), ValueError, "m must"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay"),
    (dict(decay_biases=1), TypeError, "decay_biases"),
])
def test_lbfgs_object_checks_itself(kwargs, error, message):
    with pytest.raises(error, match=message):
        optim.LBFGS(**kwargs)


# -- the same numbers as the estimators' lbfgs and as SciPy on the reference ------------

@pytest.mark.parametrize("weighted", [False, True])
def test_fit_is_the_regressors_lbfgs_from_the_same_start(weighted):
    """alpha / n on the weights alone is the estimator's objective: the same
    iterations give the same parameters, bit for bit."""
    from fastbp.estimators import MLPRegressor
    X, Y = data(n=60)
    y = Y[:, 0]
    sw = np.random.default_rng(3).uniform(0.5, 2.0, 60) if weighted else None
    start = fastbp.MLP([3, 8, 1], activation="relu", output_activation="identity", seed=4)
    layers = {(W.shape[1], W.shape[0]): (W.copy(), b.copy())
              for W, b in zip(start.weights, start.biases)}
    est = MLPRegressor((8,), solver="lbfgs", alpha=0.3, max_iter=25, tol=1e-6,
                       init=lambda rng, n_in, n_out: layers[n_in, n_out])
    with pytest.warns(Warning, match="lbfgs failed to converge"):
        est.fit(X, y, sample_weight=sw)
    # fit's mean is over n: weights of mean 1 make it the estimator's sum_s w_s E_s / S.
    total = 60.0 if sw is None else float(np.sum(sw))
    history = start.fit(X, y, batch_size=None,
                        sample_weight=None if sw is None else sw * 60 / total,
                        optimizer=optim.LBFGS(max_iter=25, tol=1e-6, weight_decay=0.3 / total,
                                              decay_biases=False))
    assert history.n_epochs == est.n_iter_ == 25
    assert history.stop_reason == "max_iter"
    if sw is None:
        np.testing.assert_array_equal(start.params, est.net_.params)
    else:   # the same objective to rounding
        np.testing.assert_allclose(start.params, est.net_.params, rtol=1e-9, atol=1e-12)


def reference_objective(net, X, Y, decay):
    """fastbp.reference's mean loss plus decay / 2 |params|^2 and its gradient,
    at flat parameters laid out as net.params."""
    shape = net.copy()

    def f(params):
        shape.params[...] = params
        ref = reference.MLP.from_weights(shape.weights, shape.biases, activation="tanh",
                                         output_activation="identity")
        grad = np.zeros_like(params)
        for x, t in zip(X, Y):
            grad_w, grad_b = ref.gradient(x, t)
            grad += np.concatenate([np.concatenate([np.ravel(gw), gb])
                                    for gw, gb in zip(grad_w, grad_b)])
        return (ref.loss(X, Y) + 0.5 * decay * float(params @ params),
                grad / len(X) + decay * params)
    return f


def test_fit_is_scipy_minimising_the_references_loss():
    X, Y = data(n=25)
    net = tanh_net()
    theirs = scipy.optimize.minimize(reference_objective(net, X, Y, 0.01), net.params.copy(),
                                     method="L-BFGS-B", jac=True,
                                     options={"maxiter": 40, "gtol": 1e-4, "maxfun": 15000})
    history = fit_lbfgs(net, X, Y, max_iter=40, weight_decay=0.01)
    assert history.n_epochs == theirs.nit
    np.testing.assert_allclose(net.params, theirs.x, rtol=1e-7, atol=1e-9)
    assert history.loss[-1] + 0.005 * float(net.params @ net.params) == \
        pytest.approx(theirs.fun, rel=1e-10)


@pytest.mark.parametrize("decay_biases", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_objective_gradient_matches_finite_differences(decay_biases, weighted, sparse):
    X, Y = data(n=12)
    X[X < 0] = 0.0
    net = tanh_net()
    w = np.random.default_rng(5).uniform(0.5, 2.0, 12) if weighted else None
    rows = (check.as_matrix(scipy.sparse.csr_matrix(X), "X", 3, net.dtype,
                                         "features") if sparse else X)
    f = Objective(net, rows, Y, w, 1 / 12, 0.05, decay_biases)
    p = net.params.copy()
    _, grad = f(p)
    eps = 1e-6
    numeric = np.array([(f(p + eps * e)[0] - f(p - eps * e)[0]) / (2 * eps)
                        for e in np.eye(p.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    # The penalty's gradient: decay * param on the weights, and on the biases
    # only with decay_biases.
    decayed = np.ones(p.size, bool)
    if not decay_biases:
        for start, b in zip(net._layout.b_offsets, net.biases):
            decayed[start:start + b.size] = False
    penalty = grad - Objective(net, rows, Y, w, 1 / 12, 0.0, decay_biases)(p)[1]
    np.testing.assert_allclose(penalty, np.where(decayed, 0.05 * p, 0.0), atol=1e-15)


def test_sparse_input_fits_as_dense():
    X, Y = data()
    X[np.abs(X) < 0.7] = 0.0
    dense, sparse = tanh_net(), tanh_net()
    fit_lbfgs(dense, X, Y, max_iter=15)
    fit_lbfgs(sparse, scipy.sparse.csr_matrix(X), Y, max_iter=15)
    np.testing.assert_allclose(sparse.params, dense.params, rtol=1e-9, atol=1e-12)


# -- History, stopping rules, dtypes -------------------------------------------------------

def test_history_has_one_entry_per_iteration():
    X, Y = data()
    net = tanh_net()
    seen = []
    history = fit_lbfgs(net, X, Y, max_iter=12)
    assert history.n_epochs == 12 and history.stop_reason == "max_iter"
    assert all(math.isnan(lr) for lr in history.lr)
    assert history.loss[-1] == pytest.approx(net.loss(X, Y), rel=1e-12)
    assert history.loss == sorted(history.loss, reverse=True)     # L-BFGS-B descends
    assert net.history is history and len(history.epoch_time) == 12

    def stop_at_4(h):
        seen.append(net.loss(X, Y))
        return h.n_epochs == 4
    history = net.fit(X, Y, batch_size=None, optimizer="lbfgs", callback=stop_at_4)
    assert history.n_epochs == 4 and history.stop_reason == "callback"
    # the model stays at the iterate
    assert seen[-1] == pytest.approx(net.loss(X, Y), rel=1e-12)
    assert history.loss[-1] == pytest.approx(seen[-1], rel=1e-12)


def test_stop_reasons_converged_and_max_fun():
    X, Y = data()
    history = fit_lbfgs(tanh_net(), X, Y, max_iter=5000, tol=1e-3)
    assert history.stop_reason == "converged" and history.n_epochs < 5000
    history = fit_lbfgs(tanh_net(), X, Y, max_fun=6)
    assert history.stop_reason == "max_fun"


def test_validation_target_loss_and_restore_best():
    X, Y = data(n=60)
    net = tanh_net()
    history = net.fit(X, Y, batch_size=None, optimizer="lbfgs", validation_fraction=0.25,
                      seed=0, patience=3, restore_best=True)
    assert len(history.val_loss) == history.n_epochs
    assert history.best_epoch is not None
    X_val, Y_val = X[-15:], Y[-15:]
    net = tanh_net()
    history = net.fit(X, Y, batch_size=None, optimizer="lbfgs",
                      validation_data=(X_val, Y_val), target_loss=0.05)
    assert history.stop_reason == "target_loss" and history.loss[-1] < 0.05
    assert history.val_loss[-1] == net.loss(X_val, Y_val)


def test_float32_trains_and_stays_float32():
    X, Y = data()
    net = tanh_net(dtype="float32")
    before = net.loss(X, Y)
    history = fit_lbfgs(net, X, Y, max_iter=30)
    assert net.params.dtype == np.float32
    assert history.loss[-1] < 0.2 * before
    twin = tanh_net()
    fit_lbfgs(twin, X, Y, max_iter=5)
    single = tanh_net(dtype="float32")
    fit_lbfgs(single, X, Y, max_iter=5)
    np.testing.assert_allclose(single.params, twin.params, rtol=1e-3, atol=1e-4)


def test_warm_start_restarts_from_the_parameters_and_drops_optimizer_state():
    X, Y = data()
    net = tanh_net()
    net.fit(X, Y, epochs=2, optimizer="adam", lr=0.01)
    assert net._state is not None
    fit_lbfgs(net, X, Y, max_iter=5)
    assert net._state is None
    after_five = net.params.copy()
    net.fit(X, Y, batch_size=None, optimizer="lbfgs", warm_start=True)
    assert net.loss(X, Y) < tanh_net().loss(X, Y)
    assert not np.array_equal(net.params, after_five)


def test_n_jobs_gives_the_same_result():
    X, Y = data(n=300)
    one, two = tanh_net(), tanh_net()
    fit_lbfgs(one, X, Y, max_iter=10)
    two.fit(X, Y, batch_size=None, optimizer=optim.LBFGS(max_iter=10), n_jobs=2)
    np.testing.assert_allclose(one.params, two.params, rtol=1e-10, atol=1e-12)


# -- refusals: a clear error, nothing changed ------------------------------------------

BAD = [
    (dict(), ValueError, "'lbfgs' is full-batch only .*batch_size=None"),
    (dict(batch_size=10), ValueError, "full-batch only"),
    (dict(batch_size=None, epochs=5), ValueError, r"LBFGS\(max_iter=5\)"),
    (dict(batch_size=None, lr=0.1), ValueError, "takes no lr"),
    (dict(batch_size=None, schedule="step"), ValueError, "no learning rate to schedule"),
    (dict(batch_size=None, schedule=lambda e: 0.1), ValueError, "no learning rate"),
    (dict(batch_size=None, update_biases=False), ValueError, "update_biases=False"),
    (dict(batch_size=None, callback=3), TypeError, "callback"),
    (dict(batch_size=None, patience=0), ValueError, "patience"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD)
def test_bad_options_change_nothing(kwargs, error, message):
    X, Y = data()
    net = tanh_net()
    net.fit(X, Y, epochs=1, optimizer="adam", lr=0.01)
    before, state, history = net.params.copy(), net._state, net.history
    with pytest.raises(error, match=message):
        net.fit(X, Y, optimizer="lbfgs", **kwargs)
    np.testing.assert_array_equal(net.params, before)
    assert net._state is state and net.history is history


def test_read_only_params_are_refused():
    X, Y = data()
    net = tanh_net()
    before = net.params.copy()
    net.params.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        net.fit(X, Y, batch_size=None, optimizer="lbfgs")
    np.testing.assert_array_equal(net.params, before)


def test_a_non_finite_result_is_refused_with_the_model_unchanged():
    X, Y = data()
    net = fastbp.MLP([3, 4, 2], activation="identity", seed=0)
    net.fit(X, Y, epochs=1, optimizer="adam", lr=0.01)
    before, state = net.params.copy(), net._state
    with pytest.raises(fastbp.DivergenceError, match="L-BFGS diverged"):
        net.fit(X * 1e300, Y, batch_size=None, optimizer="lbfgs")
    np.testing.assert_array_equal(net.params, before)
    assert net._state is state


def test_the_reference_and_the_one_sample_steps_refuse_lbfgs():
    X, Y = data()
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        reference.MLP([3, 4, 2], seed=0).fit(X, Y, batch_size=None, optimizer="lbfgs")
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        tanh_net().train_step(X[0], Y[0], optimizer="lbfgs")


def test_an_interrupt_leaves_the_model_at_the_latest_iterate():
    X, Y = data()
    net = tanh_net()
    iterates = []

    def interrupt_at_3(history):
        iterates.append(net.params.copy())
        if history.n_epochs == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, batch_size=None, optimizer="lbfgs", callback=interrupt_at_3)
    assert net.history.n_epochs == 3 and net.history.wall_time > 0
    np.testing.assert_array_equal(net.params, iterates[-1])
    assert not np.array_equal(iterates[-1], iterates[-2])
