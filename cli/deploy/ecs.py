"""AWS ECS on Fargate: task definitions, services and Application Auto Scaling, as the API's JSON.

Each file is the request body of one AWS CLI call (`--cli-input-json file://...`); `apply.sh` makes
the calls in order. Secrets are references to SSM parameters, never values.
"""

import json
import shlex
from dataclasses import dataclass
from typing import Any

from cli.deploy.procfile import DEPLOYED, SINGLETONS, shell_argv, stop_seconds
from cli.deploy.spec import PROCESS_CPU_MILLIS, PROCESS_MEMORY_MIB, READY_PATH, DeploySpec
from config.queues import REPORTS_QUEUE

Json = dict[str, Any]
# Fargate's task sizes in CPU units (1024 = one vCPU); 2 MiB per CPU unit is valid memory at every size.
_FARGATE_CPU = (256, 512, 1024, 2048, 4096, 8192, 16384)
_DIMENSION = "ecs:service:DesiredCount"
_HEALTH = {"interval": 15, "timeout": 5, "retries": 3, "startPeriod": 30}  # seconds; ECS's limits allow these
_STOP_MARGIN_S = 5  # ECS's SIGKILL comes this long after the process's own drain deadline
_FARGATE_MAX_STOP_S = 120
# The worker's backlog: Folio's Prometheus gauge folio_report_queue_depth, as the CloudWatch agent's
# Prometheus scraping publishes it (its metric_declaration renames it into this namespace and name).
QUEUE_METRIC = {"Namespace": "Folio", "MetricName": "ReportQueueDepth"}


@dataclass(frozen=True, kw_only=True)
class EcsOptions:
    """Where the services live; the defaults are AWS's documentation placeholders."""

    region: str = "us-east-1"
    cluster: str = "folio"
    secrets_prefix: str = ""  # e.g. arn:aws:ssm:us-east-1:123456789012:parameter/folio/
    execution_role_arn: str = "arn:aws:iam::123456789012:role/folio-ecs-task-execution"

    def secret_arn(self, variable: str) -> str:
        """The SSM parameter that holds a secret variable."""
        prefix = self.secrets_prefix or f"arn:aws:ssm:{self.region}:123456789012:parameter/folio/"
        return f"{prefix.rstrip('/')}/{variable}"


def fargate_size(cpu_millis: int, memory_mib: int) -> tuple[int, int]:
    """(cpu units, memory MiB): the smallest Fargate task with that CPU and memory, at 2 MiB per CPU unit."""
    wanted = max(cpu_millis * 1024 // 1000, -(-memory_mib // 2))
    cpu = next((size for size in _FARGATE_CPU if size >= wanted), _FARGATE_CPU[-1])
    return cpu, cpu * 2


def task_size(processes: int) -> tuple[int, int]:
    """(cpu units, memory MiB) of a Fargate task running `processes` OS processes."""
    return fargate_size(processes * PROCESS_CPU_MILLIS, processes * PROCESS_MEMORY_MIB)


def readiness_check(port: int) -> list[str]:
    """A container health check with the image's own Python (slim images have no curl)."""
    url = f"http://127.0.0.1:{port}{READY_PATH}"
    code = f"import urllib.request; urllib.request.urlopen({url!r}, timeout={_HEALTH['timeout'] - 1})"
    return ["CMD", "python", "-c", code]


def container(spec: DeploySpec, options: EcsOptions, process: str) -> Json:
    """One container definition: the Procfile's command, environment names and values, secret references."""
    command = spec.commands[process]
    definition: Json = {
        "name": process,
        "image": spec.image,
        "essential": True,
        "command": shell_argv(command),
        "environment": [{"name": k, "value": v} for k, v in sorted(spec.environment(process).items())],
        "secrets": [{"name": name, "valueFrom": options.secret_arn(name)} for name in spec.secret_variables()],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": f"/ecs/{spec.app}",
                "awslogs-region": options.region,
                "awslogs-stream-prefix": process,
            },
        },
    }
    if (stop := stop_seconds(process, command)) is not None:
        definition["stopTimeout"] = min(stop + _STOP_MARGIN_S, _FARGATE_MAX_STOP_S)
    if process == "web":
        port = spec.settings.port
        definition["portMappings"] = [{"containerPort": port, "protocol": "tcp", "name": "http"}]
        definition["healthCheck"] = {"command": readiness_check(port), **_HEALTH}
    return definition


def task_definition(spec: DeploySpec, options: EcsOptions, process: str) -> Json:
    """`aws ecs register-task-definition` input for one process type."""
    cpu, memory = fargate_size(*spec.size(process))
    return {
        "family": spec.name(process),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(cpu),
        "memory": str(memory),
        "executionRoleArn": options.execution_role_arn,
        "containerDefinitions": [container(spec, options, process)],
    }


def service(spec: DeploySpec, options: EcsOptions, process: str) -> Json:
    """`aws ecs create-service` input; networking and the load balancer come from apply.sh's variables.

    A singleton (the clock) is stopped before its replacement starts (at most 100 % of one task running,
    none required): a deployment leaves a short gap, never two at once.
    """
    healthy, most = (0, 100) if process in SINGLETONS else (100, 200)
    body: Json = {
        "cluster": options.cluster,
        "serviceName": spec.name(process),
        "taskDefinition": spec.name(process),
        "desiredCount": spec.bounds(process)[0],
        "launchType": "FARGATE",
        "deploymentConfiguration": {
            "minimumHealthyPercent": healthy,
            "maximumPercent": most,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    }
    if process == "web":
        body["healthCheckGracePeriodSeconds"] = _HEALTH["startPeriod"] * 2
    return body


def _resource_id(spec: DeploySpec, options: EcsOptions, process: str) -> str:
    return f"service/{options.cluster}/{spec.name(process)}"


def scalable_target(spec: DeploySpec, options: EcsOptions, process: str) -> Json:
    """`aws application-autoscaling register-scalable-target` input: the instance bounds."""
    low, high = spec.bounds(process)
    return {
        "ServiceNamespace": "ecs",
        "ResourceId": _resource_id(spec, options, process),
        "ScalableDimension": _DIMENSION,
        "MinCapacity": low,
        "MaxCapacity": high,
    }


def _policy(spec: DeploySpec, options: EcsOptions, process: str, name: str, tracking: Json) -> Json:
    return {
        "PolicyName": f"{spec.name(process)}-{name}",
        "ServiceNamespace": "ecs",
        "ResourceId": _resource_id(spec, options, process),
        "ScalableDimension": _DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            **tracking,
            "ScaleOutCooldown": spec.settings.scale_out_cooldown,
            "ScaleInCooldown": spec.settings.scale_in_cooldown,
            "DisableScaleIn": False,
        },
    }


def web_policies(spec: DeploySpec, options: EcsOptions) -> dict[str, Json]:
    """Target tracking on the service's average CPU and memory (AWS scales in only when both allow it)."""
    targets = {
        "cpu": ("ECSServiceAverageCPUUtilization", spec.settings.auto_scale_target_cpu),
        "memory": ("ECSServiceAverageMemoryUtilization", spec.settings.auto_scale_target_memory),
    }
    return {
        name: _policy(
            spec,
            options,
            "web",
            name,
            {"TargetValue": float(value), "PredefinedMetricSpecification": {"PredefinedMetricType": metric}},
        )
        for name, (metric, value) in targets.items()
    }


def worker_policy(spec: DeploySpec, options: EcsOptions) -> Json:
    """Target tracking on queued reports per running worker task, by CloudWatch metric math."""
    queued = {**QUEUE_METRIC, "Dimensions": [{"Name": "Queue", "Value": REPORTS_QUEUE}]}
    tasks = {
        "Namespace": "ECS/ContainerInsights",  # needs Container Insights on the cluster
        "MetricName": "RunningTaskCount",
        "Dimensions": [
            {"Name": "ClusterName", "Value": options.cluster},
            {"Name": "ServiceName", "Value": spec.name("worker")},
        ],
    }
    metrics = [
        {"Id": "queued", "MetricStat": {"Metric": queued, "Stat": "Average"}, "ReturnData": False},
        {"Id": "tasks", "MetricStat": {"Metric": tasks, "Stat": "Average"}, "ReturnData": False},
        {"Id": "backlog", "Expression": "queued / tasks", "Label": "queued reports per task", "ReturnData": True},
    ]
    tracking = {"TargetValue": spec.backlog_per_instance(), "CustomizedMetricSpecification": {"Metrics": metrics}}
    return _policy(spec, options, "worker", "backlog", tracking)


def render(spec: DeploySpec, options: EcsOptions) -> dict[str, str]:
    """Every ECS file by name: task definitions, services, scalable targets, policies, apply.sh.

    The clock's service has no scalable target: nothing may change its one task.
    """
    documents: dict[str, Json] = {}
    for process in DEPLOYED:
        documents[f"{process}-task-definition.json"] = task_definition(spec, options, process)
    for process in ("web", "worker", "clock"):
        documents[f"{process}-service.json"] = service(spec, options, process)
    for process in ("web", "worker"):
        documents[f"{process}-scalable-target.json"] = scalable_target(spec, options, process)
    for name, policy in web_policies(spec, options).items():
        documents[f"web-{name}-policy.json"] = policy
    documents["worker-backlog-policy.json"] = worker_policy(spec, options)
    files = {name: json.dumps(body, indent=2) + "\n" for name, body in documents.items()}
    files["apply.sh"] = apply_script(spec, options)
    return files


def apply_script(spec: DeploySpec, options: EcsOptions) -> str:
    """The AWS CLI calls in order: register, migrate (the release task), create services, scale."""
    cluster = shlex.quote(options.cluster)
    web, release, port = spec.name("web"), spec.name("release"), spec.settings.port
    network = "awsvpcConfiguration={subnets=[$SUBNETS],securityGroups=[$SECURITY_GROUPS]}"
    lines = [
        "#!/bin/sh",
        "# Generated by `python -m cli deploy --platform ecs` from settings; edit settings, not this file.",
        "# Needs: SUBNETS, SECURITY_GROUPS (comma-separated ids), TARGET_GROUP_ARN (web's load balancer target",
        f"# group), and the SSM parameters of {', '.join(spec.secret_variables())}.",
        f"# Every task runs the image {spec.image}, built from the repository's Containerfile and pushed where",
        f"# ECS pulls it: {spec.image_build()}",
        "set -eu",
        'cd "$(dirname "$0")"',
        *(f"aws ecs register-task-definition --cli-input-json file://{p}-task-definition.json" for p in spec.commands),
        "# The release phase (migrations) runs to completion before the services start.",
        f"task=$(aws ecs run-task --cluster {cluster} --launch-type FARGATE --task-definition {release} \\",
        f'  --network-configuration "{network}" --query "tasks[0].taskArn" --output text)',
        f'aws ecs wait tasks-stopped --cluster {cluster} --tasks "$task"',
        f'aws elbv2 modify-target-group --target-group-arn "$TARGET_GROUP_ARN" --health-check-path {READY_PATH} \\',
        f"  --health-check-interval-seconds {_HEALTH['interval']} --matcher HttpCode=200",
        f'aws ecs create-service --cli-input-json file://web-service.json --network-configuration "{network}" \\',
        f'  --load-balancers "targetGroupArn=$TARGET_GROUP_ARN,containerName=web,containerPort={port}"',
        f'aws ecs create-service --cli-input-json file://worker-service.json --network-configuration "{network}"',
        "# The clock: one task, never scaled; a new release stops the old task before starting the new one.",
        f'aws ecs create-service --cli-input-json file://clock-service.json --network-configuration "{network}"',
        "for target in web worker; do",
        "  aws application-autoscaling register-scalable-target --cli-input-json file://$target-scalable-target.json",
        "done",
        "for policy in web-cpu web-memory worker-backlog; do",
        "  aws application-autoscaling put-scaling-policy --cli-input-json file://$policy-policy.json",
        "done",
        f"echo 'ECS: {web} and {spec.name('worker')} on cluster {options.cluster} scale by target tracking;"
        f" {spec.name('clock')} runs one task'",
    ]
    return "\n".join(lines) + "\n"
