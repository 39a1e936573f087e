"""What every platform's files are built from: settings, the Procfile's commands, names and sizes."""

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from cli.deploy.procfile import SINGLETONS
from config.settings import Settings

READY_PATH = "/health/ready"  # 200 once PostgreSQL, Valkey and the broker answer (gateway/health.py)
LIVE_PATH = "/health/live"  # 200 while the process serves
# Never written as values: each platform gets a reference to its own secret store instead.
SECRET_VARIABLES = ("DATABASE_URL", "VALKEY_URL", "SMTP_URL", "JWT_SECRET", "API_KEY_SECRET")
# Sizing per OS process (a Granian worker, a Dramatiq process): one core and 2 GiB. The HPA's
# utilisation targets are fractions of these requests, as ECS's are of the task's reservation.
PROCESS_CPU_MILLIS = 1000
PROCESS_MEMORY_MIB = 2048
# The clock sends a few messages a day: a quarter of a core and 512 MiB (Fargate's smallest task).
CLOCK_CPU_MILLIS = 250
CLOCK_MEMORY_MIB = 512
# The image the ECS and Kubernetes files run: built from the repository's Containerfile, pushed by the operator.
DEFAULT_IMAGE = "folio:latest"
# Settings the running processes need to agree with the platform: their own /health scaling signal
# and the fleet view use the same targets, bounds and cooldowns as the platform's autoscaler.
_SCALING_FIELDS = (
    "auto_scale_target_cpu",
    "auto_scale_low_cpu",
    "auto_scale_target_memory",
    "min_instances",
    "max_instances",
    "scale_out_cooldown",
    "scale_in_cooldown",
    "scale_window_s",
    "worker_min_instances",
    "worker_max_instances",
    "worker_target_backlog",
    "worker_target_queue_age_s",
)
_PROCESS_FIELDS: Mapping[str, tuple[str, ...]] = {
    "web": ("port", "web_concurrency"),
    "worker": ("worker_processes", "worker_threads"),
    "release": (),
    "clock": ("market_close_utc", "market_catch_up_days"),
}


@dataclass(frozen=True, kw_only=True)
class DeploySpec:
    """The inputs of a deployment target; names are placeholders an operator may override."""

    settings: Settings
    commands: Mapping[str, str]  # release, web, worker, clock: the Procfile's lines
    app: str = "folio"
    image: str = DEFAULT_IMAGE

    def name(self, process: str) -> str:
        """The platform name of a process type: `folio-web`."""
        return f"{self.app}-{process}"

    def image_build(self) -> str:
        """The commands that build the image from the Containerfile and push it where the platform pulls it."""
        image = shlex.quote(self.image)
        return f"podman build -f Containerfile -t {image} . && podman push {image}"

    def processes(self, process: str) -> int:
        """OS processes inside one instance of a process type (Granian workers, Dramatiq processes)."""
        if process == "web":
            return self.settings.web_concurrency
        if process == "worker":
            return self.settings.worker_processes
        return 1

    def size(self, process: str) -> tuple[int, int]:
        """(CPU millicores, memory MiB) one instance of a process type reserves."""
        if process == "clock":
            return CLOCK_CPU_MILLIS, CLOCK_MEMORY_MIB
        count = self.processes(process)
        return count * PROCESS_CPU_MILLIS, count * PROCESS_MEMORY_MIB

    def bounds(self, process: str) -> tuple[int, int]:
        """(min, max) instances of a process type: (1, 1) for a singleton such as the clock."""
        s = self.settings
        if process in SINGLETONS:
            return 1, 1
        if process == "web":
            return s.min_instances, s.max_instances
        if process == "worker":
            return s.worker_min_instances, s.worker_max_instances
        raise ValueError(f"the {process} process type runs to completion; it has no instance count")

    def backlog_per_instance(self) -> float:
        """Queued reports per worker instance: WORKER_TARGET_BACKLOG is per Dramatiq process."""
        return self.settings.worker_target_backlog * self.settings.worker_processes

    def secret_variables(self) -> tuple[str, ...]:
        """The secret variables every process reads: BROKER_URL too when the broker is RabbitMQ,
        VALKEY_CLUSTER_URLS instead of VALKEY_URL on a Valkey Cluster (its nodes' URLs may carry a password), and
        DATABASE_DIRECT_URL behind a transaction pooler."""
        names: tuple[str, ...] = (*SECRET_VARIABLES, "BROKER_URL") if self.settings.broker_is_amqp else SECRET_VARIABLES
        if self.settings.valkey_cluster_nodes:
            names = tuple("VALKEY_CLUSTER_URLS" if name == "VALKEY_URL" else name for name in names)
        if self.settings.database_pooler:  # DATABASE_URL is the pooler; the release and the demo load need a session
            names = (*names, "DATABASE_DIRECT_URL")
        return names

    def environment(self, process: str) -> dict[str, str]:
        """The non-secret variables of a process type, with the values of these settings."""
        env = {"ENVIRONMENT": "production"}
        if self.settings.database_pooler:
            env["DATABASE_POOLER"] = self.settings.database_pooler
        for field in (*_PROCESS_FIELDS[process], *_SCALING_FIELDS):
            env[field.upper()] = env_value(getattr(self.settings, field))
        return env


def env_value(value: object) -> str:
    """A setting as its environment variable spells it (`true`, `70`, `0.5`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
