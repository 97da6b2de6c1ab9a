"""The command line (fastbp.cli): train -> predict round trips, every error
path with its exit status and its one-line message, trace against the worked
examples, bench on one small shape; plus the CSV reader and the ``extra``
metadata of model files it relies on.

Commands run in-process through ``fastbp.cli.main`` (their output through
capsys), except where a fresh interpreter is the point.
"""
import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastbp
from fastbp import cli, demo, persistence
from fastbp._csv import DataError, read_csv
from fastbp.bench import compare, peers
from fastbp.persistence import ModelFileError

COLOURS = {"red": (0.0, 0.0), "green": (4.0, 0.0), "blue": (2.0, 3.5)}


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def read_output(text):
    """(header, rows of str) of a CSV printed by predict."""
    rows = list(csv.reader(text.splitlines()))
    return rows[0], rows[1:]


@pytest.fixture
def blobs(tmp_path):
    """Three well separated Gaussian blobs in 2-D, labelled by colour name."""
    rng = np.random.default_rng(0)
    labels = rng.choice(list(COLOURS), 240)
    X = np.array([COLOURS[c] for c in labels]) + rng.normal(scale=0.7, size=(240, 2))
    return write_csv(tmp_path / "blobs.csv", ["x1", "x2", "colour"],
                     [[*x, c] for x, c in zip(X, labels)]), X, labels


@pytest.fixture
def two_targets(tmp_path):
    """Three features, two smooth targets: y1 linear, y2 = 3 sin(a) + 10."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(300, 3))
    Y = np.c_[X[:, 0] + 2 * X[:, 1] - X[:, 2], 3 * np.sin(X[:, 0]) + 10]
    return write_csv(tmp_path / "reg.csv", ["a", "b", "c", "y1", "y2"],
                     [[*x, *y] for x, y in zip(X, Y)]), X, Y


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``fastbp argv...``, in-process."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def summary_score(out, name):
    return float(re.search(rf"held-out {re.escape(name)} ([0-9.]+)", out.splitlines()[-2])[1])


# -- train and predict -------------------------------------------------------------

def test_classification_round_trip_with_string_labels(capsys, tmp_path, blobs):
    data, X, labels = blobs
    model = tmp_path / "m.npz"
    status, out, err = run(capsys, "train", data, "--target", "colour", "--hidden", "8",
                           "--epochs", "20", "--test-fraction", "0.25", "--out", model)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == ("task: classification (auto: target 'colour' is not numeric), "
                        "3 classes: blue, green, red")
    assert lines[1] == "network: 2-8-3, tanh hidden, softmax output, loss cross_entropy, float64"
    assert lines[2] == "rows: 180 for training, 60 held out; features: x1, x2"
    assert len([line for line in lines if line.startswith("epoch ")]) == 20
    assert summary_score(out, "accuracy") >= 0.95
    assert lines[-1] == f"model saved to {model}"

    # predict finds the columns by name: here in another order, beside others.
    shuffled = write_csv(tmp_path / "new.csv", ["note", "x2", "colour", "x1"],
                         [["n", x[1], "?", x[0]] for x in X])
    status, out, err = run(capsys, "predict", model, shuffled, "--proba")
    assert (status, err) == (0, "")
    header, rows = read_output(out)
    assert header == ["colour", "p(blue)", "p(green)", "p(red)"]

    net, extra = persistence.load_with_extra(model)
    P = net.predict((X - extra["feature_mean"]) / extra["feature_std"])
    assert [row[0] for row in rows] == [extra["classes"][k] for k in P.argmax(axis=1)]
    np.testing.assert_array_equal(np.array([row[1:] for row in rows], float), P)
    assert np.mean(np.array([row[0] for row in rows]) == labels) >= 0.95


def test_regression_round_trip_with_two_targets(capsys, tmp_path, two_targets):
    data, X, Y = two_targets
    model, predictions = tmp_path / "m.npz", tmp_path / "p.csv"
    status, out, err = run(capsys, "train", data, "--target", "y1,y2", "--hidden", "16",
                           "--epochs", "30", "--test-fraction", "0.25", "--out", model)
    assert (status, err) == (0, "")
    assert out.startswith("task: regression (auto: 2 target columns)\n"
                          "network: 3-16-2, tanh hidden, identity output, loss squared_error")
    assert summary_score(out, "R^2") >= 0.99

    status, out, err = run(capsys, "predict", model, data, "--out", predictions)
    assert (status, out, err) == (0, "", "")
    header, rows = read_output(predictions.read_text())
    assert header == ["y1", "y2"]
    net, extra = persistence.load_with_extra(model)
    expected = (net.predict((X - extra["feature_mean"]) / extra["feature_std"])
                * extra["target_std"] + extra["target_mean"])
    np.testing.assert_array_equal(np.array(rows, float), expected)
    # Root mean square error within a tenth of each target's spread.
    assert (np.sqrt(np.mean((expected - Y) ** 2, axis=0)) < 0.1 * Y.std(axis=0)).all()


def test_float32_predictions_are_written_exactly(capsys, tmp_path, blobs):
    data, X, _ = blobs
    model = tmp_path / "m.npz"
    run(capsys, "train", data, "--target", "colour", "--dtype", "float32", "--epochs", "2",
        "--out", model)
    _, out, _ = run(capsys, "predict", model, data, "--proba")
    net, extra = persistence.load_with_extra(model)
    P = net.predict((X - extra["feature_mean"]) / extra["feature_std"])
    assert P.dtype == np.float32
    written = np.array([row[1:] for row in read_output(out)[1]], np.float32)
    np.testing.assert_array_equal(written, P)


def test_quiet_prints_only_the_summary_and_training_is_reproducible(capsys, blobs):
    data = blobs[0]
    argv = ["train", data, "--target", "colour", "--epochs", "3", "--quiet"]
    _, first, _ = run(capsys, *argv)
    _, second, _ = run(capsys, *argv)
    assert re.fullmatch(r"trained 3 epochs in [0-9.]+ s: train loss [0-9.]+, "
                        r"train accuracy [0-9.]+\n", first)
    assert re.sub(r"in [0-9.]+ s", "", first) == re.sub(r"in [0-9.]+ s", "", second)


@pytest.mark.parametrize("values, task, classes", [
    (["1", "2.0", "3", "1.0", "2", "3"], "classification", ["1", "2", "3"]),
    (["-1", "1", "-1", "1", "1", "-1"], "classification", ["-1", "1"]),
    (["0.5", "1.5", "2.5", "0.5", "1", "2"], "regression", None),
])
def test_the_task_follows_the_target(capsys, tmp_path, values, task, classes):
    data = write_csv(tmp_path / "d.csv", ["x", "y"], [[i, v] for i, v in enumerate(values)])
    model = tmp_path / "m.npz"
    status, out, _ = run(capsys, "train", data, "--target", "y", "--epochs", "1", "--out", model)
    assert status == 0 and out.startswith(f"task: {task} (auto: target 'y' holds ")
    extra = persistence.load_with_extra(model)[1]
    assert extra["task"] == task and extra.get("classes") == classes


def test_task_flag_overrides_the_guess(capsys, tmp_path):
    values = [0.5, 1.5, 0.5, 1.5]
    data = write_csv(tmp_path / "d.csv", ["x", "y"], [[i, v] for i, v in enumerate(values)])
    status, out, _ = run(capsys, "train", data, "--target", "y", "--task", "classification",
                         "--epochs", "1", "--hidden", "")
    assert status == 0
    assert out.startswith("task: classification (--task classification), 2 classes: 0.5, 1.5\n"
                          "network: 1-2,")


def test_a_constant_feature_is_kept_finite(capsys, tmp_path):
    data = write_csv(tmp_path / "d.csv", ["x", "same", "y"],
                     [[i, 7, i % 2] for i in range(10)])
    model = tmp_path / "m.npz"
    assert run(capsys, "train", data, "--target", "y", "--epochs", "2", "--out", model)[0] == 0
    assert persistence.load_with_extra(model)[1]["feature_std"] == [pytest.approx(2.8722813), 1.0]
    status, out, _ = run(capsys, "predict", model, data)
    assert status == 0 and read_output(out)[1][0][0] in ("0", "1")


# -- errors: one line on stderr, no traceback, the right exit status ---------------------

# Small files for the error cases, written into the working directory.
FILES = {
    "good.csv": b"a,b,y\n1,2,x\n3,4,z\n",
    "empty.csv": b"",
    "blank.csv": b"\n  \n",
    "header.csv": b"a,y\n",
    "word.csv": b"a,b,y\n1,2,x\n3,four,z\n",
    "hole.csv": b"a,b,y\n1,,x\n",
    "inf.csv": b"a,b,y\n1,2,x\n\n1,inf,z\n",
    "ragged.csv": b"a,b,y\n1,2,x\n1,2\n",
    "twice.csv": b"a,a,y\n1,2,x\n",
    "latin1.csv": b"a,y\n\xe9,1\n",
    "one.csv": b"a,y\n1,x\n2,x\n",
    "only.csv": b"y\n1\n2\n",
}

# (id, argv, the message after "fastbp: error: "): data and file errors, status 1.
DATA_ERRORS = [
    ("missing file", ["train", "missing.csv", "--target", "y"],
     "missing.csv: No such file or directory"),
    ("directory", ["train", ".", "--target", "y"], ".: Is a directory"),
    ("empty", ["train", "empty.csv", "--target", "y"],
     "empty.csv: the file is empty; it needs a header line and data rows"),
    ("blank lines only", ["train", "blank.csv", "--target", "y"],
     "blank.csv: the file is empty; it needs a header line and data rows"),
    ("header only", ["train", "header.csv", "--target", "y"],
     "header.csv: no data rows below the header"),
    ("unknown target", ["train", "good.csv", "--target", "q"],
     "good.csv: no column 'q' (the columns are a, b, y)"),
    ("unknown feature", ["train", "good.csv", "--target", "y", "--features", "a,c"],
     "good.csv: no column 'c' (the columns are a, b, y)"),
    ("word", ["train", "word.csv", "--target", "y"],
     "word.csv: column 'b', line 3: 'four' is not a number"),
    ("empty field", ["train", "hole.csv", "--target", "y"],
     "hole.csv: column 'b', line 2: the field is empty, a number is needed"),
    ("infinity", ["train", "inf.csv", "--target", "y"],
     "inf.csv: column 'b', line 4: 'inf' is not a finite number"),
    ("ragged", ["train", "ragged.csv", "--target", "y"],
     "ragged.csv: line 3 has 2 fields, the header has 3"),
    ("repeated name", ["train", "twice.csv", "--target", "y"],
     "twice.csv: line 1: the header repeats the column name 'a'"),
    ("not utf-8", ["train", "latin1.csv", "--target", "y"],
     "latin1.csv: not UTF-8 text (invalid continuation byte at byte 4)"),
    ("one class", ["train", "one.csv", "--target", "y"],
     "one.csv: target column 'y' holds one class only ('x'); classification needs at least 2"),
    ("no features", ["train", "only.csv", "--target", "y"],
     "only.csv: there are no columns besides the target to learn from"),
    ("text for regression", ["train", "good.csv", "--target", "y", "--task", "regression"],
     "good.csv: column 'y', line 2: 'x' is not a number"),
    ("too few rows", ["train", "good.csv", "--target", "y", "--test-fraction", "0.1"],
     "good.csv: 2 rows are too few to hold out 0.1 of them and train on the rest"),
    ("no directory", ["train", "good.csv", "--target", "y", "--out", "no/m.npz"],
     "no/m.npz: the directory to write it in does not exist"),
    ("not a model", ["predict", "good.csv", "good.csv"],
     "good.csv: not a fastbp model file (not an .npz archive)"),
    ("missing model", ["predict", "missing.npz", "good.csv"],
     "missing.npz: No such file or directory"),
]


@pytest.mark.parametrize("argv, message", [c[1:] for c in DATA_ERRORS],
                         ids=[c[0] for c in DATA_ERRORS])
def test_data_and_file_errors(capsys, monkeypatch, tmp_path, argv, message):
    for name, content in FILES.items():
        (tmp_path / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, *argv)
    assert (status, out, err) == (1, "", f"fastbp: error: {message}\n")


def test_divergence_is_reported(capsys, tmp_path):
    data = write_csv(tmp_path / "d.csv", ["x", "y"], [[i, i * 1e3] for i in range(50)])
    status, _, err = run(capsys, "train", data, "--target", "y", "--lr", "1e30", "--quiet")
    assert status == 1
    assert re.fullmatch(r"fastbp: error: training diverged in epoch 1: .*\n", err)


def trained_model(capsys, tmp_path, data):
    model = tmp_path / "m.npz"
    assert run(capsys, "train", data, "--target", "colour", "--epochs", "1", "--out", model)[0] == 0
    return model


def test_predict_names_a_missing_column(capsys, tmp_path, blobs):
    model = trained_model(capsys, tmp_path, blobs[0])
    other = write_csv(tmp_path / "o.csv", ["x1", "colour"], [[1, "red"]])
    status, out, err = run(capsys, "predict", model, other)
    assert (status, out) == (1, "")
    assert err == (f"fastbp: error: {other}: no column 'x2'; the model was trained on the "
                   "columns x1, x2\n")


def test_predict_refuses_a_model_without_preprocessing(capsys, tmp_path, blobs):
    model = tmp_path / "plain.npz"
    fastbp.MLP([2, 3]).save(model)
    status, _, err = run(capsys, "predict", model, blobs[0])
    assert status == 1
    assert err == (f"fastbp: error: {model}: the model file holds no column names or scaling; "
                   "`fastbp predict` reads models made by `fastbp train`\n")


def rewrite_extra(path, change):
    """Hand-edit the extra of a model file: ``change(extra)`` in place."""
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    with np.load(path) as npz:
        meta = json.loads(str(npz["meta"][()]))
    change(meta["extra"])
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array(json.dumps(meta)))
    members["meta.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@pytest.mark.parametrize("change, message", [
    (lambda e: e.update(feature_std=[1.0, -2.0]),
     r"extra: feature_std must be a list of 2 positive finite numbers, got \[1.0, -2.0\]"),
    (lambda e: e.update(features=["x1", "x1"]), r"extra: features must be a list of 2 distinct"),
    (lambda e: e.update(classes=["a", "b"]), r"extra: classes must be a list of 3 distinct"),
    (lambda e: e.update(task="ranking"), r"extra: task must be one of classification, regr"),
    (lambda e: e.pop("targets"), r"extra: a classification model needs the keys \[.*\], got"),
    (lambda e: e.update(fastbp_cli=2), r"extra: fastbp_cli 2 is not supported"),
    (lambda e: e.update(feature_mean=[0, "1"]), r"extra: feature_mean must be a list of 2"),
])
def test_predict_refuses_a_hand_edited_extra(capsys, tmp_path, blobs, change, message):
    model = trained_model(capsys, tmp_path, blobs[0])
    rewrite_extra(model, change)
    status, out, err = run(capsys, "predict", model, blobs[0])
    assert (status, out) == (1, "")
    assert re.fullmatch(rf"fastbp: error: {re.escape(str(model))}: {message}.*\n", err), err


@pytest.mark.parametrize("argv, message", [
    (["train", "d.csv"], r"the following arguments are required: --target"),
    (["train", "d.csv", "--target", "y", "--epochs", "0"],
     r"argument --epochs: must be a whole number >= 1, got '0'"),
    (["train", "d.csv", "--target", "y", "--hidden", "8,x"], r"argument --hidden: must be"),
    (["train", "d.csv", "--target", "y", "--lr", "nan"], r"argument --lr: must be a number > 0"),
    (["train", "d.csv", "--target", "y,y"], r"argument --target: must be comma-separated distinct"),
    (["train", "d.csv", "--target", "y", "--test-fraction", "1"], r"argument --test-fraction"),
    (["train", "d.csv", "--target", "y", "--activation", "softmax"],
     r"argument --activation: invalid choice: 'softmax'"),
    (["predict", "m.npz"], r"the following arguments are required: DATA.csv"),
    (["trace", "--example", "4"], r"argument --example: invalid choice: 4"),
    (["trace", "--weights", "[1"], r"argument --weights: must be a JSON list"),
    (["bench", "--shapes", "3-3"], r"argument --shapes: unknown shape '3-3'; choose from 2-2-2"),
    (["bench", "--repeats", "0"], r"argument --repeats: must be a whole number >= 1"),
    (["nonsense"], r"argument COMMAND: invalid choice: 'nonsense'"),
])
def test_usage_errors_exit_with_2(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    command = "fastbp" if argv[0] == "nonsense" else f"fastbp {argv[0]}"
    assert out == ""
    assert re.fullmatch(rf"fastbp: error: {message}.* \(see {command} --help\)\n", err), err


@pytest.mark.parametrize("argv, message", [
    (["--target", "y", "--features", "a,y"], r"column 'y' is both a feature and a target"),
    (["--target", "a,y", "--task", "classification"],
     r"classification takes one target column, got 2 \(a, y\)"),
])
def test_usable_arguments_that_do_not_fit_the_data_exit_with_2(capsys, tmp_path, argv, message):
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], [[1, 2, 3], [4, 5, 6]])
    status, out, err = run(capsys, "train", data, *argv)
    assert (status, out) == (2, "")
    assert re.fullmatch(rf"fastbp: error: {message}\n", err)


def test_broken_pipe_ends_quietly(tmp_path, blobs):
    """`fastbp predict ... | head -1`: no traceback, no error line."""
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(fastbp.__file__))}
    model = tmp_path / "m.npz"
    subprocess.run([sys.executable, "-m", "fastbp", "train", blobs[0], "--target", "colour",
                    "--epochs", "1", "--quiet", "--out", model], env=env, check=True,
                   capture_output=True)
    shell = (f"{sys.executable} -m fastbp predict {model} {blobs[0]} --proba | head -1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], env=env,
                          capture_output=True, text=True)
    assert done.stdout == "colour,p(blue),p(green),p(red)\n"
    assert done.stderr == ""


# -- trace ---------------------------------------------------------------------------

def test_trace_prints_worked_example_1(capsys):
    status, out, err = run(capsys, "trace")
    assert (status, err) == (0, "")
    assert out == ("Worked example 1: 2-2-2 sigmoid network, learning rate 0.5, biases fixed\n\n"
                   f"{demo.worked_example()}\n")
    assert "  E total = 0.298371109\n" in out
    # The updated weights of worked-examples.md, to 9 digits where the
    # document stops at 8 (0.19956143, 0.24975114, 0.29950229).
    for line in ["w o1,h1 = 0.4 - 0.5 * 0.0821670406 = 0.35891648",
                 "w o1,h2 = 0.45 - 0.5 * 0.0826676278 = 0.408666186",
                 "w o2,h1 = 0.5 - 0.5 * -0.0226025405 = 0.51130127",
                 "w o2,h2 = 0.55 - 0.5 * -0.0227402422 = 0.561370121",
                 "w h1,x1 = 0.15 - 0.5 * 0.000438567734 = 0.149780716",
                 "w h1,x2 = 0.2 - 0.5 * 0.000877135469 = 0.199561432",
                 "w h2,x1 = 0.25 - 0.5 * 0.000497712735 = 0.249751144",
                 "w h2,x2 = 0.3 - 0.5 * 0.000995425471 = 0.299502287"]:
        assert f"  {line}\n" in out
    assert out.endswith("  E total = 0.291027774\n")


def test_trace_example_2_is_the_corrected_xor_step(capsys):
    status, out, _ = run(capsys, "trace", "--example", "2")
    assert status == 0
    assert out.endswith(f"\n\n{demo.xor_first_step()}\n")
    assert "  w o1,h1 = 1 - 0.1 * 4 = 0.6\n" in out and "  w h1,x1 = 1 - 0.1 * 0 = 1\n" in out
    assert out.endswith("  out o1 = 1.68\n  E total = 1.4112\n")


def test_trace_example_3_matches_the_closed_form(capsys):
    status, out, _ = run(capsys, "trace", "--example", "3")
    # i = 1, t = 0, w_h = w_o = 0.5: r_h = s(0.5), r_o = s(0.5 r_h),
    # dE/dw_o = r_o^2 (1 - r_o) r_h, dE/dw_h = r_o^2 (1 - r_o) 0.5 r_h (1 - r_h).
    r_h = 1 / (1 + np.exp(-0.5))
    r_o = 1 / (1 + np.exp(-0.5 * r_h))
    g_o = r_o * r_o * (1 - r_o) * r_h
    g_h = r_o * r_o * (1 - r_o) * 0.5 * r_h * (1 - r_h)
    assert status == 0
    assert f"w o1,h1 = 0.5 - 0.7 * {g_o:.9g} = {0.5 - 0.7 * g_o:.9g}\n" in out
    assert f"w h1,x1 = 0.5 - 0.7 * {g_h:.9g} = {0.5 - 0.7 * g_h:.9g}\n" in out


def test_trace_options_change_the_example(capsys):
    status, out, _ = run(capsys, "trace", "--weights", "[[[0.1, 0.2]], [[0.3]]]",
                         "--biases", "none", "--input", "1,2", "--target", "1", "--lr", "0.25")
    net = fastbp.MLP.from_weights([[[0.1, 0.2]], [[0.3]]])
    expected = fastbp.trace_step(net, [1, 2], [1], lr=0.25, update_biases=False)
    assert status == 0
    assert out == (f"Worked example 1 with --weights, --biases, --input, --target, --lr\n\n"
                   f"{expected}\n")


@pytest.mark.parametrize("argv, message", [
    (["--input", "1,2,3"], "--input has 3 values, the network has 2"),
    (["--weights", "[[[1.0]]]", "--input", "1", "--target", "1"],
     "--weights is given without --biases, and example 1's biases"),
    (["--activation", "softmax"], "softmax is only allowed in the output layer"),
])
def test_trace_refuses_a_network_that_cannot_be(capsys, argv, message):
    status, out, err = run(capsys, "trace", *argv)
    assert (status, out) == (2, "")
    assert err.startswith(f"fastbp: error: {message}") and err.count("\n") == 1


# -- bench ---------------------------------------------------------------------------

QUICK_BENCH = ["bench", "--quick", "--shapes", "2-2-2", "--repeats", "1"]


@pytest.fixture
def one_blas_thread(monkeypatch):
    """As if Python had started with one BLAS thread: bench runs in-process."""
    for var in compare.THREAD_VARS:
        monkeypatch.setenv(var, "1")


def test_bench_quick(capsys, one_blas_thread):
    status, out, _ = run(capsys, *QUICK_BENCH)
    assert status == 0
    lines = out.splitlines()
    assert "# command: fastbp bench --quick --shapes 2-2-2 --repeats 1" in lines
    header = next(line for line in lines if line.startswith("shape"))
    assert header.split()[:8] == ["shape", "fastbp", "f32", "fastbp", "f64", "reference",
                                  "f64", "NumPy"]
    row = next(line for line in lines if line.startswith("2-2-2 "))
    assert float(row.split()[-1]) > 0           # f64/f32
    assert any(line.startswith("# checks: passed") for line in lines)


def test_bench_reports_missing_peers_as_skipped(capsys, monkeypatch, tmp_path, one_blas_thread):
    monkeypatch.setitem(sys.modules, "torch", None)      # import torch raises ImportError
    monkeypatch.setattr(peers, "FANN_HEADER", tmp_path / "fann.h")
    status, out, _ = run(capsys, *QUICK_BENCH, "--markdown")
    assert status == 0
    assert "- skipped PyTorch f32: PyTorch is not installed (pip install torch)\n" in out
    assert (f"- skipped FANN f32: FANN is not installed (no {tmp_path / 'fann.h'}; "
            "apt-get install libfann-dev)\n") in out
    assert "| shape | fastbp f32 | fastbp f64 | reference f64 | NumPy f32 | x ref |" in out
    assert "| 2-2-2 |" in out and "n/a" in out


def test_bench_without_a_c_compiler(monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler")
    with pytest.raises(peers.PeerUnavailable, match=r"no C compiler found"):
        peers.build_fann_harness()


def test_bench_starts_a_single_threaded_interpreter():
    """Started without the thread variables, bench measures in a child
    process that has them (NumPy reads them only when it loads)."""
    env = {k: v for k, v in os.environ.items() if k not in compare.THREAD_VARS}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(fastbp.__file__))
    done = subprocess.run([sys.executable, "-m", "fastbp", *QUICK_BENCH], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("# one thread each: OPENBLAS_NUM_THREADS/OMP_NUM_THREADS/MKL_NUM_THREADS=1 in "
            "the environment Python started with\n") in done.stdout


# -- the programs -------------------------------------------------------------------

def test_python_dash_m_fastbp_help():
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(fastbp.__file__))}
    done = subprocess.run([sys.executable, "-m", "fastbp", "--help"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("usage: fastbp [-h] [--version] COMMAND ...")
    for command in ("demo", "config", "bench", "train", "predict", "trace"):
        assert re.search(rf"\n    {command} +\S", done.stdout), command


@pytest.mark.parametrize("command", ["train", "predict", "trace", "bench"])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    # argparse's heading: "options:" from Python 3.10, "optional arguments:" before.
    assert out.startswith(f"usage: fastbp {command} ")
    assert re.search(r"^(options|optional arguments):$", out, re.M)


# -- the CSV reader -----------------------------------------------------------------

def test_csv_quotes_spaces_bom_and_blank_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes('\ufeffname ,"a, b",y\n\n" x " , 1.5,"z"\n , ,\n"two\nlines",2,w\n'
                     .encode())
    table = read_csv(str(path))
    assert table.columns == ["name", "a, b", "y"]
    assert table.rows == [["x", "1.5", "z"], ["two\nlines", "2", "w"]]
    assert table.lines == [3, 6]
    np.testing.assert_array_equal(table.numbers(["a, b"]), [[1.5], [2.0]])
    with pytest.raises(DataError, match=r"column 'name', line 3: 'x' is not a number"):
        table.numbers(["a, b", "name"])


# -- model files with extra metadata (fastbp.persistence) ------------------------------

def test_extra_round_trips_and_plain_files_have_none(tmp_path):
    net = fastbp.MLP([2, 3, 1], seed=0)
    extra = {"names": ["a", "b"], "scale": [0.5, 1e-300], "nested": {"k": None, "on": True}}
    persistence.save(net, tmp_path / "x.npz", extra=extra)
    back, got = persistence.load_with_extra(tmp_path / "x.npz")
    assert got == extra and back.params.tobytes() == net.params.tobytes()
    assert fastbp.load(tmp_path / "x.npz").params.tobytes() == net.params.tobytes()
    net.save(tmp_path / "plain.npz")
    assert persistence.load_with_extra(tmp_path / "plain.npz")[1] is None


@pytest.mark.parametrize("extra, error, message", [
    ([1, 2], TypeError, r"extra must be a dict \(a JSON object\), got list"),
    ({"x": float("nan")}, ValueError, r"extra is not JSON-serialisable: Out of range float"),
    ({"x": np.arange(2)}, TypeError, r"extra is not JSON-serialisable: Object of type ndarray"),
    ({1: "a"}, TypeError, r"does not survive a JSON round trip"),
    ({"x": (1, 2)}, TypeError, r"does not survive a JSON round trip"),
])
def test_a_bad_extra_is_refused_before_writing(tmp_path, extra, error, message):
    with pytest.raises(error, match=message):
        persistence.save(fastbp.MLP([2, 1]), tmp_path / "x.npz", extra=extra)
    assert os.listdir(tmp_path) == []


def test_an_extra_that_is_not_an_object_is_a_model_file_error(tmp_path):
    path = tmp_path / "x.npz"
    persistence.save(fastbp.MLP([2, 1]), path, extra={"a": 1})
    with np.load(path) as npz:
        params, meta = npz["params"], json.loads(str(npz["meta"][()]))
    meta["extra"] = [1]
    with open(path, "wb") as f:
        np.savez(f, params=params, meta=np.array(json.dumps(meta)))
    with pytest.raises(ModelFileError, match=rf"^{re.escape(str(path))}: extra must be a JSON "
                                             r"object, got \[1\]$"):
        persistence.load_with_extra(path)


# -- what a hostile user tries (issue 14, findings 3, 5 and 7) -------------------------

def test_an_empty_target_cell_is_refused_at_training(capsys, tmp_path):
    """As a class it would be "", which predict then refuses to read."""
    data = write_csv(tmp_path / "d.csv", ["x", "y"],
                     [[i, i % 3] for i in range(20)] + [[20, ""]])
    status, out, err = run(capsys, "train", data, "--target", "y", "--epochs", "1",
                           "--out", tmp_path / "m.npz")
    assert status == 1 and err == (f"fastbp: error: {data}: column 'y', line 22: the "
                                   "target is empty; fill it in or drop the row\n")
    assert not (tmp_path / "m.npz").exists()


def test_targets_near_the_float64_maximum_train_and_score(capsys, tmp_path):
    """Their standard deviation is taken without overflow: training learns
    them (it trained on zeros, and reported R^2 nan)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 200)
    data = write_csv(tmp_path / "d.csv", ["x", "y"], [[v, 1.7e308 * v] for v in x])
    status, out, err = run(capsys, "train", data, "--target", "y", "--hidden", "",
                           "--epochs", "20", "--test-fraction", "0.2", "--quiet")
    assert status == 0 and err == ""
    assert float(re.search(r"held-out R\^2 ([0-9.]+)", out)[1]) > 0.99


def test_features_of_1e308_train_and_predict(capsys, tmp_path):
    data = write_csv(tmp_path / "d.csv", ["x", "y"],
                     [[1.7e308 if i % 2 else -1.7e308, i % 2] for i in range(20)])
    model = tmp_path / "m.npz"
    status, out, err = run(capsys, "train", data, "--target", "y", "--epochs", "30",
                           "--quiet", "--out", model)
    assert status == 0 and err == "" and "train accuracy 1.0000" in out
    status, out, err = run(capsys, "predict", model, data)
    assert status == 0 and err == ""
    assert [row[0] for row in read_output(out)[1]] == [str(i % 2) for i in range(20)]


def test_features_too_large_to_standardise_are_one_line_errors(capsys, tmp_path):
    """x - mean overflows: 1.7e308 - (-0.85e308)."""
    data = write_csv(tmp_path / "d.csv", ["x", "y"],
                     [[-1.7e308 if i % 4 else 1.7e308, i % 2] for i in range(20)])
    status, out, err = run(capsys, "train", data, "--target", "y", "--epochs", "1")
    assert status == 1
    assert err == (f"fastbp: error: {data}: column 'x' holds values too large to "
                   "standardise in float64 (x - mean overflows); rescale the column\n")


def test_a_learning_rate_beyond_float32_is_a_usage_error(capsys, blobs):
    status, out, err = run(capsys, "train", blobs[0], "--target", "colour",
                           "--dtype", "float32", "--lr", "1e39")
    assert status == 2 and out == ""
    assert err == "fastbp: error: --lr=1e+39 is not a positive finite float32\n"


def test_a_network_too_large_for_memory_is_a_one_line_error(capsys, blobs):
    status, out, err = run(capsys, "train", blobs[0], "--target", "colour",
                           "--hidden", "1000000000")
    assert status == 1 and out == ""
    assert re.fullmatch(r"fastbp: error: layer_sizes \[2, 1000000000, 3\] make a network "
                        r"of 6,000,000,003 parameters, which needs about [\d,.]+ GiB of "
                        r"memory in float64; this machine has [\d,.]+ GiB\n", err), err


def test_json_nested_too_deep_is_a_usage_error(capsys):
    deep = "[" * 100000 + "]" * 100000
    with pytest.raises(SystemExit) as info:
        cli.main(["trace", "--weights", deep])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--weights: must be a JSON list" in err and "Traceback" not in err


# -- everyday frictions: delimiters, one-line argument errors, long column lists --------

@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_the_delimiter_is_found_on_the_header_line(capsys, tmp_path, blobs, delimiter):
    """A semicolon- or tab-separated file trains as the comma-separated one does."""
    with open(blobs[0]) as f:
        text = f.read()
    path = tmp_path / "other.csv"
    # Decimal points stay: only the delimiter changes.
    path.write_text(text.replace(",", delimiter))
    table = read_csv(path)
    assert table.columns == ["x1", "x2", "colour"] and table.n_rows == 240
    expected = run(capsys, "train", blobs[0], "--target", "colour", "--epochs", "2")
    got = run(capsys, "train", path, "--target", "colour", "--epochs", "2")
    def untimed(out, data):
        return re.sub(r"[0-9.]+ s\b", "", out.replace(str(data), ""))
    assert got[0] == 0 and untimed(got[1], path) == untimed(expected[1], blobs[0])


def test_a_given_delimiter_overrides_the_guess(capsys, tmp_path):
    # The header holds more commas than semicolons, but ';' separates the fields.
    path = tmp_path / "d.csv"
    path.write_text("a,b,c;d;y\n1;2;3\n4;5;6\n")
    with pytest.raises(DataError, match="line 2 has 1 fields, the header has 3$"):
        read_csv(path)
    table = read_csv(path, ";")
    assert table.columns == ["a,b,c", "d", "y"] and table.rows == [["1", "2", "3"],
                                                                  ["4", "5", "6"]]
    status, out, err = run(capsys, "train", path, "--target", "y", "--delimiter", ";",
                           "--epochs", "1")
    assert status == 0 and "features: a,b,c, d\n" in out, err
    tabbed = tmp_path / "t.csv"
    tabbed.write_text("a;b\tc\n1;2\t3\n")
    assert read_csv(tabbed).columns == ["a", "b\tc"]
    assert cli.build_parser().parse_args(["predict", "m.npz", "d.csv", "--delimiter",
                                          "tab"]).delimiter == "\t"


def test_a_byte_order_mark_and_blank_lines_do_not_confuse_the_detection(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbf\n ;; \na;b\n1;2\n")
    table = read_csv(path)
    assert (table.columns, table.rows, table.lines) == (["a", "b"], [["1", "2"]], [4])


@pytest.mark.parametrize("text", ["ab", "", '"', "\n"])
def test_a_bad_delimiter_is_a_one_line_usage_error(capsys, text):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "d.csv", "--target", "y", "--delimiter", text])
    assert info.value.code == 2
    _, err = capsys.readouterr()
    assert err == ("fastbp: error: argument --delimiter: must be one character other than a "
                   f"quote or a newline, or 'tab', got {text!r} (see fastbp train --help)\n")


def test_argument_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("fastbp: error: the following arguments are required: "
                                 "COMMAND (see fastbp --help)\n")


def test_long_column_lists_are_shortened(capsys, tmp_path):
    names = [f"feature_{i}" for i in range(900)]
    data = write_csv(tmp_path / "wide.csv", names + ["y"], [list(range(901))])
    status, _, err = run(capsys, "train", data, "--target", "label")
    assert status == 1
    assert err == (f"fastbp: error: {data}: no column 'label' (the columns are feature_0, "
                   "feature_1, feature_2, feature_3, feature_4 and 896 more)\n")


def test_predict_shortens_the_trained_columns(capsys, tmp_path):
    names = [f"f{i}" for i in range(8)]
    rng = np.random.default_rng(0)
    data = write_csv(tmp_path / "d.csv", names + ["y"],
                     [[*rng.normal(size=8), i % 2] for i in range(20)])
    model = tmp_path / "m.npz"
    assert run(capsys, "train", data, "--target", "y", "--epochs", "1", "--out", model)[0] == 0
    other = write_csv(tmp_path / "o.csv", ["f0"], [[1]])
    status, _, err = run(capsys, "predict", model, other)
    assert (status, err) == (1, f"fastbp: error: {other}: no column 'f1'; the model was "
                                "trained on the columns f0, f1, f2, f3, f4 and 3 more\n")


def test_plot_without_matplotlib_names_the_extra_both_ways(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    status, out, err = run(capsys, "trace", "--plot", "step.png")
    assert (status, out) == (2, "")
    assert err == ('fastbp: error: --plot draws with matplotlib, which is not installed: '
                   'pip install "fastbp[plot]" (from a clone of fastbp: pip install ".[plot]")\n')
