"""Parameters that more than one router declares the same way.

``ContentHash``: a picture's Dropbox content hash in a path (64 hexadecimal digits, either
case), handed to the route in lowercase, as the store keeps it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

ContentHash = Annotated[str, Path(pattern="^[0-9a-fA-F]{64}$"), AfterValidator(str.lower)]
