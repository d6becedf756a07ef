"""Documents recorded but never queued (the process died in between) are queued again.

Admission writes the records, stores the file, then publishes the ingest job
and marks the document ``published``. A sweep finds ``queued`` documents that
are old enough and unmarked, and publishes their job (same message id, so
replicas sweeping at once publish it once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from .admit import Admission
from .records import Records

log = logging.getLogger(__name__)


class Recovery:
    def __init__(
        self, records: Records, admission: Admission, *, after_s: float, every_s: float
    ) -> None:
        self.records = records
        self.admission = admission
        self.after = timedelta(seconds=after_s)
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ingest-recovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("recovery sweep failed")
            await asyncio.sleep(self.every_s)

    async def sweep(self) -> int:
        """Queue every stranded document once; answer how many."""
        cutoff = datetime.now(UTC) - self.after
        count = 0
        async for tenant_id, raw in self.records.unpublished():
            created = datetime.fromisoformat(raw["created_at"].replace("Z", "+00:00"))
            if created > cutoff:
                continue
            await self.admission.publish(tenant_id, raw)
            count += 1
        if count:
            log.warning("queued %d documents whose jobs were never published", count)
        return count
