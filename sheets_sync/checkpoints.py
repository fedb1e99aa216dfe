"""Named points of a sync where crash tests can stop the process.

When ``SHEETS_SYNC_HOLD_AT`` names a checkpoint, the process reaching it writes the file named
by ``SHEETS_SYNC_HOLD_FILE`` and waits there, so a test can kill it at exactly that point and
prove that the next run finishes the job. Unset (always, in normal use), a checkpoint does
nothing. Checkpoints: ``crm-read``, ``crm-batch`` (after each batch written to a SQL CRM),
``crm-written``, ``sheet-written``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def checkpoint(name: str) -> None:
    if os.environ.get("SHEETS_SYNC_HOLD_AT") != name:
        return
    marker = os.environ.get("SHEETS_SYNC_HOLD_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(float(os.environ.get("SHEETS_SYNC_HOLD_SECONDS", "60")))
