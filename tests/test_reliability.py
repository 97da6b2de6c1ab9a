"""Issue 14's findings 5-7 on the model: what a hostile user tries, refused
(or handled) with a clear message before any state changes."""
import pickle
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp import optim


def data(n=64, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.random((n, n_out))


def model_state(net):
    """Everything a rejected fit must leave as it was."""
    state = net._state
    return (net.params.tobytes(), net.history,
            None if state is None else (state.values.tobytes(), state.n_updates,
                                        state.epochs))


# -- finding 6: state changed before an error -----------------------------------------

@pytest.mark.parametrize("model", [fastbp.MLP, fastbp.reference.MLP])
def test_a_schedule_that_underflows_is_refused_before_training(model):
    X, Y = data()
    net = model([3, 4, 2], seed=0)
    net.fit(X, Y, optimizer="adam")
    before = pickle.dumps(net)
    with pytest.raises(ValueError, match=r"schedule InvScaling\(power_t=2000\.0\).*epoch 3"):
        net.fit(X, Y, epochs=3, schedule=optim.InvScaling(power_t=2000), optimizer="adam",
                warm_start=True)
    assert pickle.dumps(net) == before
    # One epoch at (0 + 1) ** -2000 = 1 is fine.
    net.fit(X, Y, schedule=optim.InvScaling(power_t=2000))


def test_a_read_only_params_buffer_is_refused_before_history_and_state_change():
    X, Y = data()
    net = fastbp.MLP([3, 4, 2], seed=0)
    net.fit(X, Y, optimizer="adam")
    before = model_state(net)
    net.params.flags.writeable = False
    with pytest.raises(ValueError, match="params is read-only"):
        net.fit(X, Y, optimizer="sgd")
    assert model_state(net) == before


class PausedFit:
    """A fit in another thread, paused in its first epoch's callback (holding
    the model's lock) until ``resume()``."""

    def __init__(self, net, X, Y):
        self.inside, self.go = threading.Event(), threading.Event()
        self.history = None

        def callback(history):
            self.history = history
            self.inside.set()
            assert self.go.wait(30)

        self.thread = threading.Thread(
            target=lambda: net.fit(X, Y, epochs=2, optimizer="adam", callback=callback))
        self.thread.start()
        assert self.inside.wait(30)

    def resume(self):
        self.go.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def test_a_waiting_fit_changes_nothing_before_its_turn():
    X, Y = data()
    net = fastbp.MLP([3, 4, 2], seed=0)
    paused = PausedFit(net, X, Y)
    state = net._state
    second = threading.Thread(target=lambda: net.fit(X, Y, optimizer="sgd"))
    second.start()
    time.sleep(0.2)
    try:
        assert second.is_alive(), "the second fit did not wait for the first"
        assert net.history is paused.history and net._state is state
    finally:
        paused.resume()
        second.join(30)


@pytest.mark.parametrize("how", ["copy", "pickle"])
def test_copy_and_pickle_wait_for_a_fit_in_another_thread(how):
    X, Y = data()
    net = fastbp.MLP([3, 4, 2], seed=0)
    paused = PausedFit(net, X, Y)
    copies = []
    take = net.copy if how == "copy" else lambda: pickle.loads(pickle.dumps(net))
    taker = threading.Thread(target=lambda: copies.append(take()))
    taker.start()
    time.sleep(0.2)
    blocked = taker.is_alive()
    paused.resume()
    taker.join(30)
    assert blocked, f"{how} did not wait for the fit"
    assert copies[0].params.tobytes() == net.params.tobytes()


def test_copy_keeps_the_optimizer_state_as_pickling_does():
    X, Y = data()
    net = fastbp.MLP([3, 4, 2], seed=0)
    net.fit(X, Y, optimizer="adam", epochs=2)
    copies = [net.copy(), pickle.loads(pickle.dumps(net))]
    more = dict(optimizer="adam", warm_start=True, shuffle=False)
    net.fit(X, Y, **more)
    for c in copies:
        c.fit(X, Y, **more)
        assert c.params.tobytes() == net.params.tobytes()


# -- finding 5: silently wrong -----------------------------------------------------------

@pytest.mark.parametrize("sizes", [{3, 10}, {3: 1, 10: 2}, frozenset({2, 5}), iter([3, 2])])
def test_layer_sizes_without_an_order_are_refused(sizes):
    """A set's order is not the one written ({3, 10} iterates as 10, 3); a
    dict's keys are not sizes."""
    with pytest.raises(TypeError, match=r"layer_sizes must be a sequence \(a list or tuple\)"):
        fastbp.MLP(sizes)


def test_activations_as_a_dict_are_refused():
    with pytest.raises(TypeError, match="activation must be a name or a list of names"):
        fastbp.MLP([3, 4, 2], activation={"tanh": 0, "sigmoid": 1})


def test_a_masked_array_with_masked_entries_is_refused():
    X, Y = data()
    net = fastbp.MLP([3, 4, 2], seed=0)
    before = model_state(net)
    masked = np.ma.masked_array(X, mask=X > 0.9)
    with pytest.raises(ValueError, match=r"X is a masked array with masked entries; fill"):
        net.fit(masked, Y)
    with pytest.raises(ValueError, match=r"X is a masked array"):
        net.predict(masked)
    assert model_state(net) == before
    # Without a masked entry it is its data.
    np.testing.assert_array_equal(net.predict(np.ma.masked_array(X)), net.predict(X))


# -- finding 7: clear messages -----------------------------------------------------------

def test_a_finite_value_beyond_float32_is_said_to_overflow():
    net = fastbp.MLP([3, 4, 2], dtype="float32", seed=0)
    X = np.zeros((2, 3))
    X[1, 2] = 1e39
    with pytest.raises(ValueError, match=r"X\[1, 2\] = 1e\+39 overflows float32 \(largest "
                                         r"3\.403e\+38\); rescale the data"):
        net.predict(X)
    X[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at index "
                                         r"\(1, 2\)\)"):
        net.predict(X)


def test_targets_whose_squares_overflow_are_out_of_range():
    """Not a DivergenceError suggesting a smaller learning rate: no rate helps."""
    X, _ = data(n_out=1)
    net = fastbp.MLP([3, 4, 1], output_activation="identity", seed=0)
    before = model_state(net)
    with pytest.raises(ValueError, match=r"Y holds targets up to 1e\+200 in magnitude, out "
                                         r"of range for squared_error in float64"):
        net.fit(X, np.full(len(X), 1e200))
    assert model_state(net) == before


@pytest.mark.parametrize("option", ["lr", "tol", "target_loss"])
def test_huge_python_ints_are_refused_by_name(option):
    X, Y = data()
    net = fastbp.MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=rf"^{option} must be a finite number, got an int of "
                                         r"401 digits"):
        net.fit(X, Y, **{option: 10**400})


def test_layer_sizes_beyond_memory_are_refused_saying_how_much(monkeypatch):
    """Checked before anything is allocated, against the machine's memory
    (16 GiB here, whatever this machine has)."""
    monkeypatch.setattr(fastbp._validation, "_physical_memory", lambda: 16 * 2**30)
    with pytest.raises(MemoryError, match=r"layer_sizes \[40000, 40000\] make a network of "
                                          r"1,600,040,000 parameters, which needs about 35\.8 "
                                          r"GiB of memory in float64; this machine has 16\.0 GiB"):
        fastbp.MLP([40000, 40000])
    with pytest.raises(MemoryError, match=r"layer_sizes \[4611686018427387904, 1\] make a "
                                          r"network of 4,611,686,018,427,387,905 parameters"):
        fastbp.MLP([2**62, 1], dtype="float32")
    fastbp.MLP([4000, 4000])        # 0.4 GiB


# -- finding 9: tests that need an optional package --------------------------------------

def test_tests_of_optional_packages_skip_cleanly_without_them():
    """pytest on test_progress.py and test_dask.py where tqdm and distributed
    cannot be imported (a None in sys.modules): skips, no failure, no error."""
    code = ("import sys; sys.modules.update(dict.fromkeys(['tqdm', 'tqdm.auto', 'distributed']));"
            " import pytest; sys.exit(pytest.main(['-q', '-rs', '-p', 'no:cacheprovider',"
            " *sys.argv[1:]]))")
    tests = Path(__file__).parent
    done = subprocess.run([sys.executable, "-c", code, str(tests / "test_progress.py"),
                           str(tests / "test_dask.py")],
                          capture_output=True, text=True, timeout=600, cwd=tests.parent)
    assert done.returncode == 0, done.stdout[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed, [1-9]\d* skipped", summary), summary
