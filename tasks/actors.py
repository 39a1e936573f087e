"""Dramatiq actors: thin shells that call one domain use case each.

Imported by the worker only (`dramatiq tasks.broker:setup tasks.actors`), after `setup()` has set
the broker; the web process sends by name through `ValkeyReportQueue` and never imports this.
Retries, backoff and the time limit come from settings (`tasks.broker.tune_for_reports`).
"""

import dramatiq

from config.queues import GENERATE_REPORT_ACTOR, REPORTS_QUEUE
from domain.errors import InvalidRequestError, NotFoundError
from tasks.broker import services


@dramatiq.actor(
    actor_name=GENERATE_REPORT_ACTOR,
    queue_name=REPORTS_QUEUE,
    # Not worth retrying: the service has already marked the report failed with the reason.
    throws=(NotFoundError, InvalidRequestError),
)
async def generate_report(report_id: str) -> None:
    await services().reports.run(report_id)
