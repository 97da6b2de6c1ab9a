"""fastbp.MLP from several threads.

A model holds a lock, so calls from two threads on one model run one after
the other, whole: each result must then be one a serial run of the same
calls in some order gives. Two models share nothing, so training them in
two threads at once (the GIL is released inside every compiled block) must
give exactly what training them one after the other gives.

Checked: fit against predict, fit against fit, and train_step against
predict. Each hammering test runs for HAMMER_SECONDS.
"""
import collections
import threading
import time

import numpy as np
import pytest

import fastbp

HAMMER_SECONDS = 1.0
# Caps on the calls per thread, so that the serial runs stay within the
# stretch where every state is distinct (checked: 10000 fits, 40000 steps).
MAX_FITS = 2500
MAX_STEPS = 20000


def run_threads(*targets, timeout=60.0):
    """Run each target in its own thread, started together; re-raise the
    first error any of them raised."""
    errors = []
    barrier = threading.Barrier(len(targets))

    def wrap(target):
        def body():
            try:
                barrier.wait()
                target()
            except BaseException as e:      # noqa: BLE001 - re-raised below
                errors.append(e)
        return body

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    if errors:
        raise errors[0]


def data(n_samples, n_inputs, n_outputs, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n_samples, n_inputs)), rng.random((n_samples, n_outputs))


def test_fit_and_fit_from_two_threads(monkeypatch):
    """Both threads repeat the same fit call, so any order of the calls
    gives the same sequence of states: the Histories the threads see must be
    exactly those of a serial run, each thread's in serial order, and the
    final parameters those of the serial run, bit for bit."""
    # Blocks of ~20 samples: each fit releases and retakes the GIL a dozen
    # times, so the other thread runs (and waits on the lock) in between.
    monkeypatch.setattr(fastbp.mlp, "BLOCK_WORK", 1 << 12)
    monkeypatch.setattr(fastbp.mlp, "SAMPLE_OVERHEAD", 0)
    X, Y = data(256, 8, 4)
    net = fastbp.MLP([8, 16, 4], seed=0)
    start = net.copy()
    seen = {"a": [], "b": []}
    deadline = time.perf_counter() + HAMMER_SECONDS

    def fitter(name):
        def body():
            while time.perf_counter() < deadline and len(seen[name]) < MAX_FITS:
                h = net.fit(X, Y, epochs=1, lr=0.05, seed=7)
                seen[name].append(h.loss[0])
        return body

    run_threads(fitter("a"), fitter("b"))
    n_calls = len(seen["a"]) + len(seen["b"])
    assert seen["a"] and seen["b"], "a thread never got to fit"

    serial, losses = start.copy(), []
    for _ in range(n_calls):
        losses.append(serial.fit(X, Y, epochs=1, lr=0.05, seed=7).loss[0])
    assert np.isfinite(net.params).all()
    assert net.params.tobytes() == serial.params.tobytes()
    assert collections.Counter(seen["a"] + seen["b"]) == collections.Counter(losses)
    # Training lowers the loss call after call, so each value names its call.
    assert all(a > b for a, b in zip(losses, losses[1:]))
    position = {loss: i for i, loss in enumerate(losses)}
    order = {name: [position[v] for v in values] for name, values in seen.items()}
    for name in order:
        assert order[name] == sorted(order[name]), f"thread {name} saw calls out of order"
    # The threads did take turns (else this test would prove little).
    owner = sorted((i, name) for name in order for i in order[name])
    switches = sum(a[1] != b[1] for a, b in zip(owner, owner[1:]))
    assert switches >= 1


def test_train_step_and_predict_from_two_threads():
    """Every prediction made while another thread steps must be that of the
    state after some number of steps, that number never going back; the
    stepping thread's losses and the final state are the serial run's."""
    X, Y = data(64, 8, 4, seed=1)
    probe = data(16, 8, 4, seed=2)[0]
    net = fastbp.MLP([8, 32, 4], activation="tanh", output_activation="sigmoid", seed=3)
    start = net.copy()
    step_losses, seen = [], []
    deadline = time.perf_counter() + HAMMER_SECONDS

    def stepper():
        i = 0
        while time.perf_counter() < deadline and i < MAX_STEPS:
            step_losses.append(net.train_step(X[i % 64], Y[i % 64], 0.2))
            i += 1

    def predictor():
        while time.perf_counter() < deadline and len(seen) < 4 * MAX_STEPS:
            seen.append(net.predict(probe).tobytes())

    run_threads(stepper, predictor)
    assert step_losses and seen

    serial = start.copy()
    states = {serial.predict(probe).tobytes(): 0}
    for i, loss in enumerate(step_losses):
        assert serial.train_step(X[i % 64], Y[i % 64], 0.2) == loss, f"step {i}"
        states.setdefault(serial.predict(probe).tobytes(), i + 1)
    assert len(states) == len(step_losses) + 1, "two steps gave the same state"
    assert np.isfinite(net.params).all()
    assert net.params.tobytes() == serial.params.tobytes()
    unknown = [s for s in seen if s not in states]
    assert not unknown, f"{len(unknown)} of {len(seen)} predictions match no state"
    steps = [states[s] for s in seen]
    assert steps == sorted(steps), "a prediction saw an older state after a newer one"


@pytest.mark.parametrize("dtypes", [("float32", "float32"), ("float64", "float32")],
                         ids=["f32-f32", "f64-f32"])
def test_two_models_in_two_threads_train_as_in_one(dtypes):
    """Independent models trained at once, each in its thread, end exactly
    where they end trained one after the other: nothing is shared between
    models (the kernels' choice is global but read-only)."""
    X, Y = data(8000, 32, 8, seed=4)
    models = [fastbp.MLP([32, 64, 8], activation="relu", output_activation="sigmoid",
                         dtype=dtype, seed=10 + i) for i, dtype in enumerate(dtypes)]
    serial = [m.copy() for m in models]
    fit = dict(epochs=20, lr=0.05, seed=5)        # ~0.15 s per model, ~100 blocks
    histories = [None, None]

    def trainer(i):
        def body():
            histories[i] = models[i].fit(X, Y, **fit)
        return body

    run_threads(trainer(0), trainer(1))
    for model, twin, history in zip(models, serial, histories):
        expected = twin.fit(X, Y, **fit)
        assert np.isfinite(model.params).all()
        assert model.params.tobytes() == twin.params.tobytes()
        assert history.loss == expected.loss


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


# -- the process-wide BLAS thread count (issue 14, finding 4) -------------------------

def blas_thread_counts():
    from threadpoolctl import ThreadpoolController
    return [lib.get_num_threads()
            for lib in ThreadpoolController().select(user_api="blas").lib_controllers]


@pytest.fixture
def two_blas_threads():
    """The process's BLAS at 2 threads, and back after. (OpenBLAS 0.3.30
    ignores a count above the cores it started with, this machine has 2,
    and, once the main thread has set a count, any other thread's.)"""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if not blas_thread_counts() or set(blas_thread_counts()) != {2}:
            pytest.skip("no BLAS library that takes a thread count of 2")
        yield


def test_overlapping_blas_limits_share_the_smallest_and_restore(two_blas_threads):
    """Overlapping with blocks (here nested out of order, as two threads
    overlap) run at the smallest n inside, and the last to leave restores
    the setting the first found; a save and restore per block would leave
    the first one's n (1) behind."""
    a, b = fastbp._core.limit_blas(1), fastbp._core.limit_blas(2)
    a.__enter__()
    assert set(blas_thread_counts()) == {1}
    b.__enter__()
    assert set(blas_thread_counts()) == {1}
    a.__exit__(None, None, None)
    assert set(blas_thread_counts()) == {2}
    b.__exit__(None, None, None)
    assert set(blas_thread_counts()) == {2}


def test_fits_with_different_n_jobs_in_many_threads_leave_the_blas_setting(
        two_blas_threads):
    """The hammer: models with n_jobs 1 and 2 fit and predict on the matrix
    path from four threads at once, over and over, in rounds that each end
    with every thread done (where a save and restore per call may leave
    whatever the last one to leave found)."""
    X, Y = data(2000, 16, 4)
    nets = [fastbp.MLP([16, 32, 4], seed=k) for k in range(4)]
    assert nets[0]._top.takes_matrix_path(32)
    rounds = 20

    def hammer(net, n_jobs, deadline):
        def body():
            while time.perf_counter() < deadline:
                net.fit(X, Y, batch_size=32, n_jobs=n_jobs)
                net.predict(X, n_jobs=n_jobs)
        return body

    for _ in range(rounds):
        deadline = time.perf_counter() + HAMMER_SECONDS / rounds
        run_threads(*(hammer(net, n, deadline) for net, n in zip(nets, (1, 2, 1, 2))))
        assert set(blas_thread_counts()) == {2}
    assert all(np.isfinite(net.params).all() for net in nets)


def test_the_finiteness_check_of_per_sample_fit_runs_on_one_blas_thread(
        two_blas_threads, monkeypatch):
    """fit checks each block's parameters with a BLAS dot: under fit's own
    setting (one thread on the per-sample path), not the process's."""
    counts = []
    all_finite = fastbp.mlp.check.all_finite

    def recording(a):
        if a.size == net.params.size:       # the blocks' checks, not the data's
            counts.append(blas_thread_counts())
        return all_finite(a)

    X, Y = data(3000, 64, 8)
    net = fastbp.MLP([64, 64, 8], seed=0)
    monkeypatch.setattr(fastbp.mlp.check, "all_finite", recording)
    net.fit(X, Y, epochs=1, batch_size=1, n_jobs=2)
    assert counts and all(set(c) == {1} for c in counts), counts
    assert set(blas_thread_counts()) == {2}
