"""`python -m cli cost`: run the capacity and cost model from settings, bench figures and a profile."""

import argparse
import sys
from pathlib import Path

from cli.cost import model
from cli.cost.chart import ChartData, draw
from cli.cost.measured import DEFAULT_SCENARIO, measured
from cli.cost.profile import SEED_DAILY_REQUESTS, parse_csv, seed_profile
from cli.cost.report import CostRun, render
from config.scaling import web_scaling_policy  # the policy the web processes run
from config.settings import Settings

SEED_FIXED_FLEET = 12  # the fixed fleet compared against by default: 12 always-on instances
DEFAULT_BOOT_S = 120.0  # launch, image pull and readiness of a new instance
DEFAULT_MEMORY_PCT = 30.0
TRADING_DAY = "trading-day"  # the built-in profile's name on the command line


def add_arguments(command: argparse.ArgumentParser) -> None:
    """The cost command's options."""
    command.add_argument(
        "--profile",
        default=TRADING_DAY,
        help=f"`{TRADING_DAY}` (a trading day's curve, the default) or a CSV of requests per minute",
    )
    command.add_argument(
        "--daily-requests",
        type=float,
        default=SEED_DAILY_REQUESTS,
        help=f"total of the `{TRADING_DAY}` profile (default: %(default)d)",
    )
    command.add_argument("--throughput", type=float, default=None, help="req/s one instance serves at 100%% CPU")
    command.add_argument("--bench", default="bench/results/latest.json", help="bench results (default: %(default)s)")
    command.add_argument("--scenario", default=DEFAULT_SCENARIO, help="bench scenario (default: %(default)s)")
    command.add_argument("--bytes-per-response", type=float, default=None, help="default: the bench's mix")
    command.add_argument(
        "--fixed-instances",
        type=int,
        default=SEED_FIXED_FLEET,
        help="the fixed fleet compared with (default: %(default)s)",
    )
    command.add_argument("--boot-s", type=float, default=DEFAULT_BOOT_S, help="default: %(default)s")
    command.add_argument("--memory-pct", type=float, default=DEFAULT_MEMORY_PCT, help="default: %(default)s")
    command.add_argument("--hourly", action="store_true", help="also print the replay hour by hour")
    command.add_argument("--chart", default=None, help="write a PNG of load, instances and cost here")


def prices(settings: Settings) -> model.Prices:
    """The prices in settings."""
    return model.Prices(
        instance_type=settings.instance_type,
        instance_per_hour=settings.instance_price_per_hour,
        cache_per_month=settings.cache_price_per_month,
        database_per_month=settings.database_price_per_month,
        bandwidth_per_gb=settings.bandwidth_price_per_gb,
    )


def _profile(args: argparse.Namespace) -> tuple[list[float], str]:
    if args.profile == TRADING_DAY:
        return seed_profile(args.daily_requests), "a trading day"
    path = Path(args.profile)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    try:
        return parse_csv(text), str(path)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _throughput(settings: Settings, args: argparse.Namespace) -> tuple[float, float, str]:
    """(req/s per instance, bytes per response, where they came from)."""
    if args.throughput is not None and args.bytes_per_response is not None:
        return args.throughput, args.bytes_per_response, f"{args.throughput:,.0f} req/s per instance (given)"
    figures = measured(Path(args.bench), args.scenario)
    size = args.bytes_per_response if args.bytes_per_response is not None else figures.bytes_per_response
    if args.throughput is not None:
        return args.throughput, size, f"{args.throughput:,.0f} req/s per instance (given)"
    per_instance = figures.rps_per_process * settings.web_concurrency
    note = (
        f"{figures.rps_per_process:,.0f} req/s per web process (make bench `{figures.scenario}`, {figures.source})"
        f" x WEB_CONCURRENCY {settings.web_concurrency} = {per_instance:,.0f} req/s per {settings.instance_type}"
        " at 100 % CPU"
    )
    return per_instance, size, note


def run(settings: Settings, args: argparse.Namespace) -> CostRun:
    """Replay the profile through the web policy and price both fleets."""
    if args.throughput is not None and args.throughput <= 0:
        raise ValueError("--throughput must be positive")
    profile, name = _profile(args)
    capacity, size, note = _throughput(settings, args)
    policy = web_scaling_policy(settings)
    replayed = model.replay(policy, profile, capacity, memory_pct=args.memory_pct, boot_s=args.boot_s)
    price = prices(settings)
    gb = model.bandwidth_gb(profile, size)
    workers = settings.worker_min_instances
    return CostRun(
        profile=profile,
        profile_name=name,
        throughput_note=note,
        policy=policy,
        boot_s=args.boot_s,
        memory_pct=args.memory_pct,
        replay=replayed,
        autoscaled=model.autoscaled_bill(replayed, worker_instances=workers, bandwidth=gb, prices=price),
        fixed=model.fixed_bill(args.fixed_instances, worker_instances=workers, bandwidth=gb, prices=price),
        bandwidth_gb=gb,
        bytes_per_response=size,
        bandwidth_price=price.bandwidth_per_gb,
        instance_price=price.instance_per_hour,
        budget=settings.monthly_budget_usd,
    )


def chart(settings: Settings, result: CostRun, fixed_instances: int, path: Path) -> Path:
    """Draw the run, with the instance cost of both fleets over the profile."""
    workers = settings.worker_min_instances
    fixed_web = fixed_instances - workers

    def spent(web: list[int]) -> list[float]:
        return model.cumulative_instance_cost(
            web, worker_instances=workers, price_per_hour=settings.instance_price_per_hour
        )

    data = ChartData(
        replay=result.replay,
        target_cpu_pct=result.policy.targets["cpu"],
        fixed_web_instances=fixed_web,
        fixed_label=f"fixed fleet: {fixed_web} web + {workers} worker",
        autoscaled_cost=spent([m.launched for m in result.replay.minutes]),
        fixed_cost=spent([fixed_web] * len(result.profile)),
        title=f"Folio: {result.profile_name}, autoscaled vs a fixed {fixed_instances} x {settings.instance_type}",
    )
    return draw(data, path)


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run the model, print the report, draw the chart if asked."""
    try:
        result = run(settings, args)
    except ValueError as e:  # a bad profile, bench file or argument
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(render(result, hourly=args.hourly))
    if args.chart:
        print(f"chart: {chart(settings, result, args.fixed_instances, Path(args.chart))}")
    return 0
