"""The peers must be right before their speed means anything."""

import numpy as np
import pytest

from fastbp.bench.peers import (PeerUnavailable, fann_ns_per_sample, make_data, make_numpy,
                                make_torch)

# The textbook 2-2-2 step: x = (0.05, 0.10), t = (0.01, 0.99), learning rate 0.5,
# biases 0.35 (hidden) and 0.60 (output) held fixed.
#   out_h1 = σ(0.15·0.05 + 0.20·0.10 + 0.35) = 0.593269992, out_h2 = 0.596884378
#   out_o1 = σ(0.40·out_h1 + 0.45·out_h2 + 0.60) = 0.751365070, out_o2 = 0.772928465
#   delta_o1 = (out_o1 − 0.01)·out_o1·(1 − out_o1) = 0.138498562, delta_o2 = −0.038098237
#   w_o11 = 0.40 − 0.5·delta_o1·out_h1 = 0.35891648
# The hidden deltas use the *old* output weights:
#   delta_h1 = (0.40·delta_o1 + 0.50·delta_o2)·out_h1·(1 − out_h1) = 0.008771355
#   w_h11 = 0.15 − 0.5·delta_h1·0.05 = 0.149780716
X = np.array([[0.05, 0.10]])
Y = np.array([[0.01, 0.99]])
COEFS = [np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([[0.40, 0.45], [0.50, 0.55]])]
INTERCEPTS = [np.array([0.35, 0.35]), np.array([0.60, 0.60])]
EXPECTED = [np.array([[0.149780716, 0.19956143], [0.24975114, 0.29950229]]),
            np.array([[0.35891648, 0.408666186], [0.511301270, 0.561370121]])]


def torch_factory():
    pytest.importorskip("torch")
    return make_torch


# The expected values are quoted to 8-9 decimals; float32 keeps about 7 digits.
@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-8), (np.float32, 1e-6)])
@pytest.mark.parametrize("factory", [lambda: make_numpy, torch_factory], ids=["numpy", "torch"])
def test_worked_example(factory, dtype, atol):
    train = factory()((2, 2, 2), dtype, learning_rate=0.5, coefs=COEFS,
                      intercepts=INTERCEPTS, update_intercepts=False)
    train(X, Y)
    for got, want in zip(train.coefs, EXPECTED):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)
    for got, want in zip(train.intercepts, INTERCEPTS):
        np.testing.assert_array_equal(got, want.astype(dtype))


@pytest.mark.parametrize("sizes", [(3, 5, 2), (4, 6, 5, 3)])
def test_numpy_and_torch_agree_after_an_epoch(sizes):
    """Biases trained, several samples, a deeper net: two engines, same numbers."""
    pytest.importorskip("torch")
    X, Y = make_data(sizes, 50)
    fast, slow = make_numpy(sizes), make_torch(sizes)
    fast(X, Y)
    slow(X, Y)
    for a, b in zip(fast.coefs + fast.intercepts, slow.coefs + slow.intercepts):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert not np.allclose(fast.intercepts[0], make_numpy(sizes).intercepts[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fann_harness_runs(dtype):
    try:
        ns = fann_ns_per_sample((4, 3, 2), dtype, n_samples=100, epochs=3)
    except PeerUnavailable as e:
        pytest.skip(str(e))
    assert ns > 0
