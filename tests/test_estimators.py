"""MLPClassifier and MLPRegressor: scikit-learn's behaviour on fastbp's core.

scikit-learn's own API checks are in test_sklearn_checks.py; here are the
targets and labels, the mapping of the hyper-parameters onto ``MLP.fit``, the
stopping rules (compared with scikit-learn's own MLP where they must agree),
refused input, meta-estimators, persistence and the examples' accuracies.
"""
import io
import pickle
import runpy
import subprocess
import sys
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn import neural_network
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp.estimators import MLPClassifier, MLPRegressor
from helpers import flat_gradient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Every test fits a fixed number of epochs unless it tests stopping.
FIXED = dict(tol=0.0, n_iter_no_change=10**6)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    """Fixed epochs end with a ConvergenceWarning; the tests that want it
    catch it with pytest.warns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def blobs(n_classes=2, n_samples=120, seed=0):
    return make_classification(n_samples=n_samples, n_features=6, n_informative=4,
                               n_redundant=0, n_classes=n_classes, class_sep=2.0,
                               random_state=seed)


def linear_targets(n_outputs=3, n_samples=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 4))
    return X, X @ rng.normal(size=(4, n_outputs)) + 0.5


def fitted_state(est):
    """The attributes fit sets (not the hyper-parameters), and a copy of the
    network's parameters."""
    state = {key: value for key, value in vars(est).items() if key not in est.get_params()}
    return state, est.net_.params.copy()


def assert_unchanged(est, before):
    state, params = before
    now = {key: value for key, value in vars(est).items() if key not in est.get_params()}
    assert now.keys() == state.keys()
    for key, value in state.items():
        assert now[key] is value, key
    assert np.array_equal(est.net_.params, params)


# -- targets and labels ---------------------------------------------------------

def test_public_names():
    assert fastbp.MLPClassifier is MLPClassifier
    assert fastbp.MLPRegressor is MLPRegressor


def test_binary_string_labels():
    X, y = blobs()
    labels = np.array(["no", "yes"])[y]
    clf = MLPClassifier((8,), max_iter=60, learning_rate_init=0.01, random_state=0,
                        **FIXED).fit(X, labels)
    assert list(clf.classes_) == ["no", "yes"]
    assert (clf.n_outputs_, clf.out_activation_) == (1, "logistic")
    assert (clf.net_.activations, clf.net_.loss_name) == (("relu", "sigmoid"),
                                                          "binary_cross_entropy")
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert clf.score(X, labels) >= 0.9


def test_multiclass_softmax():
    X, y = blobs(n_classes=3, n_samples=150)
    clf = MLPClassifier((16,), max_iter=60, learning_rate_init=0.01, random_state=0,
                        **FIXED).fit(X, y + 10)
    assert list(clf.classes_) == [10, 11, 12]
    assert (clf.n_outputs_, clf.out_activation_, clf.net_.loss_name) == (
        3, "softmax", "cross_entropy")
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), 10 + proba.argmax(axis=1))
    assert clf.score(X, y + 10) >= 0.9


def test_multilabel_indicator():
    X, Y = make_multilabel_classification(n_samples=200, n_features=8, n_classes=4,
                                          random_state=0)
    clf = MLPClassifier((32,), max_iter=300, learning_rate_init=0.01, random_state=0,
                        **FIXED).fit(X, Y)
    assert (clf.n_outputs_, clf.out_activation_, clf.net_.loss_name) == (
        4, "logistic", "binary_cross_entropy")
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2, 3])
    predicted = clf.predict(X)
    assert predicted.shape == (200, 4) and set(np.unique(predicted)) <= {0, 1}
    np.testing.assert_array_equal(predicted, clf.predict_proba(X) >= 0.5)
    # scikit-learn's MLPClassifier reaches 0.88-0.92 here (seeds 0-2).
    assert (predicted == Y).mean() >= 0.85


def test_multioutput_regression():
    X, Y = linear_targets(n_outputs=3)
    reg = MLPRegressor((16,), solver="sgd", learning_rate_init=0.01, max_iter=100,
                       random_state=0, **FIXED).fit(X, Y)
    assert (reg.n_outputs_, reg.out_activation_, reg.net_.loss_name) == (
        3, "identity", "squared_error")
    assert reg.predict(X).shape == (150, 3)
    assert reg.score(X, Y) >= 0.99
    single = clone(reg).fit(X, Y[:, 0])
    assert single.predict(X).shape == (150,)


def test_fitted_attributes_are_the_network():
    X, y = blobs(n_classes=3, n_samples=90)
    clf = MLPClassifier((5, 4), max_iter=7, batch_size=20, random_state=0,
                        **FIXED).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(6, 5), (5, 4), (4, 3)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (4,), (3,)]
    for coef, W in zip(clf.coefs_, clf.net_.weights):
        assert np.shares_memory(coef, clf.net_.params)
        np.testing.assert_array_equal(coef, W.T)
    assert (clf.n_layers_, clf.n_features_in_, clf.n_iter_, clf.t_) == (4, 6, 7, 7 * 90)
    assert len(clf.loss_curve_) == 7 and clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None


def test_feature_names_from_a_data_frame():
    pd = pytest.importorskip("pandas", reason="column names come from a pandas DataFrame")
    X, y = blobs()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    clf = MLPClassifier((4,), max_iter=3, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        unnamed = clf.predict(X)
    np.testing.assert_array_equal(clf.predict(frame), unnamed)


def test_dtype_follows_X_unless_given():
    X, y = blobs()
    clf32 = MLPClassifier((4,), max_iter=3, random_state=0).fit(X.astype(np.float32), y)
    assert clf32.net_.dtype == np.float32
    assert clf32.predict_proba(X).dtype == np.float32
    forced = MLPClassifier((4,), max_iter=3, random_state=0, dtype="float64")
    assert forced.fit(X.astype(np.float32), y).net_.dtype == np.float64
    assert MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y).net_.dtype == np.float64


# -- hyper-parameters onto MLP.fit -------------------------------------------------

def test_alpha_gives_sklearns_l2_gradient_and_loss():
    """One full-batch SGD epoch: params - lr * (mean gradient + alpha * W / n),
    scikit-learn's step, which decays the weights W and not the biases; the
    recorded loss is the mean loss plus alpha |W|^2 / (2 n)."""
    X, y = blobs(n_samples=40)
    lr, alpha = 0.1, 0.3
    clf = MLPClassifier((5,), solver="sgd", momentum=0.0, alpha=alpha, batch_size=40,
                        learning_rate_init=lr, max_iter=1, shuffle=False, random_state=0)
    clf.fit(X, y)
    start = clf.net_.params.copy()
    W = flat_gradient(clf.net_.weights, [np.zeros_like(b) for b in clf.net_.biases])
    assert 0 < np.count_nonzero(W) < W.size     # the biases are left out
    Y = y.reshape(-1, 1).astype(float)
    expected_loss = clf.net_.loss(X, Y) + 0.5 * alpha * W @ W / 40
    mean_grad = np.mean([flat_gradient(*clf.net_.gradient(x, t)) for x, t in zip(X, Y)],
                        axis=0)
    clf.set_params(warm_start=True).fit(X, y)
    np.testing.assert_allclose(clf.net_.params, start - lr * (mean_grad + alpha / 40 * W),
                               rtol=1e-12, atol=1e-15)
    assert clf.loss_curve_[-1] == pytest.approx(expected_loss, rel=1e-12)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_equals_fit(solver):
    """Epochs one call at a time continue the optimizer and the sample orders:
    bit for bit the epochs of one fit."""
    X, y = blobs(n_classes=3, n_samples=100)
    params = dict(hidden_layer_sizes=(8,), solver=solver, batch_size=16, max_iter=4,
                  random_state=3, **FIXED)
    whole = MLPClassifier(**params).fit(X, y)
    steps = MLPClassifier(**params)
    for _ in range(4):
        steps.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(steps.net_.params, whole.net_.params)
    assert steps.loss_curve_ == whole.loss_curve_ and steps.t_ == whole.t_ == 400


def test_sample_weight_scales_gradients():
    """Integer weights count a sample that many times (full batch, so the two
    runs take the same steps)."""
    X, y = linear_targets(n_outputs=1, n_samples=30)
    weight = np.arange(30) % 3
    # batch_size "auto": min(200, n_samples), the 30 samples of either run
    params = dict(hidden_layer_sizes=(6,), max_iter=20, random_state=0,
                  learning_rate_init=0.01, **FIXED)
    weighted = MLPRegressor(**params).fit(X, y[:, 0], sample_weight=weight)
    repeated = MLPRegressor(**params).fit(np.repeat(X, weight, axis=0),
                                          np.repeat(y[:, 0], weight))
    np.testing.assert_allclose(weighted.net_.params, repeated.net_.params, rtol=1e-9)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("solver, params", [
    ("sgd", dict(learning_rate_init=0.05, batch_size=10)),
    ("sgd", dict(learning_rate_init=0.05, batch_size=10, nesterovs_momentum=False)),
    ("adam", dict(learning_rate_init=0.01, batch_size=10)),
    ("rprop", dict(learning_rate_init=0.01)),
])
def test_solvers_learn(solver, params):
    X, y = blobs(n_classes=3, n_samples=150)
    clf = MLPClassifier((16,), solver=solver, max_iter=60, random_state=0, **FIXED, **params)
    assert clf.fit(X, y).score(X, y) >= 0.9


def test_invscaling_learning_rate():
    X, y = blobs()
    clf = MLPClassifier((4,), solver="sgd", learning_rate="invscaling", power_t=0.5,
                        learning_rate_init=0.2, max_iter=3, random_state=0, **FIXED).fit(X, y)
    # scikit-learn's rate after e epochs of 120 samples: lr / (t_ + 1)^power_t;
    # net_.history holds every epoch of the fit.
    assert clf.net_.history.lr == [0.2] + [pytest.approx(0.2 / (e * 120 + 1) ** 0.5)
                                           for e in (1, 2)]


def test_adaptive_schedule_and_stopping_follow_sklearn():
    """With a tol no epoch can meet, every epoch counts as no improvement:
    the epochs run, the cuts of the adaptive rate and the stop are
    scikit-learn's own."""
    X, y = blobs()
    for params in (dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=1),
                   dict(solver="adam", n_iter_no_change=3)):
        params.update(hidden_layer_sizes=(4,), tol=1e6, max_iter=100, random_state=0,
                      learning_rate_init=0.01)
        ours = MLPClassifier(**params).fit(X, y)
        theirs = neural_network.MLPClassifier(**params).fit(X, y)
        assert ours.n_iter_ == theirs.n_iter_ < 100
        # Adam has no schedule; sgd's rate was cut until below 1e-6.
        last_lr = 0.01 if params["solver"] == "adam" else theirs._optimizer.learning_rate
        assert ours.net_.history.n_epochs == ours.n_iter_
        assert ours.net_.history.lr[-1] == pytest.approx(last_lr)


def test_convergence_warning_only_at_max_iter():
    X, y = blobs()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(5\)"):
        MLPClassifier((4,), max_iter=5, random_state=0, **FIXED).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier((4,), max_iter=50, tol=1e6, n_iter_no_change=2,
                            random_state=0).fit(X, y)
    # The first epoch improves on best_loss_ = inf; then 3 epochs in a row do not.
    assert clf.n_iter_ == 4


def test_early_stopping_restores_best_epoch():
    """The weights kept are the best epoch's: a second run stopped at that
    epoch ends with the very same parameters."""
    X, y = blobs(n_classes=3, n_samples=200, seed=1)
    params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.05, batch_size=8,
                  early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                  tol=0.0, max_iter=200, random_state=0)
    clf = MLPClassifier(**params).fit(X, y)
    scores = clf.validation_scores_
    best = int(np.argmax(scores))
    assert len(scores) == clf.n_iter_ == len(clf.loss_curve_) and best < clf.n_iter_ - 1
    assert clf.best_validation_score_ == max(scores) and clf.best_loss_ is None
    short = MLPClassifier(**{**params, "max_iter": best + 1}).fit(X, y)
    np.testing.assert_array_equal(clf.net_.params, short.net_.params)


def test_warm_start_continues():
    X, y = blobs()
    clf = MLPClassifier((4,), max_iter=5, random_state=0, **FIXED).fit(X, y)
    first = clf.net_.params.copy()
    clf.set_params(warm_start=True, max_iter=3).fit(X, y)
    assert (len(clf.loss_curve_), clf.n_iter_, clf.t_) == (8, 3, 8 * 120)
    assert not np.array_equal(clf.net_.params, first)
    fresh = clone(clf).set_params(warm_start=False).fit(X, y)
    assert len(fresh.loss_curve_) == 3


def test_no_hidden_layer_continues():
    """hidden_layer_sizes=() is logistic (or softmax) regression."""
    X, y = blobs(n_classes=3)
    clf = MLPClassifier((), random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert [c.shape for c in clf.coefs_] == [(6, 3)] and clf.t_ == 3 * 120


@pytest.mark.parametrize("early_stopping", [False, True])
def test_fit_is_one_call_of_mlp_fit(monkeypatch, early_stopping):
    """The estimator's epochs run in one MLP.fit (the data checked once), whose
    History holds them all; loss_curve_ adds the alpha penalty to its losses."""
    X, y = blobs()
    calls = []
    fit = fastbp.MLP.fit
    monkeypatch.setattr(fastbp.MLP, "fit",
                        lambda net, *args, **kwargs: calls.append(1) or fit(net, *args, **kwargs))
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier((4,), max_iter=7, alpha=0.0, random_state=0,
                            early_stopping=early_stopping, **FIXED).fit(X, y)
    assert len(calls) == 1 and clf.n_iter_ == clf.net_.history.n_epochs == 7
    assert clf.loss_curve_ == clf.net_.history.loss


def test_ctrl_c_keeps_what_was_learned(monkeypatch):
    """As scikit-learn: an interrupt ends training with a warning, keeping the
    epochs done."""
    X, y = blobs()
    run_block = fastbp.MLP._run_block

    def interrupted_in_epoch_3(net, *args):
        if net.history.n_epochs == 2:
            raise KeyboardInterrupt
        return run_block(net, *args)

    monkeypatch.setattr(fastbp.MLP, "_run_block", interrupted_in_epoch_3)
    with pytest.warns(UserWarning, match="interrupted"):
        clf = MLPClassifier((4,), max_iter=10, random_state=0).fit(X, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == clf.net_.history.n_epochs == 2
    assert clf.predict(X).shape == (120,)


def test_verbose_prints_each_epoch():
    X, y = blobs()
    out = io.StringIO()
    with redirect_stdout(out):
        MLPClassifier((4,), max_iter=2, verbose=True, random_state=0, **FIXED).fit(X, y)
    lines = out.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2"]
    assert all(line.startswith("Iteration") and "loss = " in line for line in lines)


# -- refused input ------------------------------------------------------------------

@pytest.mark.parametrize("name, value, error", [
    ("activation", "softplus", ValueError),
    ("solver", "newton", ValueError),
    ("max_fun", 0, ValueError),
    ("init", "zeros", ValueError),
    ("progress", "yes", TypeError),
    ("learning_rate", "optimal", ValueError),
    ("alpha", -1.0, ValueError),
    ("alpha", "0.1", TypeError),
    ("batch_size", 0, ValueError),
    ("batch_size", 2.5, TypeError),
    ("max_iter", 0, ValueError),
    ("momentum", 1.5, ValueError),
    ("learning_rate_init", 0.0, ValueError),
    ("validation_fraction", 1.0, ValueError),
    ("beta_1", 1.0, ValueError),
    ("epsilon", float("nan"), ValueError),
    ("n_iter_no_change", 0, ValueError),
    ("hidden_layer_sizes", (4, 0), ValueError),
    ("hidden_layer_sizes", "4", TypeError),
    ("shuffle", "yes", TypeError),
    ("dtype", "float16", ValueError),
])
def test_bad_hyper_parameter_is_named_and_changes_nothing(name, value, error):
    X, y = blobs()
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    before = fitted_state(clf)
    with pytest.raises(error, match=name):
        clf.set_params(**{name: value}).fit(X, y)
    assert_unchanged(clf, before)


def test_refused_calls_change_nothing():
    X, y = blobs(n_classes=3, n_samples=90)
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    before = fitted_state(clf)
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    refused = [
        (lambda: clf.fit(X_nan, y), "NaN"),
        (lambda: clf.fit(X, y[:-1]), "inconsistent numbers of samples"),
        (lambda: clf.fit(X, y, sample_weight=np.zeros(90)), "zero"),
        (lambda: clf.fit(X, y, sample_weight=-np.ones(90)), "non-negative"),
        (lambda: clf.partial_fit(X, y + 5), "has classes not in `self.classes_`"),
        (lambda: clf.partial_fit(X, y, classes=[0, 1, 2, 3]), "is not the same"),
        (lambda: clf.partial_fit(X[:, :5], y), "features"),
        (lambda: clf.set_params(warm_start=True).fit(X, y % 2), "warm_start"),
        (lambda: clf.set_params(warm_start=True, hidden_layer_sizes=(5,)).fit(X, y),
         "cannot continue"),
        (lambda: clf.set_params(warm_start=False, hidden_layer_sizes=(4,),
                                early_stopping=True).partial_fit(X, y),
         "early_stopping"),
        (lambda: clf.set_params(early_stopping=False, solver="rprop",
                                batch_size=10).fit(X, y), "full-batch"),
    ]
    for call, message in refused:
        with pytest.raises(ValueError, match=message):
            call()
        assert_unchanged(clf, before)


def test_partial_fit_needs_classes_first():
    X, y = blobs()
    clf = MLPClassifier((4,))
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "net_")
    clf.partial_fit(X[y == 0], y[y == 0], classes=[0, 1])
    assert list(clf.classes_) == [0, 1] and clf.n_outputs_ == 1


# -- meta-estimators, persistence -------------------------------------------------

def test_pipeline_and_cross_val_score():
    X, y = blobs(n_classes=3, n_samples=150)
    model = make_pipeline(StandardScaler(), MLPClassifier((16,), learning_rate_init=0.01,
                                                          batch_size=20, max_iter=40,
                                                          random_state=0))
    scores = cross_val_score(model, X * 100 + 7, y, cv=3)
    assert scores.shape == (3,) and scores.min() >= 0.85


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_grid_search_in_parallel_matches_serial(backend):
    """Processes (loky) and threads give the serial search's results."""
    X, y = blobs(n_classes=3, n_samples=120)
    search = GridSearchCV(MLPClassifier(max_iter=15, random_state=0),
                          {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-2]}, cv=3)
    serial = clone(search).fit(X, y)
    with joblib.parallel_backend(backend):
        parallel = clone(search).set_params(n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(parallel.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_array_equal(parallel.best_estimator_.net_.params,
                                  serial.best_estimator_.net_.params)


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier((6,), max_iter=5, random_state=0).fit(*blobs(n_classes=3)),
    lambda: MLPRegressor((6,), max_iter=5, random_state=0).fit(*linear_targets()),
])
def test_pickle_and_joblib_round_trips(make, tmp_path):
    est = make()
    X = blobs()[0][:, :est.n_features_in_]
    copies = [pickle.loads(pickle.dumps(est))]
    joblib.dump(est, tmp_path / "model.joblib")
    copies.append(joblib.load(tmp_path / "model.joblib"))
    for copy in copies:
        np.testing.assert_array_equal(copy.predict(X), est.predict(X))
        np.testing.assert_array_equal(copy.net_.params, est.net_.params)
        assert copy.get_params() == est.get_params()


def test_clone_gives_an_unfitted_twin():
    clf = MLPClassifier((3, 2), activation="tanh", alpha=0.5, random_state=4)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin is not clf
    fitted_twin = clone(clf.fit(*blobs()))
    assert not hasattr(fitted_twin, "net_")


# -- real data ----------------------------------------------------------------------

@pytest.mark.parametrize("example, accuracy", [("digits.py", 0.97),
                                               ("breast_cancer.py", 0.95)])
def test_examples_reach_their_accuracy(example, accuracy):
    """examples/digits.py (load_digits, one hidden layer of 64) and
    examples/breast_cancer.py, with their fixed seeds."""
    with redirect_stdout(io.StringIO()):
        _, reached = runpy.run_path(str(EXAMPLES / example))["main"]()
    assert reached >= accuracy


# -- scikit-learn stays optional -----------------------------------------------------

def test_fastbp_imports_without_sklearn():
    """With scikit-learn unimportable, fastbp imports and trains; the
    estimators say what to install."""
    code = """
import sys
sys.modules["sklearn"] = None          # import sklearn now raises ImportError
import fastbp
fastbp.MLP([2, 2, 1], seed=0).fit([[0, 1]], [1])
for make in (lambda: fastbp.MLPClassifier(), lambda: fastbp.MLPRegressor()):
    try:
        make()
    except ImportError as exc:
        print(exc)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("need scikit-learn: pip install \"fastbp[sklearn]\" (from a clone "
                               "of fastbp: pip install \".[sklearn]\")\n") == 2, result.stdout
