"""Progress reporting for ``MLP.fit(..., progress=, verbose=)``.

``make_reporter`` returns None when both are off, so ``fit`` pays one
``is None`` test per epoch and nothing else. Otherwise ``fit`` calls
``epoch_end`` after each epoch and ``close`` when it stops, however it stops.

- ``progress=True``: a bar over the epochs, by default on ``sys.stderr``
  (tqdm's habit; it keeps stdout for results). tqdm draws it when installed
  (``pip install "fastbp[progress]"``); without tqdm a plain fallback does: on
  a terminal one line redrawn with ``'\\r'`` at most every 0.1 s, elsewhere
  (log files, CI) one line every 10% of the epochs.
- ``verbose=True``: one line per epoch, by default on ``sys.stdout`` (as
  scikit-learn's and Keras's ``verbose`` print), e.g.
  ``epoch  3/50  loss 0.123456  val_loss 0.2  12,345 samples/s``.
- Both: the lines are printed above the bar (tqdm's ``write``); where the
  fallback would print lines of its own (not a terminal) the bar is left
  out, as the per-epoch lines already say everything it would.

Samples/s is ``n_samples * epoch / seconds``: the mean rate since ``fit``
started, steadier than one epoch's rate when epochs take microseconds.
"""
import sys
import time

BAR_WIDTH = 20
# Seconds between two redraws of the fallback bar on a terminal: tqdm's
# default mininterval, fast enough to look live, rare enough to cost nothing.
REDRAW_INTERVAL = 0.1
# The fallback writes a line each time another tenth of the epochs is done.
STEPS = 10


def make_reporter(epochs, n_samples, progress=False, verbose=False, file=None):
    """The reporter for one ``fit`` call, or None when nothing is reported.

    Parameters
    ----------
    epochs : int
        Epochs ``fit`` will run (fewer if it stops early).
    n_samples : int
        Samples per epoch, for samples/s.
    progress : bool
        Show a progress bar (tqdm when installed, else a plain fallback).
    verbose : bool
        Print one line per epoch.
    file : file-like, optional
        Where both go; None means ``sys.stderr`` for the bar and
        ``sys.stdout`` for the lines (looked up at the call, so redirection
        and pytest's capture apply).

    Returns
    -------
    Reporter or None
    """
    if not (progress or verbose):
        return None
    bar_file = sys.stderr if file is None else file
    line_file = (sys.stdout if file is None else file) if verbose else None
    bar = _bar(epochs, bar_file, verbose) if progress else None
    return Reporter(epochs, n_samples, bar, line_file)


def _bar(epochs, file, verbose):
    """A tqdm bar, the plain fallback, or None where the fallback would only
    repeat the verbose lines."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        return _TqdmBar(tqdm, epochs, file)
    if verbose and not _isatty(file):
        return None
    return _PlainBar(epochs, file)


def _isatty(file):
    isatty = getattr(file, "isatty", None)
    return bool(isatty and isatty())


def status(loss, val_loss=None, rate=None):
    """``loss 0.123456  val_loss 0.2  12,345 samples/s``: 6 significant
    digits, so small losses keep theirs; absent parts are left out."""
    parts = [f"loss {loss:.6g}"]
    if val_loss is not None:
        parts.append(f"val_loss {val_loss:.6g}")
    if rate is not None:
        parts.append(f"{rate:,.0f} samples/s")
    return "  ".join(parts)


class Reporter:
    """Reports each epoch of one ``fit`` call; made by ``make_reporter``.

    Parameters
    ----------
    epochs, n_samples : int
    bar : _TqdmBar, _PlainBar or None
    line_file : file-like or None
        Where the per-epoch lines go; None prints none.
    """

    def __init__(self, epochs, n_samples, bar, line_file):
        self.epochs, self.n_samples = epochs, n_samples
        self._bar, self._line_file = bar, line_file
        self._start = time.perf_counter()

    def epoch_end(self, epoch, loss, val_loss=None, seconds=None):
        """Report a finished epoch.

        Parameters
        ----------
        epoch : int
            1-based.
        loss, val_loss : float
            The epoch's training loss and, if any, validation loss.
        seconds : float, optional
            Seconds since ``fit`` started; None measures from the reporter's
            creation.
        """
        if seconds is None:
            seconds = time.perf_counter() - self._start
        rate = self.n_samples * epoch / seconds if seconds > 0 else None
        text = status(loss, val_loss, rate)
        # The bar first, so that writing the line above it redraws its new state.
        if self._bar is not None:
            self._bar.update(epoch, text)
        if self._line_file is not None:
            line = f"epoch {epoch:>{len(str(self.epochs))}}/{self.epochs}  {text}"
            if self._bar is not None:
                self._bar.write(line, self._line_file)
            else:
                print(line, file=self._line_file, flush=True)

    def close(self):
        """Finish the bar (draw its last state, end its line)."""
        if self._bar is not None:
            self._bar.close()


class _TqdmBar:
    """A tqdm bar over the epochs, the status as its postfix."""

    def __init__(self, tqdm, epochs, file):
        self._tqdm = tqdm(total=epochs, unit="epoch", file=file)

    def update(self, epoch, text):
        # refresh=False: tqdm redraws in update, at most every mininterval;
        # a forced redraw per epoch would cost more than an epoch of XOR.
        self._tqdm.set_postfix_str(text, refresh=False)
        self._tqdm.update(epoch - self._tqdm.n)

    def write(self, line, file):
        self._tqdm.write(line, file=file)

    def close(self):
        self._tqdm.close()


class _PlainBar:
    """The fallback without tqdm: ``[#####...............] epoch 5/20  loss
    ...`` redrawn in place on a terminal, or written as a new line every
    tenth of the epochs anywhere else."""

    def __init__(self, epochs, file):
        self._epochs, self._file = epochs, file
        self._tty = _isatty(file)
        self._text = None           # the latest state
        self._drawn = True          # whether the file shows it
        self._width = 0             # characters of the redrawn line on screen
        self._last_draw = -float("inf")

    def update(self, epoch, text):
        done = epoch * BAR_WIDTH // self._epochs
        self._text = (f"[{'#' * done}{'.' * (BAR_WIDTH - done)}] "
                      f"epoch {epoch:>{len(str(self._epochs))}}/{self._epochs}  {text}")
        self._drawn = False
        if self._tty:
            due = time.perf_counter() - self._last_draw >= REDRAW_INTERVAL
        else:
            due = epoch * STEPS // self._epochs > (epoch - 1) * STEPS // self._epochs
        if due or epoch == self._epochs:
            self._draw()

    def _draw(self):
        if self._tty:
            # Pad with spaces over the end of a longer previous line.
            self._file.write("\r" + self._text.ljust(self._width))
            self._width = len(self._text)
            self._last_draw = time.perf_counter()
        else:
            self._file.write(self._text + "\n")
        self._file.flush()
        self._drawn = True

    def write(self, line, file):
        """A line above the bar: clear the bar, write the line, redraw."""
        if self._width:
            self._file.write("\r" + " " * self._width + "\r")
            self._file.flush()
            self._width = 0
        print(line, file=file, flush=True)
        if self._text is not None:
            self._draw()

    def close(self):
        """Draw the last state if it is not shown (fit stopped early, or
        between two redraws) and end the bar's line."""
        if self._text is not None and not self._drawn:
            self._draw()
        if self._width:
            self._file.write("\n")
            self._file.flush()
