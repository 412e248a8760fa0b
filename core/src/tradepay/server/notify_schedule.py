"""The retry schedule of a notification: when its next delivery is due, or that it is dead.

Attempt 1 is made as soon as the event exists; after failed attempt ``n`` the next one waits
``first_retry_s * 2 ** (n - 1)``, at most ``max_retry_s``, jittered by up to :data:`JITTER` either way (and
still at most ``max_retry_s``), so that many events failing together do not come back together. After
``attempts`` failed attempts the event is dead.

The wait is stored in the ledger (``next_attempt_at``), never slept in a process: a worker that dies loses
nothing, and any worker can make the next attempt. Retry libraries (tenacity, stamina) compute waits for a
loop that sleeps in-process, so the ten lines below are the schedule.
"""

from __future__ import annotations

import random
from typing import Final

from .._config import NotificationSettings

__all__ = ["JITTER", "nominal_waits", "retry_delay"]

#: How far each wait is jittered, either way: 0.2 is up to 20 % shorter or longer.
JITTER: Final = 0.2


def _nominal(failed: int, settings: NotificationSettings) -> float:
    # 2 ** 60 would overflow nothing, but past the cap the exponent no longer matters.
    return min(settings.first_retry_s * 2.0 ** min(failed - 1, 60), settings.max_retry_s)


def retry_delay(failed: int, settings: NotificationSettings, rng: random.Random) -> float | None:
    """Seconds from now to the next attempt after ``failed`` failed attempts (``failed`` >= 1), or ``None``
    when the schedule is spent and the event is dead."""
    if failed >= settings.attempts:
        return None
    wait = _nominal(failed, settings) * rng.uniform(1 - JITTER, 1 + JITTER)
    return min(wait, settings.max_retry_s)


def nominal_waits(settings: NotificationSettings) -> list[float]:
    """The waits of the whole schedule before jitter: one fewer than ``settings.attempts``."""
    return [_nominal(failed, settings) for failed in range(1, settings.attempts)]
