"""The worker role's composition: what a Dramatiq worker process opens to run and sweep reports.

Only this builder imports the report renderer (matplotlib and reportlab): the web never loads them.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from config.settings import Settings
from config.wiring.background import run_in_background
from config.wiring.fleet import join_fleet
from config.wiring.market_day import corporate_action_jobs, market_day_jobs
from config.wiring.reports import report_policy, report_queue
from config.wiring.resources import Resources, open_resources
from config.wiring.webhooks import webhook_delivery
from domain.adapters.pdf import ReportlabRenderer, warm_up
from domain.adapters.postgres.holdings import PostgresHoldingsRepository
from domain.adapters.postgres.quotes import PostgresQuoteRepository
from domain.adapters.postgres.report_control import PostgresReportControl
from domain.adapters.postgres.reports import PostgresReportRepository
from domain.adapters.smtp import SmtpMailer
from domain.models.quotes import QuoteSnapshot
from domain.ports.metrics import Metrics
from domain.services.corporate_actions import CorporateActionService
from domain.services.fleet import FleetService
from domain.services.market_data import QuoteBook
from domain.services.market_day import MarketDayJobs
from domain.services.reports.runner import ReportRunner, ReportTools
from domain.services.webhook_delivery import WebhookDelivery


@dataclass(frozen=True, slots=True)
class WorkerServices:
    """Ready use-case objects for the actors."""

    settings: Settings
    reports: ReportRunner
    market_day: MarketDayJobs
    corporate_actions: CorporateActionService
    fleet: FleetService
    metrics: Metrics
    webhooks: WebhookDelivery


@contextlib.asynccontextmanager
async def open_worker(settings: Settings) -> AsyncIterator[WorkerServices]:
    """Open every resource of a worker process, start the sweeper; close them all on the way out."""
    if not settings.smtp_url:
        raise RuntimeError("SMTP_URL must be set for the worker (make run starts an SMTP sink)")
    async with contextlib.AsyncExitStack() as stack:
        resources = await open_resources(settings, "worker", stack)
        runner = ReportRunner(
            PostgresReportRepository(resources.pool),
            report_queue(resources),
            _tools(resources),
            report_policy(settings),
            paused=PostgresReportControl(resources.pool).pause,
        )
        await asyncio.to_thread(warm_up)  # the first report should not pay for importing matplotlib
        run_in_background(stack, runner.sweep_forever(settings.report_sweep_interval_s), "report-sweeper")
        yield WorkerServices(
            settings=settings,
            reports=runner,
            market_day=market_day_jobs(resources),
            corporate_actions=corporate_action_jobs(resources, stack),
            fleet=join_fleet(resources, stack),
            metrics=resources.metrics,
            webhooks=webhook_delivery(resources, _mailer(settings), stack),
        )


def _tools(resources: Resources) -> ReportTools:
    """What an attempt reads (the record of holdings and prices, read fresh) and drives (PDF, mail)."""
    settings = resources.settings
    book = QuoteBook(PostgresQuoteRepository(resources.pool), settings.base_currency)

    async def current_snapshot() -> QuoteSnapshot:
        await book.refresh()
        return book.current()

    return ReportTools(
        holdings=PostgresHoldingsRepository(resources.pool),
        quotes=PostgresQuoteRepository(resources.pool),
        snapshot=current_snapshot,
        renderer=ReportlabRenderer(),
        mailer=_mailer(settings),
        metrics=resources.metrics,
        clock=resources.clock,
    )


def _mailer(settings: Settings) -> SmtpMailer:
    return SmtpMailer(settings.smtp_url, sender=settings.mail_from, timeout_s=settings.smtp_timeout_s)
