"""The progress bar and per-epoch lines of ``fit(progress=, verbose=)``
(``fastbp._progress``): what they print, with tqdm and without it."""
import io
import re
import sys

import numpy as np
import pytest

import fastbp
from fastbp._progress import make_reporter

LOSSES = [0.5, 0.25, 0.125, 0.0625, 0.03125]


@pytest.fixture
def tqdm():
    """tqdm, an optional extra ("progress"): the test skips without it."""
    return pytest.importorskip("tqdm")


class Terminal(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self):
        return True


@pytest.fixture
def no_tqdm(monkeypatch):
    """Import of tqdm fails, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


def report(reporter, losses, val_losses=None, seconds_per_epoch=0.5):
    """Feed one epoch per loss to the reporter, then close it."""
    for epoch, loss in enumerate(losses, 1):
        val = val_losses[epoch - 1] if val_losses else None
        reporter.epoch_end(epoch, loss, val, seconds_per_epoch * epoch)
    reporter.close()


def epoch_lines(text):
    """(epoch, total, loss) of each 'epoch e/n  loss x' in text."""
    return [(int(e), int(n), float(x))
            for e, n, x in re.findall(r"epoch +(\d+)/(\d+)  loss (\S+)", text)]


def test_off_is_none():
    # fit tests `reporter is None` and does nothing else per epoch.
    assert make_reporter(100, 10, progress=False, verbose=False) is None


def test_verbose_one_line_per_epoch(capsys):
    report(make_reporter(5, 1000, progress=False, verbose=True), LOSSES,
           val_losses=[1.0, 0.5, 0.2, 0.1, 0.05])
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    # 1000 samples per 0.5 s epoch: 2,000 samples/s.
    assert lines[0] == "epoch 1/5  loss 0.5  val_loss 1  2,000 samples/s"
    assert lines[2] == "epoch 3/5  loss 0.125  val_loss 0.2  2,000 samples/s"
    assert epoch_lines(out) == [(e, 5, x) for e, x in enumerate(LOSSES, 1)]


def test_verbose_format_pads_epochs_and_keeps_digits():
    out = io.StringIO()
    reporter = make_reporter(50, 12345, progress=False, verbose=True, file=out)
    reporter.epoch_end(3, 0.1234564321, 2e-7, seconds=3.0)
    assert out.getvalue() == "epoch  3/50  loss 0.123456  val_loss 2e-07  12,345 samples/s\n"


def test_rate_left_out_without_elapsed_time():
    out = io.StringIO()
    make_reporter(2, 10, progress=False, verbose=True, file=out).epoch_end(1, 0.5, seconds=0.0)
    assert out.getvalue() == "epoch 1/2  loss 0.5\n"


def test_rate_measured_when_seconds_not_given():
    out = io.StringIO()
    make_reporter(2, 10, progress=False, verbose=True, file=out).epoch_end(1, 0.5)
    rate = int(re.search(r"([\d,]+) samples/s", out.getvalue()).group(1).replace(",", ""))
    assert rate > 10    # ten samples took less than a second


def test_tqdm_bar_goes_to_stderr(tqdm, capsys):
    report(make_reporter(5, 1000, progress=True, verbose=False), LOSSES)
    out, err = capsys.readouterr()
    assert out == ""
    final = err.split("\r")[-1]
    assert "5/5" in final and "loss 0.03125  2,000 samples/s" in final
    assert final.endswith("\n")


def test_tqdm_bar_with_verbose_lines(tqdm, capsys):
    report(make_reporter(5, 1000, progress=True, verbose=True), LOSSES)
    out, err = capsys.readouterr()
    assert epoch_lines(out) == [(e, 5, x) for e, x in enumerate(LOSSES, 1)]
    assert "5/5" in err.split("\r")[-1]


def test_tqdm_bar_stopped_early_shows_last_epoch(tqdm):
    out = io.StringIO()
    report(make_reporter(100, 10, progress=True, verbose=False, file=out), LOSSES[:3])
    assert "3/100" in out.getvalue().split("\r")[-1]
    assert "loss 0.125" in out.getvalue().split("\r")[-1]


def test_fallback_without_tqdm_writes_a_line_every_tenth(no_tqdm):
    out = io.StringIO()
    losses = [1.0 / e for e in range(1, 21)]
    report(make_reporter(20, 100, progress=True, verbose=False, file=out), losses)
    lines = out.getvalue().splitlines()
    assert epoch_lines(out.getvalue()) == [(e, 20, float(f"{1 / e:.6g}"))
                                           for e in range(2, 21, 2)]
    assert lines[0] == "[##..................] epoch  2/20  loss 0.5  200 samples/s"
    assert lines[-1].startswith("[####################] epoch 20/20")


def test_fallback_few_epochs_every_line(no_tqdm):
    out = io.StringIO()
    report(make_reporter(3, 100, progress=True, verbose=False, file=out), LOSSES[:3])
    assert epoch_lines(out.getvalue()) == [(1, 3, 0.5), (2, 3, 0.25), (3, 3, 0.125)]


def test_fallback_stopped_early_prints_last_epoch(no_tqdm):
    out = io.StringIO()
    report(make_reporter(1000, 100, progress=True, verbose=False, file=out), LOSSES[:3])
    # No tenth of 1000 epochs was reached; close still shows where it stopped.
    assert epoch_lines(out.getvalue()) == [(3, 1000, 0.125)]


def test_fallback_on_terminal_redraws_one_line(no_tqdm):
    out = Terminal()
    report(make_reporter(5, 1000, progress=True, verbose=False, file=out), LOSSES)
    text = out.getvalue()
    assert text.startswith("\r[") and text.endswith("\n")
    assert text.count("\n") == 1            # one line, redrawn in place
    assert text.rstrip("\n").split("\r")[-1].rstrip() == (
        "[####################] epoch 5/5  loss 0.03125  2,000 samples/s")


def test_fallback_on_terminal_with_verbose_lines_above(no_tqdm):
    out = Terminal()
    report(make_reporter(3, 1000, progress=True, verbose=True, file=out), LOSSES[:3])
    # Each epoch's line is printed on a cleared row, the bar redrawn below it.
    rows = [row.split("\r")[-1] for row in out.getvalue().split("\n")]
    assert rows[:3] == [f"epoch {e}/3  loss {x:g}  2,000 samples/s"
                        for e, x in zip((1, 2, 3), LOSSES)]
    assert rows[3:] == ["[####################] epoch 3/3  loss 0.125  2,000 samples/s", ""]


def test_fallback_not_a_terminal_with_verbose_prints_lines_only(no_tqdm, capsys):
    report(make_reporter(20, 10, progress=True, verbose=True), [0.5] * 20)
    out, err = capsys.readouterr()
    assert err == ""            # the bar would only repeat the lines
    assert [e for e, _, _ in epoch_lines(out)] == list(range(1, 21))


# -- through MLP.fit -----------------------------------------------------------

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


def xor_net():
    return fastbp.MLP([2, 4, 1], activation="tanh", output_activation="sigmoid", seed=0)


def test_fit_verbose_prints_each_epoch_of_history(capsys):
    history = xor_net().fit(XOR_X, XOR_Y, epochs=6, lr=0.5, seed=0, verbose=True,
                            validation_data=(XOR_X, XOR_Y))
    out, err = capsys.readouterr()
    assert err == ""
    assert epoch_lines(out) == [(e, 6, float(f"{x:.6g}")) for e, x in enumerate(history.loss, 1)]
    val = [float(v) for v in re.findall(r"val_loss (\S+)", out)]
    assert val == [float(f"{v:.6g}") for v in history.val_loss]


def test_fit_progress_fallback_without_tqdm(no_tqdm, capsys):
    history = xor_net().fit(XOR_X, XOR_Y, epochs=30, lr=0.5, seed=0, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert epoch_lines(err) == [(e, 30, float(f"{history.loss[e - 1]:.6g}"))
                                for e in range(3, 31, 3)]


def test_fit_progress_tqdm(capsys):
    history = xor_net().fit(XOR_X, XOR_Y, epochs=30, lr=0.5, seed=0, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    final = err.split("\r")[-1]
    assert "30/30" in final and f"loss {history.loss[-1]:.6g}" in final
