"""One table: fastbp's per-sample SGD against the reference, NumPy, PyTorch and FANN.

    fastbp bench                      # default: 5 repeats, 0.5-1 min on 2 cores
    fastbp bench --quick              # fewer samples and 3 repeats, < 30 s
    fastbp bench --repeats 9 --markdown   # a Markdown table for the README
    fastbp bench --shapes 2-2-2 --repeats 1   # one shape, a few seconds

Every implementation trains the same problem as ``peers.py`` describes: logistic
hidden and output units, squared error, lr 0.1, biases trained, one sample at a
time in the given order, from the same initial weights and data (inputs uniform
in [0, 1), targets from a fixed teacher network; FANN draws its own weights and
data, see ``fann_harness.c``). Each measurement times one epoch over a fresh copy
of the initial model; the copy and the data are made outside the timed call.
PyTorch and FANN are optional: when one cannot run, the table leaves it out and
the header says why.

Noise: the machines we run on are shared. Within each repeat every
implementation runs once per shape, round-robin (the starting implementation
rotates from repeat to repeat: ``timing.interleaved``), so a burst of load
hits all of them alike; the table shows the median over repeats, and a
footer the spread.

After timing, the results are checked: the reference against fastbp float64,
NumPy and PyTorch against fastbp float32 on the same samples, and fastbp's own
epochs must lower the loss. A failed check is printed and the exit status is 1.

NumPy and PyTorch get one thread, as fastbp and FANN use one. OpenBLAS reads
its thread count once, when NumPy loads it, so ``THREAD_VARS`` must be 1 in the
environment the interpreter starts with: ``fastbp bench`` runs this module in
a child process with them set (``fastbp.cli``).
"""
import argparse
import functools
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

import fastbp
from fastbp import reference
from fastbp.bench import timing
from fastbp.bench.peers import (PeerUnavailable, build_fann_harness, fann_ns_per_sample,
                                import_torch, init_params, make_data, make_numpy,
                                make_torch)

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
LR = 0.1

# Samples per measurement: about 0.1-0.3 s for fastbp (float32 and float64) and
# about 0.1 s for each peer (FANN: per epoch; its harness runs 3 and reports their
# median), at the rates measured on a quiet 2-core AMD EPYC, fastbp kernel avx2:
#                    fastbp f32   f64   reference   NumPy f32  PyTorch f32  FANN f32  (ns/sample)
#   2-2-2                  136     138        15k         20k          38k       139
#   64-128-10             1.6k    2.9k       1.4M         29k          43k       13k
#   784-128-10             13k     25k        14M         84k          72k      110k
#   256-512-512-10         98k    186k        98M        291k         194k      595k
# A loaded machine runs them up to 2-3 times slower; the default run then still
# takes about a minute.
SHAPES = {
    "2-2-2": ((2, 2, 2), {"fastbp": 1_000_000, "reference": 7000, "numpy": 5000,
                          "torch": 2500, "fann": 700_000}),
    "64-128-10": ((64, 128, 10), {"fastbp": 80_000, "reference": 75, "numpy": 3500,
                                  "torch": 2500, "fann": 7000}),
    "784-128-10": ((784, 128, 10), {"fastbp": 10_000, "reference": 8, "numpy": 1200,
                                    "torch": 1400, "fann": 900}),
    "256-512-512-10": ((256, 512, 512, 10), {"fastbp": 1500, "reference": 1, "numpy": 350,
                                             "torch": 500, "fann": 170}),
}
QUICK_SCALE = 0.2
FANN_EPOCHS = 3

# (rtol, atol) of a peer's parameters against fastbp's after the same samples.
# fastbp float64 after the reference's few samples agrees to rounding (as in
# bench_fit.py; measured max |diff| 2e-16); NumPy and PyTorch in float64
# (benchmarks/bench_peers.py) sum inside BLAS in another order. The float32
# implementations drift apart by rounding over thousands of samples: max
# |diff| 3e-7 measured with the default sample counts, against weights of
# order 0.1.
TOL = {"reference": (1e-10, 1e-13), "float64": (1e-9, 1e-12), "float32": (1e-4, 1e-5)}


class Problem:
    """Sizes, initial parameters (float64) and data for one shape."""

    def __init__(self, name, sizes, counts):
        self.name, self.sizes, self.counts = name, sizes, counts
        self.coefs, self.intercepts = init_params(sizes, np.float64, random_state=0)
        n_max = max(n for key, n in counts.items() if key != "fann")
        X, _ = make_data(sizes, n_max, np.float64, random_state=1)
        # Targets from a fixed 'teacher' network rather than uniform noise, so an
        # epoch has something to learn and the loss check below means something.
        # The cost per sample does not depend on the values.
        Y = fastbp.MLP(sizes, seed=1).predict(X)
        self._data = {"float64": (X, Y),
                      "float32": (X.astype(np.float32), Y.astype(np.float32))}

    def data(self, dtype, n):
        """The first n samples in ``dtype``, C-contiguous."""
        X, Y = self._data[np.dtype(dtype).name]
        return X[:n], Y[:n]


# Each ``prepare(problem, n)`` builds a fresh model on the first n samples and
# returns ``(train, params)``: train() runs the timed epoch, params() lists the
# weights then the biases afterwards.

def prepare_fastbp(dtype):
    def prepare(problem, n):
        net = fastbp.MLP.from_weights(problem.coefs, problem.intercepts, dtype=dtype)
        X, Y = problem.data(dtype, n)

        def train():
            return net.fit(X, Y, epochs=1, lr=LR, batch_size=1, shuffle=False)
        return train, lambda: [*net.weights, *net.biases]
    return prepare


def prepare_reference(problem, n):
    net = reference.MLP.from_weights(problem.coefs, problem.intercepts, dtype="float64")
    X, Y = problem.data("float64", n)

    def train():
        net.fit(X, Y, epochs=1, lr=LR, batch_size=1, shuffle=False)
    return train, lambda: [np.array(p) for p in (*net.weights, *net.biases)]


def prepare_peer(make, dtype="float32"):
    def prepare(problem, n):
        trainer = make(problem.sizes, np.dtype(dtype), learning_rate=LR,
                       coefs=problem.coefs, intercepts=problem.intercepts)
        X, Y = problem.data(dtype, n)
        return (lambda: trainer(X, Y)), lambda: [*trainer.coefs, *trainer.intercepts]
    return prepare


class Impl:
    """One implementation: ``count`` names its entry in a shape's sample counts;
    ``prepare`` is None for FANN, which runs in its harness."""

    def __init__(self, key, label, count, prepare=None):
        self.key, self.label, self.count, self.prepare = key, label, count, prepare

    def measure(self, problem, n):
        """ns per sample of one epoch over n samples, and a params() getter (or None)."""
        if self.prepare is None:        # FANN: timed inside its harness, see fann_harness.c
            return fann_ns_per_sample(problem.sizes, np.float32, n, FANN_EPOCHS), None
        train, params = self.prepare(problem, n)
        seconds, _ = timing.time_call(train)
        return seconds * 1e9 / n, params


def implementations():
    """The implementations that can run here, and ``{label: reason}`` for the
    optional ones that cannot."""
    impls = [Impl("fastbp32", "fastbp f32", "fastbp", prepare_fastbp("float32")),
             Impl("fastbp64", "fastbp f64", "fastbp", prepare_fastbp("float64")),
             Impl("reference", "reference f64", "reference", prepare_reference),
             Impl("numpy", "NumPy f32", "numpy", prepare_peer(make_numpy))]
    skipped = {}
    optional = [("PyTorch f32", import_torch,
                 Impl("torch", "PyTorch f32", "torch", prepare_peer(make_torch))),
                # FANN's harness is compiled now, not while timing.
                ("FANN f32", lambda: build_fann_harness(np.float32),
                 Impl("fann", "FANN f32", "fann"))]
    for label, ready, impl in optional:
        try:
            ready()
        except PeerUnavailable as e:
            skipped[label] = str(e)
        else:
            impls.append(impl)
    return impls, skipped


# -- checks ----------------------------------------------------------------------

def differs_from_fastbp(problem, impl, params, n, dtype):
    """Why ``params`` (an implementation's weights then biases after its
    first n samples) are not fastbp's after the same samples, or None."""
    train, expected = prepare_fastbp(dtype)(problem, n)
    train()
    rtol, atol = TOL["reference" if impl.key == "reference" else dtype]
    for l, (got, want) in enumerate(zip(params, expected())):
        if not np.allclose(got, want, rtol=rtol, atol=atol):
            err = np.max(np.abs(np.asarray(got, np.float64) - want))
            return (f"{problem.name}: {impl.label} differs from fastbp {dtype} after {n} "
                    f"samples (array {l}, max |diff| {err:.2g})")
    return None


def loss_not_lowered(problem, dtype, params):
    """Why fastbp's epoch, ending at ``params`` (weights then biases), did
    not lower the loss, or None."""
    n = problem.counts["fastbp"]
    X, Y = problem.data(dtype, min(n, 1000))
    start = fastbp.MLP.from_weights(problem.coefs, problem.intercepts, dtype=dtype)
    n_layers = len(params) // 2
    trained = fastbp.MLP.from_weights(params[:n_layers], params[n_layers:], dtype=dtype)
    before, after = start.loss(X, Y), trained.loss(X, Y)
    if np.isfinite(trained.params).all() and after < before:
        return None
    return (f"{problem.name}: fastbp {dtype}'s epoch of {n} samples did not lower the loss "
            f"({before:.6g} -> {after:.6g})")


def check_shape(problem, impls, last):
    """Problems found in the last repeat's results for one shape, as strings."""
    failures = [differs_from_fastbp(problem, impls[key], last[key](),
                                    problem.counts[impls[key].count], dtype)
                for key, dtype in (("reference", "float64"), ("numpy", "float32"),
                                   ("torch", "float32")) if key in impls]
    failures += [loss_not_lowered(problem, dtype, last[key]())
                 for key, dtype in (("fastbp32", "float32"), ("fastbp64", "float64"))]
    return [failure for failure in failures if failure is not None]


# -- output ----------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fann_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libfann-dev"],
                             capture_output=True, text=True, check=True).stdout
        return out.strip() or "?"
    except (OSError, subprocess.CalledProcessError):
        return "?"


def si(rate):
    """samples/s with 3 significant digits: 7.09M, 37.2k, 5.10."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if rate >= scale:
            return f"{rate / scale:.3g}{suffix}"
    return f"{rate:.3g}"


def times(ratio):
    """A speed-up: 7047x, 12.3x, 0.84x."""
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def one_blas_thread():
    """True when every one of THREAD_VARS is 1 in this process's environment."""
    return all(os.environ.get(var) == "1" for var in THREAD_VARS)


def header_lines(impls, skipped, repeats, quick, command):
    have = {impl.key for impl in impls}
    versions = [f"fastbp {fastbp.__version__}", f"python {platform.python_version()}",
                f"numpy {np.__version__}"]
    if "torch" in have:
        versions.append(f"torch {import_torch().__version__} (torch.set_num_threads(1))")
    if "fann" in have:
        versions.append(f"FANN {fann_version()} (float, fann_harness.c)")
    threads = ("one thread each: " + "/".join(THREAD_VARS)
               + ("=1 in the environment Python started with" if one_blas_thread()
                  else " not all 1 when Python started: NumPy's BLAS may use more threads"))
    lines = [
        "fastbp per-sample SGD against its peers: sigmoid hidden and output units, squared "
        f"error, lr {LR}, biases trained, batch 1, no shuffle",
        f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs, {platform.machine()}); "
        f"fastbp kernel path: {fastbp.kernel_path()} "
        f"(available: {', '.join(fastbp.kernel_paths())}; "
        f"FASTBP_CPU={os.environ.get('FASTBP_CPU') or 'unset'})",
        "; ".join(versions),
        threads,
        f"command: {command}",
        f"{repeats} repeats{' (--quick)' if quick else ''}, interleaved round-robin; "
        "figures are samples/s from the median ns/sample per implementation",
        "speed-ups = how many times faster fastbp is: x ref uses fastbp f64, x FANN, x NumPy "
        "and x PyTorch use fastbp f32; f64/f32 = fastbp float64 time / float32 time",
    ]
    lines += [f"skipped {label}: {reason}" for label, reason in skipped.items()]
    return lines


def table(problems, impls, medians, markdown):
    have = {impl.key for impl in impls}
    columns = ["shape"] + [impl.label for impl in impls] + [
        "x ref", "x FANN", "x NumPy", "x PyTorch", "f64/f32"]
    rows = []
    for problem in problems:
        ns = {key: medians[problem.name, key] for key in have}

        def speedup(base, peer):
            return times(ns[peer] / ns[base]) if peer in have else "n/a"
        rows.append([problem.name] + [si(1e9 / ns[impl.key]) for impl in impls] + [
            speedup("fastbp64", "reference"), speedup("fastbp32", "fann"),
            speedup("fastbp32", "numpy"), speedup("fastbp32", "torch"),
            f"{ns['fastbp64'] / ns['fastbp32']:.2f}"])
    if markdown:
        lines = ["| " + " | ".join(columns) + " |",
                 "|" + "|".join([":---"] + ["---:"] * (len(columns) - 1)) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return lines
    widths = [max(len(col), *(len(row[c]) for row in rows)) for c, col in enumerate(columns)]
    fmt = lambda row: "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)  # noqa: E731
                                for c, (cell, w) in enumerate(zip(row, widths)))
    rule = "-" * len(fmt(columns))
    return [fmt(columns), rule] + [fmt(row) for row in rows]


def footer_lines(problems, impls, runs):
    counts = []
    for problem in problems:
        n = "/".join(str(problem.counts[impl.count]) for impl in impls
                     if impl.key != "fastbp64")
        counts.append(f"{problem.name} {n}")
    spreads = []
    for problem in problems:
        worst = max(impls, key=lambda impl: spread(runs[problem.name, impl.key]))
        spreads.append(f"{problem.name} {spread(runs[problem.name, worst.key]):.0%} "
                       f"({worst.label})")
    labels = "/".join(impl.label.split()[0] for impl in impls if impl.key != "fastbp64")
    return [f"samples per measurement ({labels}): " + ", ".join(counts),
            "largest spread (max - min) / median over repeats: " + ", ".join(spreads)]


def checks_done(impls):
    """What the checks compared, naming only the peers that ran."""
    peers = [impl.label.split()[0] for impl in impls if impl.key in ("numpy", "torch")]
    same = f"{', '.join(peers)} = fastbp f32 on the same samples; " if peers else ""
    return f"reference = fastbp f64; {same}fastbp epochs lower the loss"


def spread(values):
    return (max(values) - min(values)) / statistics.median(values)


def shape_names(text):
    """The ``--shapes`` argument: names of SHAPES, comma-separated, as a list."""
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in SHAPES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown shape {unknown[0]!r}; choose from "
                                         f"{', '.join(SHAPES)}")
    return names


def repeat_count(text):
    """The ``--repeats`` argument: an int >= 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return n


def add_arguments(parser):
    """The options of the comparison, on an ``argparse`` parser."""
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SCALE:g} of the samples and 3 repeats (< 30 s)")
    parser.add_argument("--repeats", type=repeat_count, default=None,
                        help="interleaved repeats; the median is reported (default 5, "
                             "3 with --quick)")
    parser.add_argument("--shapes", type=shape_names, default=",".join(SHAPES),
                        metavar="SHAPE[,SHAPE...]",
                        help=f"layer sizes to time, from: {', '.join(SHAPES)} (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")


def run(args, command):
    """Time, check and print the table for the options ``args`` (from a
    parser set up by ``add_arguments``); ``command`` is shown in the header.
    Returns the exit status: 1 if a check failed, else 0."""
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    started = time.perf_counter()

    scale = QUICK_SCALE if args.quick else 1.0
    problems = [Problem(name, SHAPES[name][0],
                        {k: max(1, int(n * scale)) for k, n in SHAPES[name][1].items()})
                for name in args.shapes]
    impls, skipped = implementations()
    # Warm-up, untimed: first calls load libraries and fault in pages.
    for problem in problems:
        for impl in impls:
            if impl.prepare is not None:
                impl.measure(problem, max(1, problem.counts[impl.count] // 20))

    cases = {(p.name, impl.key): functools.partial(impl.measure, p, p.counts[impl.count])
             for p in problems for impl in impls}
    runs, results = timing.interleaved(
        cases, repeats, groups=[[(p.name, impl.key) for impl in impls] for p in problems],
        after_repeat=lambda r: print(f"repeat {r + 1}/{repeats} done "
                                     f"({time.perf_counter() - started:.0f} s)",
                                     file=sys.stderr, flush=True))
    medians = timing.medians(runs)
    last = {key: values[-1] for key, values in results.items()}

    failures = []
    by_key = {impl.key: impl for impl in impls}
    for problem in problems:
        failures += check_shape(problem, by_key,
                                {key: last[problem.name, key] for key in by_key
                                 if last.get((problem.name, key)) is not None})

    lines = header_lines(impls, skipped, repeats, args.quick, command)
    if args.markdown:
        print("\n".join(f"- {line}" for line in lines))
        print()
    else:
        print("\n".join(f"# {line}" for line in lines))
    print("\n".join(table(problems, impls, medians, args.markdown)))
    footer = footer_lines(problems, impls, runs)
    footer.append(f"checks: {'FAILED' if failures else 'passed'} ({checks_done(impls)}); "
                  f"wall time {time.perf_counter() - started:.0f} s")
    footer += [f"CHECK FAILED: {msg}" for msg in failures]
    if args.markdown:
        print()
        print("\n".join(f"- {line}" for line in footer))
    else:
        print("\n".join(f"# {line}" for line in footer))
    return 1 if failures else 0
