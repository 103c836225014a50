"""A Dropbox API v2 emulator: in-memory accounts served over HTTP to the real SDK.

``Emulator`` is one account and its controls (files, cursors, faults, counters, webhooks);
``EmulatorServer`` serves one or several accounts of one app with uvicorn from a thread.
``python -m emulator --root DIR`` serves a directory. See docs/emulator.md.
"""

from emulator.control import Emulator, account_id_for
from emulator.errors import AccountError, EmulatorError, LookupFailure, RelocationFailure
from emulator.faults import LISTING, Counters, Faults, Hold
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
    "Hold",
    "LISTING",
    "LookupFailure",
    "RelocationFailure",
    "account_id_for",
    "content_hash",
    "create_app",
    "signature",
]
