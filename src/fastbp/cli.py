"""The command line, ``fastbp`` or ``python -m fastbp``.

    fastbp demo        the main job: worked examples, XOR learning, speed
    fastbp config      versions, CPU and the kernel path in use
    fastbp bench       the speed table: fastbp against the reference and peers
    fastbp train DATA.csv --target COL [--hidden 32,16] [--epochs 50] [--out model.npz]
    fastbp predict model.npz DATA.csv [--proba] [--out predictions.csv]
    fastbp trace       one training step of a tiny network, worked by hand

Exit status: 0 on success; 2 for bad arguments (argparse's usage errors, and
values that parse but cannot be used, such as trace weights that do not
chain); 1 for files and data that cannot be used (missing or unreadable files,
an empty or malformed CSV, an unknown column, a feature that is not a number,
a file that is not a fastbp model, training that diverges); 130 on Ctrl-C.
Errors are one line on stderr, ``fastbp: error: ...``, without a traceback.

``train`` standardises the features (and, for regression, the targets) with
the training rows' mean and standard deviation and keeps them, the column
names, the task and the class labels in the model file's ``extra``
(``fastbp.persistence``), under the keys ``Preprocessing.to_extra`` writes;
``predict`` reads them back, checks them and applies them. That data
preparation is ``fastbp._preprocessing``; this module holds the commands and
their arguments.
"""
import argparse
import csv
import errno
import json
import math
import os
import shlex
import subprocess
import sys
import time

import numpy as np

import fastbp
from fastbp import persistence
from fastbp._csv import DataError, name_list, read_csv
from fastbp._install import install_hint
from fastbp._preprocessing import (MAX_AUTO_CLASSES, TASKS, Preprocessing, UsageError,
                                   fit_preprocessing, read_training_data, score, split_rows)
from fastbp._validation import check_lr
from fastbp._vocabulary import ACTIVATIONS, HIDDEN_ACTIVATIONS, LOSSES
from fastbp.bench import compare
from fastbp.demo import EXAMPLES
from fastbp.errors import DivergenceError
from fastbp.persistence import ModelFileError

EXIT_DATA, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
# The file and data problems of the docstring, and a network too large for
# the machine's memory: one line and exit status 1.
DATA_ERRORS = (DataError, ModelFileError, DivergenceError, OSError, MemoryError)


# -- train --------------------------------------------------------------------------

def build_network(args, data):
    """Softmax and cross-entropy for classes, identity and squared error for values."""
    classify = data.task == "classification"
    n_outputs = len(data.classes) if classify else len(data.targets)
    return fastbp.MLP([len(data.features), *args.hidden, n_outputs], activation=args.activation,
                      output_activation="softmax" if classify else "identity",
                      loss="cross_entropy" if classify else "squared_error", dtype=args.dtype,
                      seed=args.seed)


def train(args):
    try:
        check_lr(args.lr, args.dtype, name="--lr")
    except ValueError as e:
        raise UsageError(e) from None
    data = read_training_data(args)
    train_rows, test_rows = split_rows(len(data.X), args.test_fraction, args.seed, args.data)
    _check_writable(args.out)
    prep, Y = fit_preprocessing(data, train_rows, args.data)
    net = build_network(args, data)
    metric = "accuracy" if data.task == "classification" else "R^2"

    def held_out():
        if not len(test_rows):
            return ""
        value = score(prep, net, data.X[test_rows], data.y[test_rows], args.data)
        return f", held-out {metric} {value:.4f}"

    if not args.quiet:
        print(describe(data, net, args.activation, len(train_rows), len(test_rows)))
    X_train, Y_train = prep.inputs(data.X[train_rows], args.data), Y[train_rows]
    width = len(str(args.epochs))

    def report(history):
        if not args.quiet:
            print(f"epoch {history.n_epochs:{width}d}/{args.epochs}: "
                  f"loss {history.loss[-1]:.6f}{held_out()}", flush=True)

    started = time.perf_counter()
    net.fit(X_train, Y_train, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
            seed=args.seed, callback=report)
    elapsed = time.perf_counter() - started

    scaled = " (of the standardised targets)" if data.task == "regression" else ""
    train_score = score(prep, net, data.X[train_rows], data.y[train_rows], args.data)
    print(f"trained {args.epochs} epochs in {elapsed:.2f} s: train loss "
          f"{net.loss(X_train, Y_train):.6f}{scaled}, train {metric} {train_score:.4f}"
          f"{held_out()}")
    if args.out is not None:
        persistence.save(net, args.out, extra=prep.to_extra())
        print(f"model saved to {args.out}")
    return 0


def describe(data, net, activation, n_train, n_test):
    """What train is about to do, in three lines."""
    classes = f", {len(data.classes)} classes: {', '.join(data.classes)}" if data.classes else ""
    return (f"task: {data.task} ({data.why}){classes}\n"
            f"network: {'-'.join(map(str, net.layer_sizes))}, {activation} hidden, "
            f"{net.activations[-1]} output, loss {net.loss_name}, {net.dtype.name}\n"
            f"rows: {n_train} for training, {n_test} held out; features: "
            f"{', '.join(data.features)}")


def _check_writable(path):
    """Before training: the directory ``path`` goes in must exist."""
    if path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise FileNotFoundError(errno.ENOENT, "the directory to write it in does not exist",
                                path)


# -- predict ------------------------------------------------------------------------

def predict(args):
    net, extra = persistence.load_with_extra(args.model)
    prep = Preprocessing.from_extra(extra, net, args.model)
    table = read_csv(args.data, args.delimiter)
    missing = [name for name in prep.features if name not in table.columns]
    if missing:
        raise DataError(f"{args.data}: no column {missing[0]!r}; the model was trained on "
                        f"the columns {name_list(prep.features)}")
    out = net.predict(prep.inputs(table.numbers(prep.features), args.data))
    if prep.task == "classification":
        header = prep.targets + ([f"p({label})" for label in prep.classes] if args.proba
                                 else [])
        labels = np.array(prep.classes, dtype=object)[out.argmax(axis=1)]
        rows = ([label, *p] if args.proba else [label] for label, p in zip(labels, out))
    else:
        header, rows = prep.targets, prep.values(out)
    if args.out is None:
        _write_csv(sys.stdout, header, rows)
    else:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            _write_csv(f, header, rows)
    return 0


def _write_csv(f, header, rows):
    """Numbers as NumPy's str writes them: the shortest text that reads back
    to the same value in the model's dtype."""
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([str(v) for v in row] for row in rows)


# -- trace --------------------------------------------------------------------------

# trace's options that change the example, and the Example field each sets.
TRACE_OPTIONS = {"weights": "weights", "biases": "biases", "activation": "activation",
                 "output_activation": "output_activation", "loss": "loss", "input": "x",
                 "target": "t", "lr": "lr", "update_biases": "update_biases"}


def trace(args):
    example = EXAMPLES[args.example]
    given = [option for option in TRACE_OPTIONS if option in vars(args)]
    settings = {**vars(example), **{TRACE_OPTIONS[o]: getattr(args, o) for o in given}}
    title = example.title
    if given:
        title = (f"Worked example {args.example} with "
                 + ", ".join("--" + option.replace("_", "-") for option in given))
    if "weights" in given and "biases" not in given:
        _check_example_biases(args.example, settings["weights"], settings["biases"])
    picture = _picture_format(args.plot) if args.plot is not None else None
    try:
        net = fastbp.MLP.from_weights(settings["weights"], settings["biases"],
                                      activation=settings["activation"],
                                      output_activation=settings["output_activation"],
                                      loss=settings["loss"], dtype="float64")
        for option, values, n in (("--input", settings["x"], net.n_inputs),
                                  ("--target", settings["t"], net.n_outputs)):
            if len(values) != n:
                raise UsageError(f"{option} has {len(values)} values, the network has {n}")
        step = fastbp.trace_step(net, settings["x"], settings["t"], lr=settings["lr"],
                                 update_biases=settings["update_biases"])
    except (TypeError, ValueError) as e:
        raise UsageError(e) from None
    print(title, "", step, sep="\n")
    if picture is not None:
        _save_picture(step, title, args.plot, picture)
    return 0


def _check_example_biases(number, weights, biases):
    """--weights without --biases keeps the example's biases: refuse, naming
    --biases, when they do not fit the new weights."""
    if biases is None:
        return
    fits = len(biases) == len(weights) and all(
        isinstance(W, list) and len(b) == len(W) for W, b in zip(weights, biases))
    if not fits:
        shape = [len(b) for b in biases]
        raise UsageError(f"--weights is given without --biases, and example {number}'s "
                         f"biases (units per layer {shape}) do not fit those weights: give "
                         "--biases too, one list per layer, or --biases none")


def _picture_format(path):
    """The picture format of --plot's file name, checked before the step."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("--plot draws with matplotlib, which is not installed: "
                         + install_hint("plot")) from None
    kind = os.path.splitext(path)[1].lstrip(".").lower()
    formats = Figure().canvas.get_supported_filetypes()
    if kind not in formats:
        raise UsageError(f"--plot: cannot tell the picture format of {path!r}; end the file "
                         f"name with one of {', '.join('.' + f for f in sorted(formats))}")
    return kind


def _save_picture(step, title, path, kind):
    """The step drawn before and after (fastbp.plot.network) into ``path``;
    a Figure of its own, so no display or pyplot state is involved."""
    from matplotlib.figure import Figure
    from fastbp.plot import StepDisplay
    display = StepDisplay(step)
    width, height = display.before_.figure_size()
    # Half an inch more for the title.
    figure = Figure(figsize=(2 * width, height + 0.5), layout="constrained")
    display.plot(figure.subplots(1, 2))
    figure.suptitle(title)
    figure.savefig(path, format=kind, dpi=120)


# -- bench, demo, config ------------------------------------------------------------

def bench(args):
    command = shlex.join(["fastbp", *args.argv])
    if compare.one_blas_thread():
        return compare.run(args, command)
    # NumPy loaded OpenBLAS when fastbp was imported, and OpenBLAS reads its
    # thread count only then: measure in a fresh interpreter that starts with
    # one thread.
    env = {**os.environ, **{var: "1" for var in compare.THREAD_VARS}}
    return subprocess.run([sys.executable, "-m", "fastbp", *args.argv], env=env,
                          check=False).returncode


def demo(args):
    from fastbp.demo import main as run_demo
    run_demo()
    return 0


def config(args):
    fastbp.show_config()
    return 0


# -- arguments ----------------------------------------------------------------------

def _argument_type(requirement, convert, valid=lambda value: True):
    """An argparse ``type``: ``convert(text)`` if it succeeds and is ``valid``,
    else the error "must be <requirement>"."""
    def parse(text):
        try:
            value = convert(text)
        except (ValueError, RecursionError):     # RecursionError: JSON nested too deep
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}")
        return value
    return parse


def _split(text):
    """Comma-separated parts, stripped; "" is no part."""
    return [part.strip() for part in text.split(",")] if text.strip() else []


def _biases(text):
    return None if text == "none" else json.loads(text)


def _delimiter(text):
    if text == "tab":
        return "\t"
    if len(text) != 1 or text in "\"\r\n":
        raise ValueError(text)
    return text


delimiter = _argument_type("one character other than a quote or a newline, or 'tab'",
                           _delimiter)
positive_int = _argument_type("a whole number >= 1", int, lambda v: v >= 1)
seed_int = _argument_type("a whole number >= 0", int, lambda v: v >= 0)
positive_float = _argument_type("a number > 0", float, lambda v: 0 < v < math.inf)
fraction = _argument_type("a number from 0 up to (not including) 1", float,
                          lambda v: 0 <= v < 1)
layer_sizes = _argument_type("comma-separated whole numbers >= 1, such as 32,16 ('' for none)",
                             lambda s: [int(v) for v in _split(s)],
                             lambda v: all(n >= 1 for n in v))
float_list = _argument_type("comma-separated numbers, such as 0.05,0.1",
                            lambda s: [float(v) for v in s.split(",")])
column_names = _argument_type("comma-separated distinct column names", _split,
                              lambda v: v and all(v) and len(set(v)) == len(v))
json_list = _argument_type("a JSON list, one weight matrix per layer", json.loads,
                           lambda v: isinstance(v, list))
json_biases = _argument_type("a JSON list, one list per layer, or 'none'", _biases,
                             lambda v: v is None or isinstance(v, list))


class _Parser(argparse.ArgumentParser):
    """argparse's parser with its errors on one line, pointing to --help
    instead of printing the usage text; exit status 2 as argparse's."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"fastbp: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="fastbp", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="fastbp: multi-layer perceptrons trained by backpropagation.",
        epilog="Run 'fastbp COMMAND --help' for a command's options.\n"
               "Exit status: 0 success, 1 unusable file or data, 2 bad arguments.")
    parser.add_argument("--version", action="version", version=f"fastbp {fastbp.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, run, summary, description=None, epilog=None):
        sub = commands.add_parser(name, help=summary, description=description or summary,
                                  epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(run=run)
        return sub

    command("demo", demo, "the main job: worked examples, an XOR network learning, and the "
            "compiled core's speed against the reference")
    command("config", config, "versions, CPU and the kernel path in use")
    compare.add_arguments(command(
        "bench", bench, "the speed table: per-sample SGD of fastbp against the "
        "pure-Python reference, NumPy, PyTorch and FANN",
        description=compare.__doc__.split("\n\n")[0] + "\n\nPyTorch (pip install torch) "
        "and FANN (Debian's libfann-dev and a C compiler) are used when present and\n"
        "reported as skipped otherwise. The default run takes about a minute."))
    _train_arguments(command(
        "train", train, "train a network on a CSV file and save it",
        description="Train a network on the rows of a CSV file with a header line and save "
                    "it,\nwith the column names and scaling, for 'fastbp predict'.",
        epilog="examples:\n"
               "  fastbp train iris.csv --target species --hidden 16 --epochs 100 "
               "--out iris.npz\n"
               "  fastbp train houses.csv --target price,rent --test-fraction 0.2 "
               "--out houses.npz"))
    _predict_arguments(command(
        "predict", predict, "predict with a model made by 'fastbp train'",
        description="Predict for every row of a CSV file with a model made by 'fastbp "
                    "train'.\nThe features are found by their header names; other columns "
                    "are ignored.\nWrites a CSV: the predicted label (classification) or "
                    "values (regression)."))
    _trace_arguments(command(
        "trace", trace, "one training step of a tiny network, worked as by hand",
        description="Print every number of one SGD step (net inputs, outputs, errors, "
                    "deltas,\ngradients, new weights) of a worked example, or of the "
                    "example changed by the\noptions below.",
        epilog="examples:\n"
               "  fastbp trace                       # worked example 1\n"
               "  fastbp trace --example 2 --lr 0.05\n"
               "  fastbp trace --plot network.png   # and the picture of the step\n"
               "  fastbp trace --weights '[[[0.1, 0.2]], [[0.3]]]' --biases none "
               "--input 1,2 --target 1"))
    return parser


def _train_arguments(p):
    p.add_argument("data", metavar="DATA.csv", help="a CSV file with a header line")
    _delimiter_argument(p)
    p.add_argument("--target", required=True, type=column_names, metavar="COL[,COL...]",
                   help="the column to predict; several for regression")
    p.add_argument("--features", type=column_names, metavar="COL[,COL...]",
                   help="the input columns (default: every other column)")
    p.add_argument("--task", choices=("auto",) + TASKS, default="auto",
                   help="default auto: classification for one target column that is not "
                        f"numeric or holds at most {MAX_AUTO_CLASSES} distinct whole "
                        "numbers, else regression")
    p.add_argument("--hidden", type=layer_sizes, default=[32], metavar="N[,N...]",
                   help="hidden layer sizes (default 32; '' for none)")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="tanh",
                   help="of the hidden layers (default tanh)")
    p.add_argument("--epochs", type=positive_int, default=50, help="default 50")
    p.add_argument("--lr", type=positive_float, default=0.01,
                   help="learning rate (default 0.01)")
    p.add_argument("--batch-size", type=positive_int, default=1,
                   help="samples per update (default 1: per-sample SGD)")
    p.add_argument("--test-fraction", type=fraction, default=0.0, metavar="F",
                   help="hold out this fraction of the rows, chosen at random, and report "
                        "the score on them (default 0)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="for the initial weights, the sample order and the held-out rows "
                        "(default 0)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64",
                   help="default float64")
    p.add_argument("--out", metavar="MODEL.npz",
                   help="where to save the model (default: not saved)")
    p.add_argument("--quiet", action="store_true",
                   help="print the final summary only, no per-epoch lines")


def _predict_arguments(p):
    p.add_argument("model", metavar="MODEL.npz", help="a model file from 'fastbp train'")
    p.add_argument("data", metavar="DATA.csv", help="a CSV file with the training's features")
    _delimiter_argument(p)
    p.add_argument("--proba", action="store_true",
                   help="classification: add one probability column per class, p(LABEL)")
    p.add_argument("--out", metavar="PREDICTIONS.csv", help="default: standard output")


def _delimiter_argument(p):
    p.add_argument("--delimiter", type=delimiter, metavar="CHAR",
                   help="of DATA.csv's fields, such as ';' or tab (default: the one of "
                        "comma, semicolon and tab its header line holds most of)")


def _trace_arguments(p):
    p.add_argument("--example", type=int, choices=sorted(EXAMPLES), default=1,
                   help="1: 2-2-2 sigmoid, the classic tutorial (default); 2: the XOR "
                        "network's first step; 3: a 1-1-1 sigmoid chain")
    # The options below change the example; left out, they are not in args.
    change = {"default": argparse.SUPPRESS}
    p.add_argument("--weights", type=json_list, metavar="JSON", **change,
                   help="one matrix per layer, row j holding the weights into unit j")
    p.add_argument("--biases", type=json_biases, metavar="JSON", **change,
                   help="one list per layer, or 'none' for a network without biases")
    p.add_argument("--activation", choices=ACTIVATIONS, **change,
                   help="of every layer, or of the hidden ones with --output-activation")
    p.add_argument("--output-activation", choices=ACTIVATIONS, **change)
    p.add_argument("--loss", choices=LOSSES, **change)
    p.add_argument("--input", type=float_list, metavar="X1,X2,...", **change)
    p.add_argument("--target", type=float_list, metavar="T1,T2,...", **change)
    p.add_argument("--lr", type=positive_float, **change, help="learning rate")
    p.add_argument("--update-biases", action=argparse.BooleanOptionalAction, **change,
                   help="train the biases too, or not (example 1 keeps them fixed)")
    p.add_argument("--plot", metavar="FILE",
                   help="also draw the network before and after the step into FILE (.png, "
                        ".svg, .pdf, ...; needs matplotlib)")


# -- entry point --------------------------------------------------------------------

def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).
    """
    argv = sys.argv[1:] if argv is None else [os.fspath(a) for a in argv]
    args = build_parser().parse_args(argv)
    # bench runs again in a child process with the same arguments.
    args.argv = argv
    try:
        return args.run(args)
    except UsageError as e:
        return _fail(e, EXIT_USAGE)
    except BrokenPipeError:
        # The reader of our output left (as `fastbp predict ... | head` does):
        # nothing to report, and nothing more to flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_DATA
    except DATA_ERRORS as e:
        return _fail(e, EXIT_DATA)
    except KeyboardInterrupt:
        print("fastbp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(error, status):
    if isinstance(error, OSError) and error.strerror:
        message = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    else:
        message = str(error)
    print(f"fastbp: error: {message}", file=sys.stderr)
    return status
