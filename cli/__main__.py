"""`python -m cli <command>`: dev (make run), migrate, demo-data, daily-values, simulate, clock, token, audit,
deploy, cost.

Subcommands import their modules lazily, so `migrate` works where the dev-only packages
(embedded servers) are not installed.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from config.settings import Settings, SettingsError, load_settings


def _database_url(settings: Settings) -> str:
    """Where a command that needs a session of its own connects: DATABASE_DIRECT_URL, else DATABASE_URL."""
    if not settings.database_url:
        raise SettingsError("DATABASE_URL is not set (make run sets it to an embedded PostgreSQL)")
    return settings.database_session_url


def _dev(settings: Settings, args: argparse.Namespace) -> int:
    from cli.devrun import main

    return main(settings, Path(args.procfile))


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from config.wiring.release import migrate, pooler_defaults

    applied = migrate(settings)
    print(f"migrate: {applied} migration(s) applied" if applied else "migrate: schema is up to date")
    if (defaults := pooler_defaults(settings)) is not None:
        print(f"migrate: {defaults}")
    return 0


def _demo_data(settings: Settings, args: argparse.Namespace) -> int:
    from cli.demo_data import load_demo_data

    result = load_demo_data(_database_url(settings), base_currency=settings.base_currency)
    if result.loaded:
        print(
            f"demo data: loaded {result.users} users, {result.instruments} instruments, {result.holdings} holdings,"
            f" {result.daily_prices} daily prices in {result.elapsed_s:.1f}s"
        )
    else:
        print(f"demo data: skipped ({result.reason})")
    return 0


def _daily_values(settings: Settings, args: argparse.Namespace) -> int:
    from config.wiring.daily_values import fill_daily_values
    from domain.errors import UnavailableError

    try:
        users = fill_daily_values(settings)
    except UnavailableError as e:
        print(f"daily values: {e.detail}", file=sys.stderr)
        return 2
    print(f"daily values: stored for {users} users" if users else "daily values: every user's are up to date")
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from cli.simulator import main

    return main(
        settings,
        interval_s=args.interval,
        fraction=args.fraction,
        seed=args.seed,
        allow_production=args.allow_production,
    )


def _clock(settings: Settings, args: argparse.Namespace) -> int:
    from cli.clock import main

    return main(settings)


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.auth import Role, mint_token

    subject = args.subject if args.operator else str(args.user)
    if args.ttl is not None and args.ttl <= 0:
        raise SettingsError("--ttl must be a positive number of seconds")
    if args.read_only and not args.operator:
        raise SettingsError("--read-only is for an operator token (--operator)")
    try:
        if args.operator:
            role: Role = "read" if args.read_only else "admin"
            print(mint_token(settings, subject=subject, scope="operator", ttl_s=args.ttl, role=role))
        else:
            print(mint_token(settings, subject=subject, scope="user", ttl_s=args.ttl))
    except ValueError as e:  # a claim that no valid token may carry, e.g. --user 0
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from config.wiring.audit import verify_audit_chain
    from domain.errors import UnavailableError

    try:
        check = verify_audit_chain(settings)
    except UnavailableError as e:
        print(f"audit verify: {e.detail}", file=sys.stderr)
        return 2
    if check.intact:
        print(f"audit verify: {check.checked} entries, the chain is intact")
        return 0
    intact = f"{check.checked} entries before it are intact"
    print(f"audit verify: broken at entry {check.broken_at} ({intact}): {check.reason}", file=sys.stderr)
    return 1


def _deploy(settings: Settings, args: argparse.Namespace) -> int:
    from cli.deploy.command import main

    return main(settings, args)


def _cost(settings: Settings, args: argparse.Namespace) -> int:
    from cli.cost.command import main

    return main(settings, args)


_COMMANDS: dict[str, tuple[str, Callable[[Settings, argparse.Namespace], int]]] = {
    "dev": ("run embedded servers (for unset URLs), release, demo data, then the Procfile's processes", _dev),
    "migrate": ("apply the outstanding database migrations (DATABASE_DIRECT_URL, else DATABASE_URL)", _migrate),
    "demo-data": ("load the demo data (DATABASE_DIRECT_URL, else DATABASE_URL; a no-op when it is there)", _demo_data),
    "daily-values": ("store every user's missing daily values up to today (after loading data)", _daily_values),
    "simulate": ("development only: move random prices every second and publish them as new versions", _simulate),
    "clock": ("send the market day's jobs at MARKET_CLOSE_UTC, and those of the days it missed", _clock),
    "token": ("print a signed bearer token for a user (--user ID) or an operator (--operator)", _token),
    "audit": ("audit verify: walk the audit log's hash chain and report the first broken link", _audit),
    "deploy": (
        "write a platform's deployment and autoscaling files (ECS, Kubernetes, Procfile) from settings",
        _deploy,
    ),
    "cost": ("replay a day of traffic through the autoscaling policy and print the monthly bill", _cost),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cli", description="Folio command line")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in _COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == "dev":
            command.add_argument("--procfile", default="Procfile", help="Procfile to run (default: %(default)s)")
        if name == "simulate":
            _simulate_arguments(command)
        if name == "token":
            _token_arguments(command)
        if name == "audit":
            command.add_argument("action", choices=["verify"], help="verify: check every link of the chain")
        if name == "deploy":
            from cli.deploy.command import add_arguments as deploy_arguments

            deploy_arguments(command)
        if name == "cost":
            from cli.cost.command import add_arguments as cost_arguments

            cost_arguments(command)
    return parser


def _simulate_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--interval", type=float, default=1.0, help="seconds between batches (default: %(default)s)")
    command.add_argument(
        "--fraction", type=float, default=0.1, help="share of instruments moved per batch (default: %(default)s)"
    )
    command.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable feed")
    command.add_argument("--allow-production", action="store_true", help="run even when ENVIRONMENT=production")


def _token_arguments(command: argparse.ArgumentParser) -> None:
    who = command.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=int, metavar="ID", help="the user id the token acts for")
    who.add_argument("--operator", action="store_true", help="an operator token (all users, operator routes)")
    command.add_argument("--subject", default="operator", help="operator name in the token (default: %(default)s)")
    command.add_argument("--ttl", type=int, default=None, help="lifetime in seconds (default: TOKEN_TTL_S)")
    command.add_argument(
        "--read-only", action="store_true", help="with --operator: role 'read', sees everything and changes nothing"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        return _COMMANDS[args.command][1](settings, args)
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
