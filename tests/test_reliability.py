"""Issue 14's findings 5-7 on the model: what a hostile user tries, refused
(or handled) with a clear message before any state changes."""
import pickle
import threading
import time

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

def test_a_schedule_that_underflows_is_refused_before_training():
    X, Y = data()
    net = fastbp.MLP([3, 4, 2], seed=0)
    net.fit(X, Y, optimizer="adam")
    before = model_state(net)
    with pytest.raises(ValueError, match=r"schedule InvScaling\(power_t=2000\.0\).*epoch 3"):
        net.fit(X, Y, epochs=3, schedule=optim.InvScaling(power_t=2000), optimizer="adam",
                warm_start=True)
    assert model_state(net) == before
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
