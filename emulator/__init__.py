"""A Dropbox API v2 emulator: an in-memory account served over HTTP to the real SDK.

``Emulator`` is the account and its controls (files, cursors, faults, counters, webhooks);
``EmulatorServer`` serves it with uvicorn from a thread. ``python -m emulator --root DIR``
serves a directory. See docs/emulator.md.
"""

from emulator.control import Emulator
from emulator.errors import AccountError, EmulatorError, LookupFailure, RelocationFailure
from emulator.faults import Counters, Faults
from emulator.hashing import content_hash
from emulator.model import DeletedMeta, FileMeta, FolderMeta
from emulator.runner import EmulatorServer
from emulator.server import create_app
from emulator.webhooks import signature

__all__ = [
    "AccountError",
    "Counters",
    "DeletedMeta",
    "Emulator",
    "EmulatorError",
    "EmulatorServer",
    "Faults",
    "FileMeta",
    "FolderMeta",
    "LookupFailure",
    "RelocationFailure",
    "content_hash",
    "create_app",
    "signature",
]
