"""Files written whole or not at all."""

import os
import socket


def atomic_write(path, write):
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it
    to ``path``: a crash leaves the old file (or none), never half of a new one.
    The temporary name holds the host and process, so writers sharing a folder
    (workers, shared storage) never collide. Creates missing folders; returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{socket.gethostname()}-{os.getpid()}.tmp"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_text(path, text):
    """``atomic_write`` of a UTF-8 text."""

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    return atomic_write(path, write)
