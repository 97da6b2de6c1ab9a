"""Speed comparisons of fastbp's per-sample SGD, shipped with the package so
that ``fastbp bench`` runs from an installed copy.

- ``compare``: the table of ``fastbp bench`` (the reference, NumPy, PyTorch
  and FANN against fastbp float32 and float64);
- ``peers``: the peer implementations it times; PyTorch and FANN (through
  the C program ``fann_harness.c``, shipped as package data) are optional;
- ``timing``: the one timer of every benchmark, interleaved repeats and
  their medians.

``benchmarks/`` holds thin front-ends over these: pytest-benchmark groups
(``bench_peers.py`` times ``compare``'s problem) and script modes.
"""
