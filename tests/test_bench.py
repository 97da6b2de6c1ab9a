"""The benchmark harness: the interleaved-median timer (``fastbp.bench.timing``)
and what ``fastbp bench`` says it checked."""
import sys

import pytest

from fastbp import cli
from fastbp.bench import compare, timing


def recorder(order, name, cost):
    """A measurement that notes its turn and reports a fixed cost."""
    def measure():
        order.append(name)
        return cost, f"{name} {len(order)}"
    return measure


def test_interleaved_rotates_the_first_case_and_drops_the_warmup():
    order = []
    cases = {name: recorder(order, name, cost) for name, cost in (("a", 1), ("b", 2), ("c", 3))}
    done = []
    costs, results = timing.interleaved(cases, repeats=3, warmup=1, after_repeat=done.append)
    # the warm-up round (r = -1) starts with c, then a, b, c in turn
    assert "".join(order) == "cab" + "abc" + "bca" + "cab"
    assert done == [0, 1, 2]
    assert costs == {"a": [1, 1, 1], "b": [2, 2, 2], "c": [3, 3, 3]}
    assert results["a"] == ["a 4", "a 9", "a 11"]
    assert timing.medians({"a": [3, 1, 2], "b": [5, 4, 9, 6]}) == {"a": 2, "b": 5.5}


def test_interleaved_rotates_within_each_group():
    order = []
    cases = {name: recorder(order, name, 0) for name in "abxy"}
    timing.interleaved(cases, repeats=2, groups=[["a", "b"], ["x", "y"]])
    assert "".join(order) == "abxy" + "bayx"


def test_setup_is_not_timed_and_run_gets_its_result():
    seconds, result = timing.setup_and_run(lambda: 21, lambda x: 2 * x)()
    assert result == 42 and 0 <= seconds < 1


# every implementation the table can show
IMPLS = [compare.Impl("fastbp32", "fastbp f32", "fastbp"),
         compare.Impl("fastbp64", "fastbp f64", "fastbp"),
         compare.Impl("reference", "reference f64", "reference"),
         compare.Impl("numpy", "NumPy f32", "numpy"),
         compare.Impl("torch", "PyTorch f32", "torch"),
         compare.Impl("fann", "FANN f32", "fann")]


@pytest.mark.parametrize("missing, named", [
    ((), "NumPy, PyTorch = fastbp f32 on the same samples; "),
    (("torch", "fann"), "NumPy = fastbp f32 on the same samples; "),
    (("numpy", "torch"), ""),
])
def test_checks_line_names_only_the_peers_that_ran(missing, named):
    ran = [impl for impl in IMPLS if impl.key not in missing]
    assert compare.checks_done(ran) == (
        f"reference = fastbp f64; {named}fastbp epochs lower the loss")


def test_bench_without_pytorch_does_not_claim_its_check(capsys, monkeypatch):
    for var in compare.THREAD_VARS:           # measure in this process
        monkeypatch.setenv(var, "1")
    monkeypatch.setitem(sys.modules, "torch", None)      # import torch raises ImportError
    status = cli.main(["bench", "--quick", "--shapes", "2-2-2", "--repeats", "1"])
    out = capsys.readouterr().out
    assert status == 0
    assert "# skipped PyTorch f32: PyTorch is not installed" in out
    checks = next(line for line in out.splitlines() if line.startswith("# checks: "))
    assert checks.startswith("# checks: passed (reference = fastbp f64; NumPy = fastbp f32 "
                             "on the same samples; fastbp epochs lower the loss); wall time ")
    assert "PyTorch" not in checks
