"""Online learning, test-then-train: throughput and prequential accuracy.

Every learner predicts each sample, then learns it, one sample at a time, on
River's bundled ``datasets.Phishing`` (1,250 samples, 9 features) and on
``synth.Hyperplane(seed=42, n_features=10)`` (20,000 samples), with the same
network wherever there is one: n-16-1, tanh hidden units, a sigmoid output (or
two logits for deep-river) with cross-entropy, plain SGD at lr 0.05, seed 0;
fastbp.river's MLPClassifier at its default rate, lr 1 / sqrt(n + 1) at sample
n, and once at deep-river's settings. River's LogisticRegression runs at its
defaults. Features go in as the streams give them (no scaling), except in the
two rows marked "+ StandardScaler".

The loops time the learner's calls only: what each call returns is kept and
scored after the clock stops. The ratio column compares each learner with
River's LogisticRegression timed the same way (a loop of predict_one and
learn_one, or progressive_val_score, or the pipeline with the scaler).

    python benchmarks/bench_stream.py [--repeats 3] [--first-budget 30] [--budget 1]
    python -m pytest benchmarks/bench_stream.py --benchmark-only

The script runs every learner once per repeat, interleaved, and prints one
table: the median samples/s over the repeats and the accuracy of the first
repeat. The first repeat stops a learner after ``--first-budget`` seconds per
stream (30: only learners under ~700 samples/s stop short of Hyperplane's
end, and the table says after how many samples); later repeats, after
``--budget`` seconds (1: they measure throughput only). deep-river pins an older
torch and River, so it runs in a virtual environment of its own
(``FASTBP_DEEPRIVER_PYTHON``, default /work/venv-deepriver/bin/python, made by
``python -m venv``, ``pip install torch==2.13.0 'river<0.26' 'pandas<3' scikit-learn
tqdm sortedcontainers pytest`` and ``pip install --no-deps deep-river``), as a
subprocess of this script; learners whose libraries are absent are left out
with a note.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import pytest

if __name__ != "__main__":
    pytest.importorskip("river")

HIDDEN, LR, SEED = 16, 0.05, 0
N_HYPERPLANE = 20_000
DEEP_RIVER_PYTHON = os.environ.get("FASTBP_DEEPRIVER_PYTHON", "/work/venv-deepriver/bin/python")


# -- the streams ----------------------------------------------------------------

def load_stream(name, n=None):
    """[(x dict, y bool)], read before any timing."""
    from river import datasets
    from river.datasets import synth
    if name == "phishing":
        samples = list(datasets.Phishing())
    else:
        samples = list(synth.Hyperplane(seed=42, n_features=10).take(N_HYPERPLANE))
    return samples[:n]


def as_arrays(samples):
    """The stream as X (float64, features sorted by name) and y (0/1)."""
    import numpy as np
    features = sorted(samples[0][0])
    X = np.array([[x.get(f, 0.0) for f in features] for x, _ in samples])
    return X, np.array([int(y) for _, y in samples])


def budgeted(items, budget, seen):
    """items until ``budget`` seconds have passed (checked every 64 items),
    each also appended to ``seen``."""
    deadline = time.perf_counter() + budget
    for i, item in enumerate(items):
        if i & 63 == 63 and time.perf_counter() > deadline:
            return
        seen.append(item)
        yield item


def chunks(n, budget, size=256):
    """slices of range(n), of ``size``, until ``budget`` seconds have
    passed: a loop over a chunk's samples pays nothing for the budget."""
    deadline = time.perf_counter() + budget
    for start in range(0, n, size):
        if time.perf_counter() > deadline:
            return
        yield slice(start, start + size)


# -- the learners: each returns (samples done, seconds, accuracy) -----------------
# The loops time only the learner's calls, as a user's loop makes them: what
# each returns is kept, and scored after the clock stops.

def array_loop(make):
    """A learner from ``make(n_features) -> (step, label)``: ``step(x, t)``
    the calls on one sample (NumPy rows), ``label`` its guess's 0/1 label."""
    def run(samples, budget):
        import numpy as np
        X, y = as_arrays(samples)
        T = y.reshape(-1, 1).astype(np.float64)
        step, label = make(X.shape[1])
        guesses = []
        keep = guesses.append
        start = time.process_time()
        for part in chunks(len(X), budget):
            for x, t in zip(X[part], T[part]):
                keep(step(x, t))
        seconds = time.process_time() - start
        right = sum(int(label(g)) == int(truth) for g, truth in zip(guesses, y))
        return len(guesses), seconds, right / len(guesses)
    return run


def above_half(outputs):
    return outputs[0] > 0.5


def fastbp_net(n_features):
    import fastbp
    return fastbp.MLP([n_features, HIDDEN, 1], "tanh", "sigmoid", "binary_cross_entropy",
                      seed=SEED)


@array_loop
def fastbp_predict_train_step(n_features):
    net = fastbp_net(n_features)

    def step(x, t):
        p = net.predict(x)
        net.train_step(x, t, LR)
        return p
    return step, above_half


@array_loop
def fastbp_learn_one(n_features):
    net = fastbp_net(n_features)
    return (lambda x, t: net.learn_one(x, t, lr=LR)), above_half


def partial_fit_step(estimator):
    """predict (once fitted) then partial_fit, one row at a time."""
    def step(x, t):
        row = x.reshape(1, -1)
        guess = estimator.predict(row)[0] if hasattr(estimator, "classes_") else 0
        estimator.partial_fit(row, [int(t[0])], classes=[0, 1])
        return guess
    return step, bool


SGD_SETTINGS = dict(hidden_layer_sizes=(HIDDEN,), activation="tanh", solver="sgd",
                    learning_rate_init=LR, momentum=0.0, alpha=0.0, random_state=SEED)


@array_loop
def fastbp_partial_fit(n_features):
    from fastbp.estimators import MLPClassifier
    return partial_fit_step(MLPClassifier(**SGD_SETTINGS))


@array_loop
def sklearn_partial_fit(n_features):
    from sklearn.neural_network import MLPClassifier
    return partial_fit_step(MLPClassifier(**SGD_SETTINGS))


@array_loop
def torch_loop(n_features):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    model = torch.nn.Sequential(torch.nn.Linear(n_features, HIDDEN), torch.nn.Tanh(),
                                torch.nn.Linear(HIDDEN, 1)).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step(x, t):
        logit = model(torch.from_numpy(x))
        guess = logit.item() > 0.0
        optimizer.zero_grad()
        loss_fn(logit, torch.from_numpy(t)).backward()
        optimizer.step()
        return guess
    return step, bool


def river_logistic_loop(samples, budget):
    """River's LogisticRegression, predict_one then learn_one, in a loop of
    its own over the stream's dicts (as array_loop times fastbp's calls)."""
    from river import linear_model
    model = linear_model.LogisticRegression()
    guesses = []
    keep = guesses.append
    start = time.process_time()
    for part in chunks(len(samples), budget):
        for x, y in samples[part]:
            keep(model.predict_one(x))
            model.learn_one(x, y)
    seconds = time.process_time() - start
    right = sum(guess == y for guess, (_, y) in zip(guesses, samples))
    return len(guesses), seconds, right / len(guesses)


def progressive(make_model):
    """A River learner, run by river.evaluate.progressive_val_score."""
    def run(samples, budget):
        from river import evaluate, metrics
        model, accuracy, seen = make_model(), metrics.Accuracy(), []
        stream = budgeted(samples, budget, seen)
        start = time.process_time()
        evaluate.progressive_val_score(stream, model, accuracy)
        # (progressive_val_score leaves out the first sample, predicted None)
        return len(seen), time.process_time() - start, accuracy.get()
    return run


def fastbp_river(scaled, **rate):
    """fastbp.river.MLPClassifier at its default rate (lr / sqrt(n + 1) from
    1.0: what a user gets), or at ``rate`` (lr, power_t)."""
    def make():
        from river import preprocessing
        from fastbp.river import MLPClassifier
        model = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="tanh", seed=SEED,
                              **rate)
        return preprocessing.StandardScaler() | model if scaled else model
    return progressive(make)


def river_logistic(scaled):
    def make():
        from river import linear_model, preprocessing
        model = linear_model.LogisticRegression()
        return preprocessing.StandardScaler() | model if scaled else model
    return progressive(make)


def deep_river_model():
    """deep-river's Classifier around the same n-16-2 tanh MLP (two logits,
    cross-entropy: its usual classifier setup)."""
    import torch
    from deep_river.classification import Classifier
    from torch import nn

    class MLP(nn.Module):
        def __init__(self, n_features):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(n_features, HIDDEN), nn.Tanh(),
                                        nn.Linear(HIDDEN, 2))

        def forward(self, x):
            return self.layers(x)

    def make(n_features):
        # Classifier(seed=) seeds torch after the module is built: seed it first.
        torch.manual_seed(SEED)
        return Classifier(module=MLP(n_features), loss_fn="cross_entropy",
                          optimizer_fn="sgd", lr=LR, seed=SEED, is_class_incremental=False)
    return make


def deep_river_here(samples, budget):
    """deep-river in this interpreter (the venv's)."""
    make = deep_river_model()
    return progressive(lambda: make(len(samples[0][0])))(samples, budget)


def deep_river(samples, budget, stream):
    """deep-river in its own venv, in a subprocess."""
    result = subprocess.run(
        [DEEP_RIVER_PYTHON, __file__, "--deep-river-only", stream, "--budget", str(budget)],
        capture_output=True, text=True, check=True)
    return tuple(json.loads(result.stdout.strip().splitlines()[-1]))


# name: (learner, library it needs, the River LogisticRegression row it is
# compared with: the one timed the same way)
LOOP, PROGRESSIVE = ("River LogisticRegression: predict_one + learn_one loop",
                     "River LogisticRegression (progressive_val_score)")
LEARNERS = {
    "fastbp MLP: predict + train_step loop": (fastbp_predict_train_step, "fastbp", LOOP),
    "fastbp MLP.learn_one loop": (fastbp_learn_one, "fastbp", LOOP),
    "fastbp MLPClassifier.partial_fit + predict": (fastbp_partial_fit, "sklearn", LOOP),
    LOOP: (river_logistic_loop, "river", LOOP),
    "fastbp.river.MLPClassifier (progressive_val_score)": (fastbp_river(False), "river",
                                                           PROGRESSIVE),
    PROGRESSIVE: (river_logistic(False), "river", PROGRESSIVE),
    "scikit-learn MLPClassifier.partial_fit + predict": (sklearn_partial_fit, "sklearn", LOOP),
    "PyTorch per-sample loop": (torch_loop, "torch", LOOP),
    "deep-river Classifier (progressive_val_score)": (deep_river, "deep-river", PROGRESSIVE),
    "fastbp.river.MLPClassifier at deep-river's settings (lr 0.05 throughout)": (
        fastbp_river(False, lr=LR, power_t=0.0), "river", PROGRESSIVE),
    "fastbp.river.MLPClassifier + StandardScaler": (fastbp_river(True), "river",
                                                    "River LogisticRegression + StandardScaler"),
    "River LogisticRegression + StandardScaler": (river_logistic(True), "river",
                                                  "River LogisticRegression + StandardScaler"),
}
STREAMS = ("phishing", "hyperplane")


def available(library):
    """None if the library can run here, else why not."""
    if library == "deep-river":
        if not os.path.exists(DEEP_RIVER_PYTHON):
            return f"no deep-river environment at {DEEP_RIVER_PYTHON}"
        return None
    try:
        __import__(library)
    except ImportError:
        return f"{library} is not installed"
    return None


def run_all(repeats, first_budget, budget):
    """{name: {stream: [(n, seconds, accuracy), ...]}} over interleaved repeats,
    and the length of each stream."""
    names = [name for name, (_, lib, _) in LEARNERS.items() if available(lib) is None]
    data = {stream: load_stream(stream) for stream in STREAMS}
    results = {name: {stream: [] for stream in STREAMS} for name in names}
    for repeat in range(repeats):
        limit = first_budget if repeat == 0 else budget
        for name in names:
            learner = LEARNERS[name][0]
            for stream in STREAMS:
                extra = (stream,) if learner is deep_river else ()
                results[name][stream].append(learner(data[stream], limit, *extra))
        print(f"repeat {repeat + 1}/{repeats} done", file=sys.stderr)
    return results, {stream: len(samples) for stream, samples in data.items()}


def table(results, totals):
    def rate(runs):
        return statistics.median(n / seconds for n, seconds, _ in runs)

    lines = ["| learner | Phishing samples/s | Phishing accuracy | Hyperplane samples/s "
             "| Hyperplane accuracy | vs River LR timed alike (Hyperplane) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, by_stream in results.items():
        cells = []
        for stream in STREAMS:
            n, _, accuracy = by_stream[stream][0]
            cut = "" if n == totals[stream] else f" (first {n:,})"
            cells += [f"{rate(by_stream[stream]):,.0f}", f"{100 * accuracy:.2f}%{cut}"]
        reference = LEARNERS[name][2]
        ratio = (rate(by_stream["hyperplane"]) / rate(results[reference]["hyperplane"])
                 if reference in results else float("nan"))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2g}x |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--first-budget", type=float, default=30.0,
                        help="seconds per learner and stream in the first repeat")
    parser.add_argument("--budget", type=float, default=1.0,
                        help="seconds per learner and stream in later repeats")
    parser.add_argument("--deep-river-only", choices=STREAMS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.deep_river_only:
        print(json.dumps(deep_river_here(load_stream(args.deep_river_only), args.budget)))
        return
    for name, (_, library, _) in LEARNERS.items():
        why = available(library)
        if why:
            print(f"left out: {name} ({why})")
    results, totals = run_all(args.repeats, args.first_budget, args.budget)
    import fastbp
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"fastbp kernels {fastbp.kernel_path()}; samples per CPU second (of this process: "
          f"the machine may be shared): medians of {args.repeats} "
          f"interleaved repeats; accuracy: the first repeat's")
    print(table(results, totals))


# -- pytest-benchmark: one group, the first 1,000 samples of Hyperplane -----------

@pytest.mark.benchmark(group="stream hyperplane-1000")
@pytest.mark.parametrize("name", [name for name, (_, library, _) in LEARNERS.items()
                                  if library != "deep-river"])
def test_stream(benchmark, name):
    learner, library, _ = LEARNERS[name]
    why = available(library)
    if why:
        pytest.skip(why)
    samples = load_stream("hyperplane", 1_000)
    n, _, accuracy = benchmark.pedantic(learner, args=(samples, float("inf")), rounds=3)
    benchmark.extra_info.update(samples=n, accuracy=accuracy)
    assert n == 1_000
    assert accuracy > 0.6


if __name__ == "__main__":
    main()
