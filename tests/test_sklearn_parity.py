"""scikit-learn parity of the estimators (issue 15): initialisation, the lbfgs
solver against scikit-learn's, alpha on the weights alone, divergence,
partial_fit under lbfgs, progress. Accuracy at scikit-learn's defaults is
measured by benchmarks/bench_parity.py, not here."""
import math
import warnings

import numpy as np
import pytest
import sklearn
from sklearn import neural_network
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer, StandardScaler

import fastbp
from fastbp import optim
from fastbp.bench.peers import sklearn_draws
from fastbp.estimators import MLPClassifier, MLPRegressor
from fastbp.mlp import MLP

# Compared with scikit-learn's own objective as 1.7 computes it (with sample
# weights, and the Poisson loss): Python 3.9 gets scikit-learn 1.6 at most.
SKLEARN_1_7 = pytest.mark.skipif(
    tuple(int(v) for v in sklearn.__version__.split(".")[:2]) < (1, 7),
    reason="needs scikit-learn >= 1.7's lbfgs objective (sample weights, Poisson)")

# Short fits end with a ConvergenceWarning; the tests about it catch it.
pytestmark = pytest.mark.filterwarnings(
    f"ignore::{ConvergenceWarning.__module__}.ConvergenceWarning")


def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# -- initialisation ----------------------------------------------------------------

@pytest.mark.parametrize("init, weight_limit, bias_limit", [
    ("glorot_uniform", lambda i, o: math.sqrt(6 / (i + o)), lambda i, o: 0.0),
    ("he_uniform", lambda i, o: math.sqrt(6 / i), lambda i, o: 0.0),
    ("sklearn", lambda i, o: math.sqrt(6 / (i + o)), lambda i, o: math.sqrt(6 / (i + o))),
])
def test_named_init_draws_within_its_limits(init, weight_limit, bias_limit):
    net = MLP([30, 200, 100, 3], activation="relu", output_activation="softmax",
              loss="cross_entropy", seed=0, init=init)
    for W, b in zip(net.weights, net.biases):
        n_out, n_in = W.shape
        limit = weight_limit(n_in, n_out)
        # Uniform on [-a, a]: the extremes of thousands of draws come close to a.
        assert 0.97 * limit < np.abs(W).max() <= limit
        assert np.abs(b).max() <= bias_limit(n_in, n_out)
        if bias_limit(n_in, n_out):
            assert np.abs(b).max() > 0.5 * bias_limit(n_in, n_out)


def test_sklearn_init_has_factor_two_for_logistic():
    net = MLP([10, 50, 1], activation="sigmoid", seed=1, init="sklearn")
    assert 0.9 * math.sqrt(2 / 60) < np.abs(net.weights[0]).max() <= math.sqrt(2 / 60)
    assert np.abs(net.weights[1]).max() <= math.sqrt(2 / 51)


def test_auto_is_mlps_default_and_seeded():
    a = MLP([4, 8, 2], activation="relu", seed=3)
    b = MLP([4, 8, 2], activation="relu", seed=3, init="auto")
    np.testing.assert_array_equal(a.params, b.params)
    assert np.abs(a.weights[0]).max() > math.sqrt(6 / 12)     # He: sqrt(6 / 4) bound
    assert not any(np.any(bias) for bias in a.biases)


def test_callable_init_gets_a_seeded_generator():
    def init(rng, n_in, n_out):
        return rng.normal(size=(n_out, n_in)), np.full(n_out, 0.5)

    a, b = (MLP([3, 4, 2], seed=7, init=init) for _ in range(2))
    np.testing.assert_array_equal(a.params, b.params)
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(a.weights[0], rng.normal(size=(4, 3)))
    np.testing.assert_array_equal(a.biases[1], [0.5, 0.5])


@pytest.mark.parametrize("init", ["auto", "glorot_uniform", "he_uniform", "sklearn"])
def test_reference_draws_the_same_initial_parameters(init):
    from fastbp import reference
    fast = MLP([5, 7, 3], activation="tanh", seed=11, init=init)
    slow = reference.MLP([5, 7, 3], activation="tanh", seed=11, init=init)
    np.testing.assert_array_equal(fast.params, slow.params)


@pytest.mark.parametrize("init, match", [
    ("xavier", "init must be one of"),
    (lambda rng, n_in, n_out: np.zeros((n_out, n_in)), "pair"),
    (lambda rng, n_in, n_out: (np.zeros((n_in, n_out + 1)), np.zeros(n_out)), "shapes"),
    (lambda rng, n_in, n_out: (np.full((n_out, n_in), np.nan), np.zeros(n_out)),
     "non-finite"),
])
def test_bad_init_is_refused(init, match):
    with pytest.raises(ValueError, match=match):
        MLP([3, 4, 2], init=init)


def test_estimators_default_to_sklearns_init():
    X, y = iris()
    clf = MLPClassifier(max_iter=1, random_state=0).fit(X, y)
    assert clf.init == "sklearn"
    limit = math.sqrt(6 / (4 + 100))
    # One adam step of 1e-3 moves a parameter by about 1e-3 at most.
    assert np.abs(clf.coefs_[0]).max() <= limit + 2e-3
    assert np.abs(clf.intercepts_[0]).max() > 0.5 * limit


# -- lbfgs ---------------------------------------------------------------------------

def sklearn_loss_grad(est, packed, X, Y, sample_weight):
    """scikit-learn's own _loss_grad_lbfgs at packed parameters."""
    units = [X.shape[1]] + list(est.hidden_layer_sizes) + [Y.shape[1]]
    activations = [X] + [np.empty((len(X), u)) for u in units[1:]]
    deltas = [np.empty((len(X), u)) for u in units[1:]]
    coef_grads = [np.empty((i, o)) for i, o in zip(units[:-1], units[1:])]
    intercept_grads = [np.empty(o) for o in units[1:]]
    return est._loss_grad_lbfgs(packed, X, Y, sample_weight, activations, deltas,
                                coef_grads, intercept_grads)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
@SKLEARN_1_7
def test_lbfgs_objective_is_sklearns(n_classes, weighted):
    """Loss and gradient at the same parameters, with alpha and sample
    weights, to rounding; 60 samples take the matrix path, 5 the per-sample one."""
    for n_samples in (60, 5):
        X, y = make_classification(n_samples=n_samples, n_features=5, n_informative=3,
                                   n_redundant=0, n_classes=n_classes, n_clusters_per_class=1,
                                   random_state=0)
        if len(np.unique(y)) < n_classes:
            y[:n_classes] = np.arange(n_classes)
        sw = np.random.default_rng(0).uniform(0.2, 3, n_samples) if weighted else None
        kwargs = dict(hidden_layer_sizes=(7, 4), activation="tanh", alpha=0.7,
                      solver="lbfgs", max_iter=3, random_state=0)
        ours = MLPClassifier(**kwargs).fit(X, y)
        theirs = neural_network.MLPClassifier(**kwargs).fit(X, y)
        Y = LabelBinarizer().fit(y).transform(y).astype(float)
        packed = np.concatenate([c.ravel() for c in ours.coefs_] + ours.intercepts_)
        loss, grad = ours._loss_grad_lbfgs(packed.copy(), X, Y, sw)
        expected_loss, expected_grad = sklearn_loss_grad(theirs, packed.copy(), X, Y, sw)
        assert loss == pytest.approx(expected_loss, rel=1e-12)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("make", [
    lambda init, **kw: MLPClassifier(init=init, **kw),
    lambda init, **kw: MLPRegressor(init=init, **kw),
], ids=["classifier", "regressor"])
def test_lbfgs_follows_sklearns_path_from_the_same_start(make):
    """From scikit-learn's initial weights, L-BFGS-B on the same objective
    takes the same iterations to the same minimum."""
    X, y = iris()
    if "Regressor" in type(make("sklearn")).__name__:
        X, y = X[:, 1:], X[:, 0]
    kwargs = dict(hidden_layer_sizes=(10,), solver="lbfgs", alpha=1e-3, max_iter=60)
    ours = make(sklearn_draws(0), **kwargs)
    theirs = (neural_network.MLPClassifier if isinstance(ours, MLPClassifier)
              else neural_network.MLPRegressor)(random_state=0, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_lbfgs_max_iter_and_max_fun_warn_as_sklearn():
    X, y = iris()
    with pytest.warns(ConvergenceWarning, match=r"(?s)lbfgs failed to converge after 3 "
                      r"iteration\(s\).*max_iter=3"):
        clf = MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf = MLPClassifier(solver="lbfgs", max_fun=5, random_state=0).fit(X, y)
    assert clf.n_iter_ <= 5


def test_lbfgs_converges_quietly_and_is_accurate():
    X, y = iris()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier((10,), solver="lbfgs", alpha=1.0, random_state=0,
                            max_iter=1000).fit(X, y)
    assert clf.score(X, y) >= 0.95
    assert clf.loss_curve_[-1] == pytest.approx(clf.loss_)


def test_partial_fit_is_unavailable_under_lbfgs():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit") as refused:
        MLPRegressor(solver="lbfgs").partial_fit
    assert "only available for stochastic optimizers. lbfgs is not stochastic" in str(
        refused.value.__cause__)
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")


# -- alpha on the weights alone ----------------------------------------------------

def test_decay_biases_false_leaves_biases_undecayed():
    """Full-batch SGD with decay and a zero gradient on the biases (no
    samples' pull): the weights shrink by (1 - lr wd), the biases stay."""
    net = MLP([3, 4, 1], activation="tanh", output_activation="identity", seed=0,
              init="sklearn")
    X = np.random.default_rng(0).normal(size=(20, 3))
    Y = net.predict(X)                       # zero loss, zero gradient
    start = net.params.copy()
    net.fit(X, Y, batch_size=None, shuffle=False,
            optimizer=optim.SGD(lr=0.1, weight_decay=0.5, decay_biases=False))
    for W, W0 in zip(net.weights, MLP.from_weights(
            [w for w in _views(start, net)[0]], _views(start, net)[1]).weights):
        np.testing.assert_allclose(W, 0.95 * W0, rtol=1e-12)
    for b, b0 in zip(net.biases, _views(start, net)[1]):
        np.testing.assert_array_equal(b, b0)


def _views(params, net):
    from fastbp._layout import views
    return views(params, net._layout)


def test_optimizer_decay_biases_is_checked_and_shown():
    assert "decay_biases=False" in repr(optim.Adam(decay_biases=False))
    assert optim.Adam(decay_biases=False) != optim.Adam()
    with pytest.raises(TypeError, match="decay_biases"):
        optim.SGD(decay_biases="no")


# -- divergence ----------------------------------------------------------------------

def diverging(**kwargs):
    return MLPRegressor(hidden_layer_sizes=100, activation="identity", solver="sgd",
                        learning_rate_init=1, max_iter=20, random_state=0, **kwargs)


def test_divergence_with_early_stopping_keeps_the_best_weights():
    X, y = load_iris(return_X_y=True)
    reg = diverging(early_stopping=True)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert math.isnan(reg.validation_scores_[-1])
    assert np.isfinite(reg.net_.params).all()
    finite = [s for s in reg.validation_scores_ if not math.isnan(s)]
    assert reg.best_validation_score_ == max(finite)


def test_divergence_without_early_stopping_raises_sklearns_words():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(fastbp.DivergenceError,
                       match="Solver produced non-finite parameter weights"):
        diverging().fit(X, y)


# -- progress ------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_progress_shows_a_bar(solver, capsys):
    X, y = iris()
    MLPClassifier((5,), solver=solver, max_iter=4, random_state=0, progress=True).fit(X, y)
    shown = capsys.readouterr()
    assert "4/4" in shown.err or "4/4" in shown.out
    MLPClassifier((5,), solver=solver, max_iter=4, random_state=0).fit(X, y)
    assert capsys.readouterr() == ("", "")


# -- Poisson ---------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 10])
@pytest.mark.parametrize("sizes", [[3, 5, 2], [3, 2]])
def test_poisson_loss_matches_the_reference(batch_size, sizes):
    """exp outputs on half the Poisson deviance, per sample and by matrices,
    against fastbp.reference to rounding."""
    from fastbp import reference
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    Y = rng.poisson(2.0, size=(30, 2)).astype(float)
    net = MLP(sizes, activation="tanh", output_activation="exp", loss="poisson", seed=0)
    ref = reference.MLP.from_model(net)
    assert net.loss(X, Y) == pytest.approx(ref.loss(X, Y), rel=1e-13)
    fast = net.fit(X, Y, epochs=5, lr=0.01, batch_size=batch_size, seed=0)
    slow = ref.fit(X, Y, epochs=5, lr=0.01, batch_size=batch_size, seed=0)
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-12)
    np.testing.assert_allclose(net.params, ref.params, rtol=1e-10, atol=1e-13)


def test_poisson_loss_is_half_the_deviance():
    net = MLP([1, 1], activation="exp", loss="poisson", seed=0)
    net.weights[0][...] = 0.0
    net.biases[0][...] = math.log(2.0)           # every prediction is 2
    Y = np.array([[0.0], [1.0], [3.0]])
    expected = np.mean([2 - t * math.log(2) + (t * math.log(t) if t else 0) - t
                        for t in Y.ravel()])
    assert net.loss(np.zeros((3, 1)), Y) == pytest.approx(expected, rel=1e-14)
    with pytest.raises(ValueError, match="poisson needs non-negative targets"):
        net.fit(np.zeros((1, 1)), [[-1.0]])


@pytest.mark.parametrize("weighted", [False, True])
@SKLEARN_1_7
def test_poisson_lbfgs_objective_is_sklearns(weighted):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    y = rng.poisson(np.exp(X[:, 0] / 2)).astype(float)
    sw = rng.uniform(0.5, 2, 40) if weighted else None
    kwargs = dict(hidden_layer_sizes=(6,), loss="poisson", solver="lbfgs", alpha=0.3,
                  max_iter=2, random_state=0)
    ours = MLPRegressor(**kwargs).fit(X, y)
    theirs = neural_network.MLPRegressor(**kwargs).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    packed = np.concatenate([c.ravel() for c in ours.coefs_] + ours.intercepts_)
    Y = y.reshape(-1, 1)
    loss, grad = ours._loss_grad_lbfgs(packed.copy(), X, Y, sw)
    expected_loss, expected_grad = sklearn_loss_grad(theirs, packed.copy(), X, Y, sw)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-12)


def test_warm_start_cannot_switch_the_loss():
    X = np.abs(np.random.default_rng(0).normal(size=(20, 2)))
    reg = MLPRegressor((3,), max_iter=2, random_state=0).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="cannot continue training"):
        reg.set_params(warm_start=True, loss="poisson").fit(X, X[:, 0])


def test_poisson_regressor_refuses_negative_targets():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="negative which is not allowed for Poisson"):
        MLPRegressor(loss="poisson").fit(X, [1.0, 0.0, -1.0, 2.0])
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="huber").fit(X, [1.0, 0.0, 1.0, 2.0])


@pytest.mark.parametrize("y", [["b", "a", "c", "a"], [3, 1, 3, 1], [True, False, False, True],
                               [2.0, -1.0, 2.0, 7.0]], ids=["str", "int", "bool", "float"])
def test_targets_are_labelbinarizers(y):
    """The lookup that encodes labels gives LabelBinarizer's indicators."""
    y = np.array(y)
    X = np.arange(8.0).reshape(4, 2)
    clf = MLPClassifier((2,), max_iter=1, random_state=0).fit(X, y)
    Y = clf._encode_targets(y, False, False, None)[1]
    np.testing.assert_array_equal(Y, LabelBinarizer().fit(y).transform(y))
    with pytest.raises(ValueError, match="has classes not in"):
        clf.partial_fit(X, np.array([y[0], y[1], y[0], "z" if y.dtype.kind == "U" else 99]))
