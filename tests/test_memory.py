"""Resident memory stays flat: nothing leaks per call, and nothing grows with
the number of samples trained on.

Read from /proc/self/statm (Linux; skipped elsewhere), after gc.collect(),
with SLACK for the allocator's own caching. Every call gets fresh copies of
its arrays, so a reference the core kept to an argument (a memoryview not
released, say) would keep ~2 KB alive per call: ~20 MB over the run.
"""
import gc
import os
import sys
import threading
import time

import numpy as np
import pytest

import fastbp

STATM = "/proc/self/statm"
pytestmark = pytest.mark.skipif(not os.path.exists(STATM), reason="needs /proc/self/statm")

SLACK = 5 * 2**20          # bytes
ROUNDS = 2                 # of CALLS iterations each, after a warm-up
CALLS = 2500
BIG_SAMPLES = 1_500_000


def rss():
    """Resident set size in bytes."""
    with open(STATM) as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def settled_rss():
    gc.collect()
    return rss()


def test_thousands_of_calls_do_not_grow_memory():
    rng = np.random.default_rng(0)
    X, Y = rng.random((64, 4)), rng.random((64, 2))
    net = fastbp.MLP([4, 8, 2], seed=0)
    bad = X.copy()
    bad[5, 1] = np.nan
    blowup = fastbp.MLP.from_weights([[[1.0]]], [[0.0]], activation="identity")

    def calls(n):
        for i in range(n):
            net.fit(X.copy(), Y.copy(), epochs=1, lr=0.05, seed=i)
            net.fit(X.copy(), Y.copy(), epochs=1, lr=0.05, batch_size=8, seed=i)
            net.predict(X.copy())
            net.loss(X.copy(), Y.copy())
            net.train_step(X[i % 64].copy(), Y[i % 64].copy(), 0.05)
            net.gradient(X[i % 64].copy(), Y[i % 64].copy())
            # error paths: a refused call and a diverging fit
            with pytest.raises(ValueError):
                net.fit(bad.copy(), Y.copy())
            with pytest.raises(fastbp.DivergenceError):
                blowup.fit(np.full((4, 1), 100.0), np.zeros((4, 1)), lr=1e300)
            if i % 50 == 0:                 # models come and go too
                fresh = fastbp.MLP([4, 8, 2], seed=i, dtype="float32")
                fresh.fit(X, Y, epochs=2)
                fresh.copy().predict(X)

    calls(200)                              # warm-up: caches, first allocations
    refs = sys.getrefcount(X), sys.getrefcount(Y), sys.getrefcount(net.params)
    base = settled_rss()
    grown = []
    for _ in range(ROUNDS):
        calls(CALLS)
        grown.append(settled_rss() - base)
    assert np.isfinite(net.params).all()
    assert (sys.getrefcount(X), sys.getrefcount(Y), sys.getrefcount(net.params)) == refs
    assert max(grown) < SLACK, f"RSS grew by {[g / 2**20 for g in grown]} MB"


def test_a_million_samples_do_not_grow_memory():
    """One fit over 1.5 million samples of a tiny model: memory after equals
    memory before, and during it exceeds it by no more than the epoch's
    sample order (8 bytes a sample), sampled every few ms."""
    rng = np.random.default_rng(1)
    X = rng.random((BIG_SAMPLES, 2))
    Y = (X[:, :1] > X[:, 1:]).astype(np.float64)
    net = fastbp.MLP([2, 2, 1], seed=0)
    net.fit(X[:1000], Y[:1000])                    # warm-up
    base = settled_rss()

    peak, done = [base], threading.Event()

    def sampler():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.005)

    watcher = threading.Thread(target=sampler)
    watcher.start()
    try:
        history = net.fit(X, Y, epochs=1, lr=0.1, seed=0)
    finally:
        done.set()
        watcher.join()
    after = settled_rss()
    assert history.n_epochs == 1 and np.isfinite(history.loss[0])
    assert after - base < SLACK, f"RSS grew by {(after - base) / 2**20:.1f} MB"
    order = 8 * BIG_SAMPLES
    assert peak[0] - base < order + SLACK, \
        f"RSS rose by {(peak[0] - base) / 2**20:.1f} MB during the fit"
