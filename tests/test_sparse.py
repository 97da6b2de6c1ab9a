"""Sparse X (csrc/fbp_sparse.template.h, fastbp._sparse): the same results as
the same data dense, to rounding, on every loop; bad sparse input refused
before anything changes; memory proportional to the stored entries.

The sparse loops add the first layer's products over the stored entries
only, in another order than the dense loops' dot products and BLAS, so each
number differs by a few ulp, carried through training: helpers.TOL.
"""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import fastbp
from fastbp import MLP, _core, optim
from fastbp._sparse import SparseRows
from fastbp.estimators import MLPClassifier, MLPRegressor
from helpers import OPTIMIZERS, TOL, assert_close, per_sample_loop, random_targets

# (layer_sizes, activation, output_activation, loss, targets): every
# activation and loss; a single layer (the sparse input straight into the
# output layer), one and two hidden layers.
NETWORKS = [
    pytest.param([30, 3], "sigmoid", None, "squared_error", "unit", id="30-3-sigmoid"),
    pytest.param([30, 7, 2], "tanh", "identity", "squared_error", "real", id="30-7-2-tanh"),
    pytest.param([30, 9, 4], "relu", "softmax", "cross_entropy", "one_hot", id="30-9-4-relu-ce"),
    pytest.param([30, 6, 5, 1], "leaky_relu", "sigmoid", "binary_cross_entropy", "binary",
                 id="30-6-5-1-leaky-bce"),
    pytest.param([30, 8, 3], "identity", "softmax", "cross_entropy", "distribution",
                 id="30-8-3-identity-ce"),
]
N_SAMPLES = 48
EPOCHS = 2
# Batch 1 (the per-sample loop), and batch 16 on the matrix loop and forced
# through the per-sample loop.
LOOPS = [pytest.param(1, False, id="per-sample"), pytest.param(16, False, id="b16-matrix"),
         pytest.param(16, True, id="b16-per-sample")]


def awkward_csr(rng, n, n_features, density=0.15):
    """A CSR matrix with what real ones hold: empty rows, explicit zeros,
    unsorted and repeated column indices (which add up), int64 indices.
    Returns it and its dense equal."""
    X = sp.random(n, n_features, density=density, format="csr", random_state=rng,
                  data_rvs=lambda k: rng.normal(size=k))
    rows = []
    for r in range(n):
        start, end = X.indptr[r], X.indptr[r + 1]
        if r % 7 == 3:
            end = start             # an empty row
        cols, vals = X.indices[start:end][::-1], X.data[start:end][::-1]  # unsorted
        if r % 5 == 1 and end > start:
            cols = np.append(cols, [cols[0], (cols[0] + 1) % n_features])  # a repeat, a zero
            vals = np.append(vals, [0.5, 0.0])
        rows.append((cols, vals))
    indptr = np.cumsum([0] + [len(c) for c, _ in rows]).astype(np.int64)
    indices = np.concatenate([c for c, _ in rows]).astype(np.int64)
    data = np.concatenate([v for _, v in rows])
    X = sp.csr_matrix((data, indices, indptr), shape=(n, n_features))
    X.indices, X.indptr = indices, indptr    # SciPy's constructor makes them int32
    assert n < 20 or (np.diff(indices) > 0).sum() < (np.diff(indices) < 0).sum()
    return X, X.toarray()


def wide_csr(n, n_features, per_row, seed=0):
    """n rows of n_features with per_row stored entries each, made directly
    (scipy.sparse.random draws from all n * n_features places: seconds)."""
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n_features, n * per_row)
    indptr = np.arange(0, n * per_row + 1, per_row)
    return sp.csr_matrix((rng.uniform(size=n * per_row), indices, indptr),
                         shape=(n, n_features))


def pair(sizes, activation, output_activation, loss, dtype):
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=dtype, seed=3)
    return net, net.copy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch,force_per_sample", LOOPS)
@pytest.mark.parametrize("opts", OPTIMIZERS)
@pytest.mark.parametrize("sizes,activation,output_activation,loss,targets", NETWORKS)
def test_fit_sparse_equals_dense(sizes, activation, output_activation, loss, targets, opts,
                                 batch, force_per_sample, dtype):
    rng = np.random.default_rng(sum(sizes))
    X, Xd = awkward_csr(rng, N_SAMPLES, sizes[0])
    Y = random_targets(rng, targets, N_SAMPLES, sizes[-1])
    weight = rng.uniform(0.5, 2.0, N_SAMPLES)
    sparse, dense = pair(sizes, activation, output_activation, loss, dtype)
    opts = dict(dict(batch_size=batch, lr=0.01), **opts)
    fit = dict(epochs=EPOCHS, seed=1, sample_weight=weight, **opts)
    if force_per_sample:
        with per_sample_loop():
            h_sparse, h_dense = sparse.fit(X, Y, **fit), dense.fit(Xd, Y, **fit)
    else:
        h_sparse, h_dense = sparse.fit(X, Y, **fit), dense.fit(Xd, Y, **fit)
    tol = TOL[dtype]
    assert_close(sparse.params, dense.params, what="parameters", **tol)
    assert_close(h_sparse.loss, h_dense.loss, what="epoch losses", **tol)
    assert not np.array_equal(sparse.params, MLP(sizes, activation=activation,
                                                 output_activation=output_activation,
                                                 loss=loss, dtype=dtype, seed=3).params)
    assert sparse.params.dtype == np.dtype(dtype)


@pytest.mark.parametrize("batch", [1, 16])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_plain_sgd_without_special_paths(batch, dtype, kernel_path):
    """Plain SGD's fused updates (per sample, and a batch in one chunk)
    against the gradient buffer and optimizer step, and against dense
    input, on every kernel path."""
    rng = np.random.default_rng(5)
    X, Xd = awkward_csr(rng, N_SAMPLES, 30)
    Y = rng.uniform(size=(N_SAMPLES, 2))
    sparse, dense = pair([30, 8, 2], "tanh", "sigmoid", "squared_error", dtype)
    _core.set_special_paths(False)
    try:
        sparse.fit(X, Y, epochs=2, batch_size=batch, lr=0.1, seed=0)
    finally:
        _core.set_special_paths(True)
    dense.fit(Xd, Y, epochs=2, batch_size=batch, lr=0.1, seed=0)
    assert_close(sparse.params, dense.params, what="parameters", **TOL[dtype])


def test_plain_sgd_touches_only_stored_columns():
    """Per-sample and one-chunk batches of plain SGD leave the first-layer
    weights of columns no sample stores exactly as they were."""
    rng = np.random.default_rng(6)
    X, _ = awkward_csr(rng, 40, 30, density=0.05)
    unused = np.setdiff1d(np.arange(30), X.indices)
    assert unused.size > 0
    for batch in (1, 16):
        net = MLP([30, 5, 1], seed=0)
        before = net.weights[0].copy()
        net.fit(X, rng.uniform(size=40), epochs=2, batch_size=batch, lr=0.5, seed=0)
        np.testing.assert_array_equal(net.weights[0][:, unused], before[:, unused])
        assert not np.array_equal(net.weights[0], before)


# Stateful optimizers, with and without weight decay on the weights (as
# scikit-learn's alpha): the first-layer weights of a feature no sample of a
# batch stores still move, by their momentum and decay alone.
STATEFUL = [
    pytest.param(optim.Adam(lr=0.02), id="adam"),
    pytest.param(optim.Adam(lr=0.02, weight_decay=0.01, decay_biases=False), id="adam-alpha"),
    pytest.param(optim.SGD(lr=0.05, momentum=0.9), id="momentum"),
    pytest.param(optim.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01,
                           decay_biases=False), id="nesterov-alpha"),
]


def rare_features(n, n_features, seed):
    """n rows of 3 stored entries among n_features: most features are
    absent from most batches, as in text data."""
    X = wide_csr(n, n_features, 3, seed)
    return X, X.toarray()


def fit_both(X, Xd, Y, **fit):
    """A sparse and a dense fit of the same network; both models and histories."""
    sparse, dense = pair([X.shape[1], 6, 2], "relu", "sigmoid", "squared_error", "float64")
    return sparse, dense, sparse.fit(X, Y, **fit), dense.fit(Xd, Y, **fit)


@pytest.mark.parametrize("batch", [1, 4, 32])
@pytest.mark.parametrize("optimizer", STATEFUL)
def test_stateful_optimizers_on_rare_features_equal_dense(optimizer, batch):
    """Several epochs in which most first-layer rows get no data gradient for
    many updates: parameters, optimizer state and losses as dense input's."""
    X, Xd = rare_features(96, 200, seed=batch)
    Y = np.random.default_rng(1).uniform(size=(96, 2))
    sparse, dense, h_sparse, h_dense = fit_both(X, Xd, Y, epochs=4, batch_size=batch,
                                                optimizer=optimizer, seed=0)
    assert_close(sparse.params, dense.params, what="parameters", **TOL["float64"])
    assert_close(sparse._state.values, dense._state.values, what="optimizer state",
                 **TOL["float64"])
    assert sparse._state.n_updates == dense._state.n_updates == 4 * -(-96 // batch)
    assert_close(h_sparse.loss, h_dense.loss, what="epoch losses", **TOL["float64"])
    # Features no sample stores still decay or coast on their momentum.
    unused = np.setdiff1d(np.arange(200), X.indices)
    moved = sparse.weights[0][:, unused] != MLP([200, 6, 2], activation="relu",
                                                output_activation="sigmoid",
                                                seed=3).weights[0][:, unused]
    assert unused.size == 0 or moved.any() == (optimizer.weight_decay > 0)


@pytest.mark.parametrize("optimizer", STATEFUL)
def test_what_each_epoch_reads_equals_dense(optimizer):
    """Validation losses, early stopping's best parameters, and the
    parameters a callback sees after each epoch."""
    X, Xd = rare_features(120, 150, seed=4)
    Y = np.random.default_rng(2).uniform(size=(120, 2))
    seen = {"sparse": [], "dense": []}
    fits = []
    for name, data in (("sparse", X), ("dense", Xd)):
        net = MLP([150, 6, 2], activation="relu", output_activation="sigmoid", seed=3)
        history = net.fit(data, Y, epochs=6, batch_size=8, optimizer=optimizer, seed=0,
                          validation_fraction=0.25, patience=2, restore_best=True,
                          callback=lambda h, net=net, name=name:
                          seen[name].append(net.params.copy()) and False)
        fits.append((net, history))
    (sparse, h_sparse), (dense, h_dense) = fits
    assert len(seen["sparse"]) == len(h_sparse.loss) == len(h_dense.loss) >= 2
    for a, b in zip(seen["sparse"], seen["dense"]):
        assert_close(a, b, what="parameters a callback sees", **TOL["float64"])
    assert_close(h_sparse.val_loss, h_dense.val_loss, what="validation losses",
                 **TOL["float64"])
    assert_close(sparse.params, dense.params, what="parameters", **TOL["float64"])
    assert_close(sparse.predict(X), dense.predict(Xd), what="outputs", **TOL["float64"])


@pytest.mark.parametrize("optimizer", STATEFUL)
def test_warm_start_on_sparse_input_equals_dense(optimizer):
    """A second fit continuing the first's optimizer state (Adam's moments
    and step count, the momentum), as dense input does."""
    X, Xd = rare_features(64, 120, seed=5)
    Y = np.random.default_rng(3).uniform(size=(64, 2))
    sparse, dense, _, _ = fit_both(X, Xd, Y, epochs=2, batch_size=8, optimizer=optimizer,
                                   seed=0)
    for net, data in ((sparse, X), (dense, Xd)):
        net.fit(data[:40], Y[:40], epochs=3, batch_size=16, optimizer=optimizer, seed=1,
                warm_start=True)
    assert sparse._state.n_updates == dense._state.n_updates == 2 * 8 + 3 * 3
    assert_close(sparse.params, dense.params, what="parameters", **TOL["float64"])
    assert_close(sparse._state.values, dense._state.values, what="optimizer state",
                 **TOL["float64"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [1, 5, 600], ids=["1-row", "5-rows", "600-rows-chunks"])
@pytest.mark.parametrize("sizes,activation,output_activation,loss,targets", NETWORKS)
def test_predict_and_loss_sparse_equal_dense(sizes, activation, output_activation, loss,
                                             targets, n, dtype, kernel_path):
    """Both loops (n < 8 rows runs per sample, 600 in several chunks), on
    every kernel path."""
    rng = np.random.default_rng(n)
    X, Xd = awkward_csr(rng, n, sizes[0])
    Y = random_targets(rng, targets, n, sizes[-1])
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=dtype, seed=2)
    out = net.predict(X)
    assert out.shape == (n, sizes[-1]) and out.dtype == np.dtype(dtype)
    assert_close(out, net.predict(Xd), what="outputs", **TOL[dtype])
    assert_close(net.loss(X, Y), net.loss(Xd, Y), what="losses", **TOL[dtype])
    with per_sample_loop():
        assert_close(net.predict(X), net.predict(Xd), what="per-sample outputs",
                     **TOL[dtype])


@pytest.mark.parametrize("n", [3, 20])
def test_no_stored_entry_at_all(n):
    """Empty data, indices (the core gets NULL pointers): every row is the
    zero vector, and training still moves the biases and deeper layers."""
    X = sp.csr_matrix((n, 10))
    net = MLP([10, 4, 2], seed=0)
    np.testing.assert_allclose(net.predict(X), net.predict(np.zeros((n, 10))), rtol=1e-15)
    dense = net.copy()
    Y = np.full((n, 2), 0.9)
    net.fit(X, Y, epochs=2, batch_size=1 if n == 3 else 10)
    dense.fit(np.zeros((n, 10)), Y, epochs=2, batch_size=1 if n == 3 else 10)
    assert_close(net.params, dense.params, what="parameters", **TOL["float64"])
    assert not np.array_equal(net.biases[0], MLP([10, 4, 2], seed=0).biases[0])


@pytest.mark.parametrize("convert", [sp.csc_matrix, sp.coo_matrix, sp.lil_matrix,
                                     sp.dok_matrix, sp.csr_array, sp.csc_array, sp.coo_array],
                         ids=lambda f: f.__name__)
def test_every_sparse_format_trains_as_csr(convert):
    rng = np.random.default_rng(7)
    X, Xd = awkward_csr(rng, 30, 12)
    X.sum_duplicates()              # dok and lil cannot hold repeats
    Y = rng.uniform(size=(30, 2))
    a, b = pair([12, 4, 2], "sigmoid", None, "squared_error", "float64")
    a.fit(X, Y, epochs=2, batch_size=8, seed=0)
    b.fit(convert(X), Y, epochs=2, batch_size=8, seed=0)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.predict(X), b.predict(convert(X)))


def test_integer_and_bool_data_are_cast_to_the_model_dtype():
    rng = np.random.default_rng(8)
    Xi = sp.random(20, 10, density=0.3, format="csr", random_state=rng, dtype=np.int64,
                   data_rvs=lambda k: rng.integers(1, 4, k))
    net = MLP([10, 3, 1], dtype="float32", seed=0)
    np.testing.assert_array_equal(net.predict(Xi), net.predict(Xi.toarray()))
    Xb = Xi.astype(bool)
    np.testing.assert_array_equal(net.predict(Xb), net.predict(Xb.toarray()))


def test_validation_fraction_and_data_take_sparse_rows():
    rng = np.random.default_rng(9)
    X, Xd = awkward_csr(rng, 40, 15)
    Y = rng.uniform(size=(40, 1))
    a, b = pair([15, 4, 1], "tanh", "sigmoid", "squared_error", "float64")
    ha = a.fit(X, Y, epochs=3, batch_size=4, seed=0, validation_fraction=0.25)
    hb = b.fit(Xd, Y, epochs=3, batch_size=4, seed=0, validation_fraction=0.25)
    assert_close(ha.val_loss, hb.val_loss, what="validation losses", **TOL["float64"])
    hc = a.fit(X[:30], Y[:30], epochs=2, validation_data=(X[30:], Y[30:]))
    assert len(hc.val_loss) == 2 and np.isfinite(hc.val_loss).all()


def test_reference_takes_sparse_input_as_fastbp_does():
    """The pure-Python reference (densifying) against the core's sparse loops."""
    rng = np.random.default_rng(12)
    X, _ = awkward_csr(rng, 24, 10)
    Y = rng.uniform(size=(24, 2))
    net = MLP([10, 4, 2], activation="tanh", output_activation="sigmoid", seed=0)
    ref = fastbp.reference.MLP.from_model(net)
    assert_close(net.predict(X), ref.predict(X), what="outputs", **TOL["float64"])
    assert net.loss(X, Y) == pytest.approx(ref.loss(X, Y), rel=1e-12)
    for model in (net, ref):
        model.fit(X, Y, epochs=2, batch_size=3, lr=0.1, optimizer="adam", seed=0,
                  validation_fraction=0.25)
    assert_close(net.history.val_loss, ref.history.val_loss, what="validation losses",
                 **TOL["float64"])
    assert_close(net.predict(X), ref.predict(X), what="outputs after training",
                 **TOL["float64"])


@pytest.mark.parametrize("n,batch", [(1, 1), (40, 1), (40, 16)],
                         ids=["one-sample-checked-in-C", "per-sample", "matrix"])
def test_divergence_on_sparse_input_restores_the_parameters(n, batch):
    rng = np.random.default_rng(13)
    X, _ = awkward_csr(rng, n, 10, density=0.5)
    X.data *= 1e150
    net = MLP([10, 4, 1], activation="identity", seed=0)
    before = net.params.copy()
    with pytest.raises(fastbp.DivergenceError, match="diverged in epoch 1"):
        net.fit(X, np.full(n, 1e150), epochs=2, batch_size=batch, lr=1e10)
    np.testing.assert_array_equal(net.params, before)


# -- refusals: a clear error, nothing changed -------------------------------

@pytest.mark.parametrize("call", ["train_step", "gradient", "Y", "sample_weight"])
def test_sparse_where_only_dense_is_taken_is_refused(call):
    net = MLP([4, 2], seed=0)
    before = net.params.copy()
    x = sp.csr_matrix(np.ones((1, 4)))
    calls = {
        "train_step": lambda: net.train_step(x, [0.5, 0.5], 0.1),
        "gradient": lambda: net.gradient(x, [0.5, 0.5]),
        "Y": lambda: net.fit(np.ones((3, 4)), sp.csr_matrix(np.ones((3, 2)))),
        "sample_weight": lambda: net.fit(np.ones((3, 4)), np.ones((3, 2)),
                                         sample_weight=sp.csr_matrix(np.ones((1, 3)))),
    }
    with pytest.raises(TypeError, match="must be dense .* only the samples X of fit, "
                                        "predict and loss may be sparse"):
        calls[call]()
    np.testing.assert_array_equal(net.params, before)


def bad_inputs():
    X = sp.random(10, 6, density=0.5, format="csr", random_state=0)
    nan, inf = X.copy(), X.copy()
    nan.data[3] = np.nan
    inf.data[0] = -np.inf
    out_of_range = X.copy()
    out_of_range.indices[2] = 6
    bad_indptr = X.copy()
    bad_indptr.indptr[4] = bad_indptr.indptr[5] + 1
    return [
        pytest.param(nan, ValueError, r"X contains NaN or infinity \(first at index \(\d+, \d+\)\)",
                     id="nan"),
        pytest.param(inf, ValueError, "X contains NaN or infinity", id="inf"),
        pytest.param(sp.random(10, 5, density=0.5, format="csr"), ValueError,
                     "X has 5 features per sample, but the network has 6", id="n_features"),
        pytest.param(sp.csr_matrix((0, 6)), ValueError, "X is empty", id="empty"),
        pytest.param(X.astype(np.complex128), TypeError, "X must be numeric", id="complex"),
        pytest.param(sp.coo_array(np.ones(6)), ValueError, "X must be 2-D", id="1-D"),
        pytest.param(out_of_range, ValueError, r"column index is outside \[0, 6\)",
                     id="index-out-of-range"),
        pytest.param(bad_indptr, ValueError, "indptr does not delimit its rows",
                     id="bad-indptr"),
    ]


@pytest.mark.parametrize("X,error,message", bad_inputs())
def test_bad_sparse_input_is_refused_before_anything_changes(X, error, message):
    net = MLP([6, 3, 1], seed=0)
    net.fit(np.ones((4, 6)), np.ones(4), epochs=1)
    before, history = net.params.copy(), net.history
    Y = np.ones(X.shape[0] if X.ndim == 2 else 1)
    with pytest.raises(error, match=message):
        net.fit(X, Y, epochs=1)
    with pytest.raises(error, match=message):
        net.predict(X)
    with pytest.raises(error, match=message):
        net.loss(X, Y)
    np.testing.assert_array_equal(net.params, before)
    assert net.history is history


def test_a_refused_matrix_is_left_as_it_was():
    X = sp.random(10, 6, density=0.5, format="csr", random_state=0)
    X.indices[0] = 9
    indices, indptr = X.indices.copy(), X.indptr.copy()
    with pytest.raises(ValueError, match="column index"):
        MLP([6, 2]).predict(X)
    np.testing.assert_array_equal(X.indices, indices)
    np.testing.assert_array_equal(X.indptr, indptr)
    assert X.indices.dtype == indices.dtype


def test_checked_rows_are_checked_again_for_another_network():
    X = sp.random(8, 6, density=0.5, format="csr", random_state=0)
    rows = fastbp._validation.as_matrix(X, "X", 6, np.dtype(np.float64), "features")
    with pytest.raises(ValueError, match="X has 6 features per sample, but the network has 5"):
        MLP([5, 2]).predict(rows)
    as32 = fastbp._validation.as_matrix(rows, "X", 6, np.dtype(np.float32), "features")
    assert as32.dtype == np.float32
    np.testing.assert_array_equal(as32.toarray(), X.toarray().astype(np.float32))


def test_core_entries_check_array_lengths():
    net = MLP([6, 2], seed=0)
    out = np.empty((3, 2))
    data, indptr = np.ones(4), np.array([0, 1, 3, 4], np.intp)
    with pytest.raises(ValueError, match="indices has 3 elements; data has 4"):
        _core.predict_csr(net._top, net.params, data, np.zeros(3, np.intp), indptr, out,
                          net._workspace)
    with pytest.raises(ValueError, match="out has 2 rows; X has 3"):
        _core.predict_csr(net._top, net.params, data, np.zeros(4, np.intp), indptr,
                          out[:2], net._workspace)


def test_float32_stays_float32_without_copying_the_values():
    X = sp.random(50, 20, density=0.2, format="csr", random_state=0, dtype=np.float32)
    rows = fastbp._validation.as_matrix(X, "X", 20, np.dtype(np.float32), "features")
    assert isinstance(rows, SparseRows) and rows.data.dtype == np.float32
    assert np.shares_memory(rows.data, X.data)
    rows64 = fastbp._validation.as_matrix(X, "X", 20, np.dtype(np.float64), "features")
    assert rows64.data.dtype == np.float64


# -- memory -----------------------------------------------------------------

def test_memory_stays_proportional_to_the_stored_entries():
    """Training and predicting on 2,000 x 50,000 at 0.1% density (800 MB
    dense in float64) allocate a few MB: the stored entries (1.6 MB), the
    parameters and the workspace, never a dense row block of X."""
    n, n_features = 2000, 50_000
    X = wide_csr(n, n_features, 50)
    Y = np.random.default_rng(0).uniform(size=n)
    net = MLP([n_features, 4, 1], seed=0)
    tracemalloc.start()
    try:
        net.fit(X, Y, epochs=2, batch_size=32, optimizer="adam", lr=0.01, seed=0)
        net.predict(X)
        net.loss(X, Y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stored = X.data.nbytes + X.indices.nbytes * 2 + X.indptr.nbytes * 2
    assert peak < 4 * stored + 12 * net.params.nbytes + net._workspace.nbytes, peak
    assert peak < n * n_features * 8 / 50


def test_fit_blocks_count_only_the_stored_entries():
    """A compiled call of fit copies params and the optimizer state: with
    sparse rows it takes as many samples as their first-layer work makes a
    block, not as many as dense rows would."""
    X = wide_csr(3000, 50_000, 50)
    net = MLP([50_000, 8, 1], seed=0)
    rows = fastbp._validation.as_matrix(X, "X", 50_000, net.dtype, "features")
    dense, sparse = net._block_samples(1), net._block_samples(1, rows)
    assert dense == 83 and sparse >= 3000


# -- the estimators ---------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_classifier_on_sparse_equals_dense(dtype):
    rng = np.random.default_rng(10)
    X, Xd = awkward_csr(rng, 120, 25)
    X, Xd = X.astype(dtype), Xd.astype(dtype)
    y = rng.integers(0, 3, 120)
    kw = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0, batch_size=16)
    a, b = MLPClassifier(**kw), MLPClassifier(**kw)
    with pytest.warns(Warning):
        a.fit(X, y)
    with pytest.warns(Warning):
        b.fit(Xd, y)
    assert a.net_.dtype == dtype
    assert_close(a.net_.params, b.net_.params, what="parameters", **TOL[np.dtype(dtype).name])
    assert_close(a.predict_proba(X), b.predict_proba(Xd), what="probabilities",
                 **TOL[np.dtype(dtype).name])
    np.testing.assert_array_equal(a.predict(X), b.predict(Xd))
    assert a.score(X, y) == b.score(Xd, y)
    a.partial_fit(X.tocsc(), y)
    b.partial_fit(Xd, y)
    assert_close(a.net_.params, b.net_.params, what="parameters after partial_fit",
                 **TOL[np.dtype(dtype).name])


def test_regressor_on_sparse_with_early_stopping_equals_dense():
    rng = np.random.default_rng(11)
    X, Xd = awkward_csr(rng, 100, 20)
    y = Xd @ rng.normal(size=20)
    kw = dict(hidden_layer_sizes=(5,), max_iter=8, random_state=0, solver="sgd",
              learning_rate_init=0.01, early_stopping=True, n_iter_no_change=20)
    with pytest.warns(Warning):
        a = MLPRegressor(**kw).fit(X, y)
    with pytest.warns(Warning):
        b = MLPRegressor(**kw).fit(Xd, y)
    assert_close(a.validation_scores_, b.validation_scores_, what="validation scores",
                 **TOL["float64"])
    assert_close(a.predict(X), b.predict(Xd), what="predictions", **TOL["float64"])
    assert a.score(X, y) == pytest.approx(b.score(Xd, y), rel=1e-10)


# -- one sample as its nonzero inputs (fastbp.river's sparse path) ----------------

def entries(indices, values):
    """A sample as EntryCalls takes it: {input index: value}, and the
    identity position."""
    return dict(zip(indices.tolist(), values.tolist()))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes,activation,output_activation,loss,targets", NETWORKS)
def test_entry_calls_equal_dense_predict_and_learn_one(sizes, activation, output_activation,
                                                       loss, targets, dtype):
    rng = np.random.default_rng(7)
    sparse = MLP(sizes, activation, output_activation, loss, dtype=dtype, seed=1)
    dense = MLP.from_weights(sparse.weights, sparse.biases, list(sparse.activations),
                             loss=loss, dtype=dtype)
    calls, position = sparse._entry_calls(), {i: i for i in range(sizes[0])}
    Y = random_targets(rng, targets, 20, sizes[-1]).astype(dtype)
    for t in Y:
        indices = rng.choice(sizes[0], 4, replace=False)
        values = rng.normal(size=4).astype(dtype)
        x = np.zeros(sizes[0], dtype)
        x[indices] = values
        # Keys the position lacks are left out.
        assert calls.sgd({**entries(indices, values), "other": 1.0}, position, t, 0.05)
        dense.learn_one(x, t, lr=0.05)
        assert_close(calls.predict(entries(indices, values), position), dense.predict(x),
                     **TOL[dtype], what="outputs")
    assert_close(sparse.params, dense.params, **TOL[dtype], what="params")


def test_entry_calls_refuse_bad_input_before_any_change():
    net = MLP([50, 6, 1], "identity", "identity", "squared_error", seed=0)
    calls, position = net._entry_calls(), {i: i for i in range(50)}
    before = net.params.copy()
    t, x = np.array([1.0]), {3: 1.0, 8: 2.0}
    for (sample, where, target), match in [
            (({3: 1.0, 8: 2.0}, {3: 3, 8: 50}, t), "out of"),
            (({3: 1.0, 8: 2.0}, {3: -1, 8: 8}, t), "out of"),
            (({3: 1.0, 8: np.nan}, position, t), "NaN"),
            (({3: 1.0, 8: "red"}, position, t), "could not convert"),
            ((x, position, np.array([np.inf])), "t contains NaN"),
            ((x, position, np.array([1.0, 0.0])), "t must be"),
            ((x, position, np.array([1], np.int64)), "t must be")]:
        with pytest.raises(ValueError, match=match):
            calls.sgd(sample, where, target, 0.1)
    np.testing.assert_array_equal(net.params, before)
    # Divergence, found by the loss (1e200: it overflows) or after the update
    # has begun (1e150: a finite loss, an overflowing step): every parameter
    # as it was.
    for scale in (1e200, 1e150):
        assert not calls.sgd({3: scale, 8: 2 * scale}, position, t, 1e200)
        np.testing.assert_array_equal(net.params, before)
    assert calls.sgd(x, position, t, 0.1)
    assert not np.array_equal(net.params, before)


def test_entry_calls_make_room_for_long_samples():
    # Beyond the room reserved at first (16 entries), and float32's range.
    net = MLP([400, 5, 2], "tanh", dtype="float32", seed=0)
    dense = MLP.from_weights(net.weights, net.biases, list(net.activations), dtype="float32")
    calls, position = net._entry_calls(), {f"f{i}": i for i in range(400)}
    x = {f"f{i}": 0.01 * i for i in range(0, 400, 5)}
    t = np.array([0.2, 0.7], np.float32)
    assert calls.sgd(x, position, t, 0.1)
    dense.learn_one(np.array([x.get(f"f{i}", 0.0) for i in range(400)], np.float32), t, lr=0.1)
    assert_close(net.params, dense.params, **TOL["float32"], what="params")
    with pytest.raises(ValueError, match="cannot hold"):
        calls.predict({"f1": 1e39}, position)
