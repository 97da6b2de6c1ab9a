"""A stream of texts, test-then-train: fastbp.river on a bag of words against
River's LogisticRegression.

Each text is 12 words drawn from a vocabulary of 5,000 by a Zipf law (a few
frequent words, many rare ones, new words arriving all along the stream), its
label the sign of a random linear rule over the words. Every learner runs
behind River's ``feature_extraction.BagOfWords`` in
``evaluate.progressive_val_score``, so each text is a dict of its few words'
counts while the model's inputs grow to thousands. The learners:
fastbp.river's MLPClassifier at its defaults (n-16-1, tanh, plain SGD, the
network's inputs growing with the words, a sample's step and prediction
through the sparse path once the network is wide); the same with the sparse
path off (every step over all the inputs); the same with
``grow_features=False`` (the first text's words only); River's
LogisticRegression at its defaults.

    python benchmarks/bench_text_stream.py [--repeats 3] [--texts 20000]
    python -m pytest benchmarks/bench_text_stream.py --benchmark-only

The script prints the median samples per CPU second (of this process) over
interleaved repeats, the prequential accuracy, and each learner's ratio to
LogisticRegression's throughput.
"""
import argparse
import contextlib
import platform
import statistics
import sys
import time

import numpy as np
import pytest

pytest.importorskip("river")

from river import evaluate, feature_extraction, linear_model, metrics  # noqa: E402

import fastbp  # noqa: E402
import fastbp.river  # noqa: E402
from fastbp.bench import timing  # noqa: E402
from fastbp.bench.compare import cpu_model  # noqa: E402

VOCABULARY, WORDS, ZIPF = 5000, 12, 1.3


def make_texts(n, seed=0):
    """[(text, label)]: WORDS words a text, drawn by a Zipf law over the
    vocabulary, labelled by the sign of a random weight sum."""
    rng = np.random.default_rng(seed)
    names = np.array([f"w{i}" for i in range(VOCABULARY)])
    weights = rng.normal(size=VOCABULARY)
    texts = []
    for _ in range(n):
        drawn = (rng.zipf(ZIPF, size=WORDS) - 1) % VOCABULARY
        texts.append((" ".join(names[drawn]), bool(weights[drawn].sum() > 0)))
    return texts


class _DensePath:
    """fastbp.river with the sparse path off, for as long as it is entered."""

    def __enter__(self):
        self.saved = fastbp.river._SPARSE_WIDTH
        fastbp.river._SPARSE_WIDTH = sys.maxsize

    def __exit__(self, *exc):
        fastbp.river._SPARSE_WIDTH = self.saved


# learner: (a fresh model, the context it runs in)
LEARNERS = {
    "fastbp.river MLPClassifier": (lambda: fastbp.river.MLPClassifier(seed=0), contextlib.nullcontext),
    "  the same, sparse path off": (lambda: fastbp.river.MLPClassifier(seed=0), _DensePath),
    "  the same, grow_features=False": (
        lambda: fastbp.river.MLPClassifier(seed=0, grow_features=False), contextlib.nullcontext),
    "River LogisticRegression": (linear_model.LogisticRegression, contextlib.nullcontext),
}


def run(name, texts):
    """(CPU seconds, accuracy) of progressive_val_score over the texts."""
    make, context = LEARNERS[name]
    model = feature_extraction.BagOfWords() | make()
    with context():
        start = time.process_time()
        accuracy = evaluate.progressive_val_score(texts, model, metrics.Accuracy()).get()
        seconds = time.process_time() - start
    return seconds, accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--texts", type=int, default=20_000)
    args = parser.parse_args(argv)
    texts = make_texts(args.texts)
    import river
    print(f"fastbp {fastbp.__version__} (kernel path {fastbp.kernel_path()}), River "
          f"{river.__version__}, python {platform.python_version()}; CPU {cpu_model()}")
    print("command: python benchmarks/bench_text_stream.py " + " ".join(sys.argv[1:]))
    print(f"{len(texts)} texts of {WORDS} words, vocabulary {VOCABULARY} (Zipf {ZIPF}); "
          f"median of {args.repeats} interleaved repeats, samples per CPU second")
    cases = {name: (lambda name=name: run(name, texts)) for name in LEARNERS}
    seconds, accuracies = timing.interleaved(cases, args.repeats)
    rates = {name: len(texts) / statistics.median(s) for name, s in seconds.items()}
    base = rates["River LogisticRegression"]
    print(f"  {'learner':34s} {'samples/s':>10s} {'accuracy':>9s} {'vs LR':>7s}")
    for name, rate in rates.items():
        print(f"  {name:34s} {rate:10,.0f} {accuracies[name][0]:9.2%} {rate / base:6.2f}x")
    model = feature_extraction.BagOfWords() | fastbp.river.MLPClassifier(seed=0)
    for text, label in texts:
        model.learn_one(text, label)
    clf = model[-1]
    print(f"fastbp's network at the end: {len(clf.features)} features, "
          f"{clf.net.n_inputs} inputs")
    return 0


@pytest.mark.parametrize("name", list(LEARNERS))
def test_text_stream(benchmark, name):
    """2,000 texts per round."""
    texts = make_texts(2000)
    benchmark.extra_info.update({"learner": name, "kernel_path": fastbp.kernel_path()})
    _, accuracy = benchmark.pedantic(run, args=(name, texts), rounds=3)
    assert 0.5 < accuracy <= 1.0


if __name__ == "__main__":
    sys.exit(main())
