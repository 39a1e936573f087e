"""`python -m cli deploy --platform P`: render a platform's files from settings and write them."""

import argparse
import os
import sys
from pathlib import Path

from cli.deploy import ecs, formation, kubernetes
from cli.deploy.procfile import read_procfile
from cli.deploy.spec import DEFAULT_IMAGE, DeploySpec
from config.settings import Settings

PLATFORMS = ("ecs", "kubernetes", "procfile")


def add_arguments(command: argparse.ArgumentParser) -> None:
    """The deploy command's options."""
    command.add_argument("--platform", choices=PLATFORMS, required=True, help="deployment target")
    command.add_argument("--out", default=None, help="output folder (default: .data/deploy/PLATFORM)")
    command.add_argument("--procfile", default="Procfile", help="where the commands come from (default: %(default)s)")
    command.add_argument("--app", default="folio", help="name prefix of services and objects (default: %(default)s)")
    command.add_argument(
        "--image",
        default=DEFAULT_IMAGE,
        help="ecs, kubernetes: the image built from the Containerfile, as the platform pulls it (default: %(default)s)",
    )
    aws = command.add_argument_group("ecs")
    aws.add_argument("--aws-region", default=ecs.EcsOptions.region, help="default: %(default)s")
    aws.add_argument("--cluster", default=ecs.EcsOptions.cluster, help="ECS cluster (default: %(default)s)")
    aws.add_argument(
        "--secrets-prefix",
        default="",
        help="SSM parameter ARN prefix of the secrets (default: arn:aws:ssm:REGION:123456789012:parameter/folio/)",
    )
    aws.add_argument("--execution-role-arn", default=ecs.EcsOptions.execution_role_arn, help="default: %(default)s")


def spec_of(settings: Settings, args: argparse.Namespace) -> DeploySpec:
    """The deployment's inputs: settings, the Procfile's commands, the names and the image."""
    return DeploySpec(settings=settings, commands=read_procfile(Path(args.procfile)), app=args.app, image=args.image)


def render(spec: DeploySpec, args: argparse.Namespace) -> dict[str, str]:
    """The files of the chosen platform, by name."""
    if args.platform == "ecs":
        options = ecs.EcsOptions(
            region=args.aws_region,
            cluster=args.cluster,
            secrets_prefix=args.secrets_prefix,
            execution_role_arn=args.execution_role_arn,
        )
        return ecs.render(spec, options)
    if args.platform == "kubernetes":
        return kubernetes.render(spec)
    return formation.render(spec)


def write(files: dict[str, str], out: Path) -> list[Path]:
    """Write the files (shell scripts executable) and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            os.chmod(path, 0o755)  # noqa: S103 - a script meant to be run
        written.append(path)
    return written


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Render, write, and list what was written."""
    try:
        spec = spec_of(settings, args)
        files = render(spec, args)
    except ValueError as e:  # a bad Procfile, or a setting the platform cannot express
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(settings.data_dir) / "deploy" / args.platform
    for path in write(files, out):
        print(f"deploy: wrote {path}")
    if args.platform != "procfile":  # a Procfile platform builds from the repository itself
        print(f"deploy: the files run the image {spec.image}; build and push it first: {spec.image_build()}")
    return 0
