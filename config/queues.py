"""Names shared by the sender (the report queue adapter) and the actor (`tasks.actors`).

The web process enqueues by name, so it never imports the actor module and its decorators.
"""

from domain.models.market_day import CLOSE_JOB, CORPORATE_ACTION_JOB, RETENTION_JOB

REPORTS_QUEUE = "reports"
GENERATE_REPORT_ACTOR = "generate_report"

# The market day's jobs: sent by the `clock` process, run by the worker's actors (`tasks.actors`).
# A job added to `domain.models.market_day.DAILY_JOBS` needs its actor's name here.
MARKET_QUEUE = "market"
DAILY_JOB_ACTORS: dict[str, str] = {
    CLOSE_JOB: "close_market_day",
    RETENTION_JOB: "retain_reports",
    CORPORATE_ACTION_JOB: "run_corporate_actions",
}

# Webhook deliveries: the relay (in each worker) sends a delivery's id, the delivery actor attempts it.
WEBHOOKS_QUEUE = "webhooks"
DELIVER_WEBHOOK_ACTOR = "deliver_webhook"

# Every queue and the actors that consume it (the console's queue panel, one line per actor).
QUEUE_ACTORS: dict[str, tuple[str, ...]] = {
    REPORTS_QUEUE: (GENERATE_REPORT_ACTOR,),
    MARKET_QUEUE: tuple(DAILY_JOB_ACTORS.values()),
    WEBHOOKS_QUEUE: (DELIVER_WEBHOOK_ACTOR,),
}
