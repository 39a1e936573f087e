"""Dramatiq actors: thin shells that call one domain use case each.

Imported by the worker only (`dramatiq tasks.broker:setup tasks.actors`), after `setup()` has set
the broker; the web process sends by name through `ValkeyReportQueue` and never imports this.
Retries, backoff and the time limit come from settings (`tasks.broker.tune_for_reports`).
"""

from datetime import date

import dramatiq

from config.queues import (
    DAILY_JOB_ACTORS,
    DELIVER_WEBHOOK_ACTOR,
    GENERATE_REPORT_ACTOR,
    MARKET_QUEUE,
    REPORTS_QUEUE,
    WEBHOOKS_QUEUE,
)
from domain.errors import InvalidRequestError, NotFoundError
from domain.models.market_day import CLOSE_JOB, CORPORATE_ACTION_JOB, RETENTION_JOB
from tasks.broker import services

# A day's job that keeps failing (the database down for long) is sent again by the next close or start.
MARKET_JOB_RETRIES = 5


@dramatiq.actor(
    actor_name=GENERATE_REPORT_ACTOR,
    queue_name=REPORTS_QUEUE,
    # Not worth retrying: the service has already marked the report failed with the reason.
    throws=(NotFoundError, InvalidRequestError),
)
async def generate_report(report_id: str) -> None:
    await services().reports.run(report_id)


# The market day's jobs: `day` is an ISO date; a repeat for a day already done does nothing (the store's
# (job, day) run), so Dramatiq's retries and the clock's catch-up are both safe.
@dramatiq.actor(actor_name=DAILY_JOB_ACTORS[CLOSE_JOB], queue_name=MARKET_QUEUE, max_retries=MARKET_JOB_RETRIES)
async def close_market_day(day: str) -> None:
    await services().market_day.close(date.fromisoformat(day))


@dramatiq.actor(actor_name=DAILY_JOB_ACTORS[RETENTION_JOB], queue_name=MARKET_QUEUE, max_retries=MARKET_JOB_RETRIES)
async def retain_reports(day: str) -> None:
    await services().market_day.retain_reports(date.fromisoformat(day))


@dramatiq.actor(
    actor_name=DAILY_JOB_ACTORS[CORPORATE_ACTION_JOB], queue_name=MARKET_QUEUE, max_retries=MARKET_JOB_RETRIES
)
async def run_corporate_actions(day: str) -> None:
    await services().corporate_actions.run(date.fromisoformat(day))


# No Dramatiq retries: the delivery's row schedules the next attempt (WEBHOOK_RETRY_SCHEDULE_S), and the relay
# sends the id again when it is due, or when a killed worker's lease has run out.
@dramatiq.actor(actor_name=DELIVER_WEBHOOK_ACTOR, queue_name=WEBHOOKS_QUEUE, max_retries=0)
async def deliver_webhook(delivery_id: str) -> None:
    await services().webhooks.deliver(delivery_id)
