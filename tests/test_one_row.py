"""The scikit-learn estimators on one row at a time (src/fastbp/_one_row.py):
partial_fit, predict and predict_proba of a stream take one compiled step,
and give what the full path gives, bit for bit."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.exceptions import NotFittedError  # noqa: E402

from fastbp import MLPClassifier, MLPRegressor  # noqa: E402

N = 40


def stream(kind, n_classes=2, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 5)).astype(dtype)
    if kind == "classifier":
        y = np.array(["cat", "dog", "emu"][:n_classes])[rng.integers(0, n_classes, N)]
    else:
        y = (X @ rng.normal(size=5)).astype(dtype)
    return X, y


def full_path(X):
    """X as a list: the same values, which the one-row path leaves to the
    full one (the estimators are given their dtype, which a list lacks)."""
    return X.tolist()


SETTINGS = [
    dict(solver="adam"),
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=True, learning_rate="invscaling",
         learning_rate_init=0.05),
    dict(solver="sgd", momentum=0.0, learning_rate="adaptive", tol=10.0, n_iter_no_change=2,
         alpha=0.01),
]


def learn(make, X, y, convert, classes=None, as_lists=False):
    """predict, predict_proba and partial_fit a row at a time; with
    as_lists, y and classes as new lists each call, as streams often do."""
    est = make()
    outputs = []
    for i in range(N):
        row = convert(X[i:i + 1])
        if i:
            outputs.append(est.predict_proba(row) if hasattr(est, "predict_proba")
                           else est.predict(row))
            outputs.append(est.predict(row))
        label = y[i:i + 1].tolist() if as_lists else y[i:i + 1]
        given = {} if classes is None else dict(
            classes=list(classes) if as_lists else classes)
        est.partial_fit(row, label, **given)
    return est, outputs


def assert_same(fast, full):
    np.testing.assert_array_equal(fast.net_.params, full.net_.params)
    assert fast.loss_curve_ == full.loss_curve_
    assert (fast.t_, fast.n_iter_, fast._lr, fast._no_improvement_count, fast.best_loss_) == \
        (full.t_, full.n_iter_, full._lr, full._no_improvement_count, full.best_loss_)
    np.testing.assert_array_equal(fast.net_._state.values, full.net_._state.values)
    assert fast.net_._state.n_updates == full.net_._state.n_updates


@pytest.mark.parametrize("as_lists", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_stream_equals_the_full_path(settings, n_classes, dtype, as_lists):
    X, y = stream("classifier", n_classes, dtype)
    classes = np.unique(y)

    def make():
        return MLPClassifier((7,), random_state=0, dtype=dtype, **settings)
    fast, fast_out = learn(make, X, y, lambda r: r, classes, as_lists)
    full, full_out = learn(make, X, y, full_path, classes, as_lists)
    assert fast._one_row is not None
    assert_same(fast, full)
    for a, b in zip(fast_out, full_out):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype and a.shape == b.shape


@pytest.mark.parametrize("settings", SETTINGS)
def test_regressor_stream_equals_the_full_path(settings):
    X, y = stream("regressor")

    def make():
        return MLPRegressor((6,), random_state=0, **settings)
    fast, fast_out = learn(make, X, y, lambda r: r)
    full, full_out = learn(make, X, y, full_path)
    assert_same(fast, full)
    for a, b in zip(fast_out, full_out):
        np.testing.assert_array_equal(a, b)


def test_the_one_row_path_is_taken(monkeypatch):
    X, y = stream("classifier")
    est = MLPClassifier((7,), random_state=0).partial_fit(X[:1], y[:1], classes=np.unique(y))
    calls = []
    monkeypatch.setattr(type(est), "_fit", lambda *a, **k: calls.append(a))
    est.partial_fit(X[1:2], y[1:2])
    est.partial_fit(X[2:3], [y[2]], classes=["cat", "dog"])
    est.predict(X[3:4])
    assert calls == []


def test_what_the_full_path_refuses_is_refused():
    X, y = stream("classifier")
    est = MLPClassifier((7,), random_state=0)
    with pytest.raises(NotFittedError):
        est.predict(X[:1])
    est.partial_fit(X[:1], y[:1], classes=np.unique(y))
    before = est.net_.params.copy(), list(est.loss_curve_)
    bad = X[1:2].copy()
    bad[0, 2] = np.nan
    for X_bad, y_bad, match in [(bad, y[1:2], "NaN"), (X[1:2], np.array(["emu"]), "classes"),
                                (X[1:2, :4], y[1:2], "features")]:
        with pytest.raises(ValueError, match=match):
            est.partial_fit(X_bad, y_bad)
        np.testing.assert_array_equal(est.net_.params, before[0])
        assert est.loss_curve_ == before[1]
    with pytest.raises(ValueError, match="NaN"):
        est.predict(bad)
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X[1:2], y[1:2], classes=["ant", "bee"])


def test_changed_parameters_take_the_full_path_again():
    X, y = stream("classifier")
    est = MLPClassifier((7,), solver="sgd", random_state=0)
    est.partial_fit(X[:1], y[:1], classes=np.unique(y))
    est.set_params(learning_rate_init=-1.0)
    with pytest.raises(ValueError, match="learning_rate_init"):
        est.partial_fit(X[1:2], y[1:2])
    est.set_params(learning_rate_init=0.01, batch_size=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.partial_fit(X[1:2], y[1:2])
    assert any("batch_size=5" in str(w.message) for w in caught)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_row_labels_are_the_binarizers(n_classes):
    X, y = stream("classifier", n_classes)
    est = MLPClassifier((3,), max_iter=2, random_state=0).fit(X, y)
    rng = np.random.default_rng(1)
    outs = rng.random((200, est.n_outputs_))
    outs[:20] = 0.5                                 # the threshold, and ties
    outs[20:40, :1] = np.nextafter(0.5, 1)
    for out in outs:
        expected = est._binarizer.inverse_transform(out if n_classes == 2 else out[None])
        got = est._labels(out[None])
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype
