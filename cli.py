"""What the command-line programs share (train.py, evaluate.py, preview.py, data.prepare,
benchmarks.*): one-line user errors and a quiet TensorFlow start.

A user error is two lines on stderr, ``error: MESSAGE`` and a hint, with exit status 2 and no
usage dump (``--help`` shows the flags). Without ``--verbose``, TensorFlow starts without
its start-up log lines: ``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 (a value the user set is
kept; 0 shows everything), and the lines TensorFlow's C++ logging writes while it is
imported, before that setting applies (absl's ``I0000 … oneDNN custom operations``,
``cudart_stub``), are held back unless the import fails.
"""

import argparse
import contextlib
import importlib.util
import os
import sys
import tempfile

HINT = "run with --help for every flag"


def error_text(message):
    return f"error: {message}\n{HINT}\n"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (sub-command parsers inherit the class)."""

    def error(self, message):
        self.exit(2, error_text(message))


def fail(message):
    """Report a user error found after parsing as the parser reports its own; return the exit status 2."""
    sys.stderr.write(error_text(message))
    return 2


def add_verbose_flag(parser):
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up and C++ log lines (hidden by default)"
    )


def set_log_level(verbose):
    """``TF_CPP_MIN_LOG_LEVEL`` for this process and the ones it starts; True when it hides
    TensorFlow's info lines. Call before TensorFlow is imported."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    return os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3") != "0"


@contextlib.contextmanager
def _stderr_held():
    """Send file descriptor 2 to a temporary file; write what it caught to stderr if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            caught.seek(0)
            sys.stderr.write(caught.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_tensorflow(verbose=False):
    """Set the log level and import TensorFlow (if installed) without its start-up lines."""
    if set_log_level(verbose) and "tensorflow" not in sys.modules and importlib.util.find_spec("tensorflow"):
        with _stderr_held():
            import tensorflow  # noqa: F401
