"""The limiters and the manual clock moved to :mod:`sheets_sync_emulators.core`; these names stay."""

from ..core.clock import ManualClock
from ..core.limits import LeakyBucket, OperationBudget, SlidingWindow

__all__ = ["LeakyBucket", "ManualClock", "OperationBudget", "SlidingWindow"]
