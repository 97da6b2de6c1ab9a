"""Ctrl-C that waits for a compiled block of ``fit`` to be complete.

A SIGINT that arrives during a compiled call is acted on as the call
returns, where Python code runs again. Raised there, KeyboardInterrupt would
skip what follows the call: the finiteness check and rollback of a block
that diverged (leaving NaN or infinite parameters), and the optimizer's
update count (leaving Adam's step count behind the parameters); issue 14.
Inside ``DeferredInterrupt`` a SIGINT is only recorded; the handler it would
have run (Python's raises KeyboardInterrupt) runs as the block ends, with
the model consistent again.
"""
import signal
import threading


class DeferredInterrupt:
    """A context manager holding back SIGINT's Python handler until it exits.

    Only the main thread receives signals and may set handlers; elsewhere,
    and when SIGINT has no Python handler (ignored, or the default action),
    it does nothing.
    """

    def __enter__(self):
        self.previous = self.pending = None
        if threading.current_thread() is threading.main_thread():
            handler = signal.getsignal(signal.SIGINT)
            if callable(handler):
                self.previous = handler
                signal.signal(signal.SIGINT, self._record)
        return self

    def _record(self, signum, frame):
        self.pending = (signum, frame)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            if self.pending is not None:
                self.previous(*self.pending)
        return False
