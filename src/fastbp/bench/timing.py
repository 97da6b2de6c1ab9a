"""The one timer of fastbp's benchmarks: interleaved repeats, medians.

The machines we run on are shared. Within each repeat every case runs once,
the cases taking turns and the first one rotating from repeat to repeat, so a
burst of load hits them all alike; a figure is the median over repeats.
``fastbp bench`` and the script modes of ``benchmarks/bench_*.py`` use it.
"""
import gc
import statistics
import time


def time_call(run, *args):
    """Seconds one call ``run(*args)`` takes, and its result.

    The garbage collector is off while it runs, as ``timeit`` does: a
    collection in the middle of one run would be noise.
    """
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = run(*args)
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    return seconds, result


def setup_and_run(setup, run):
    """A measurement: ``setup()`` untimed, then ``run(setup())`` timed.

    Returns
    -------
    callable
        Takes no argument and returns ``(seconds, result of run)``.
    """
    return lambda: time_call(run, setup())


def interleaved(cases, repeats, warmup=0, groups=None, after_repeat=None):
    """Run every measurement ``repeats`` times, the cases taking turns.

    Parameters
    ----------
    cases : dict
        ``{name: measure}``; ``measure()`` runs one measurement and returns
        ``(cost, result)``: seconds (``time_call``, ``setup_and_run``) or any
        other figure of which a median makes sense (ns per sample).
    repeats : int
        Measurements kept per case.
    warmup : int, default 0
        Rounds run first and dropped (first calls load libraries and fault
        in pages).
    groups : list of lists of names, optional
        Cases that take turns among themselves, each group in turn within a
        repeat (one group per shape, say); default: all cases in one group.
    after_repeat : callable, optional
        Called with the repeat's number (0, 1, ...) after each kept repeat.

    Returns
    -------
    costs, results : dict
        ``{name: [cost of each kept repeat]}`` and ``{name: [result ...]}``.
    """
    groups = [list(cases)] if groups is None else groups
    costs = {name: [] for name in cases}
    results = {name: [] for name in cases}
    for r in range(-warmup, repeats):
        for group in groups:
            k = r % len(group)
            for name in group[k:] + group[:k]:
                cost, result = cases[name]()
                if r >= 0:
                    costs[name].append(cost)
                    results[name].append(result)
        if r >= 0 and after_repeat is not None:
            after_repeat(r)
    return costs, results


def medians(costs):
    """``{name: median cost}`` of ``interleaved``'s costs."""
    return {name: statistics.median(values) for name, values in costs.items()}
