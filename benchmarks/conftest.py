"""Benchmarks time only when asked (--benchmark-only or --benchmark-enable);
a plain ``pytest`` runs each of them once, untimed, as a test, so they keep
working."""
import pytest


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options
def pytest_configure(config):
    if not (config.getoption("benchmark_only") or config.getoption("benchmark_enable")):
        config.option.benchmark_disable = True
