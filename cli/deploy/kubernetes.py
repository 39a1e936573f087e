"""Kubernetes: Deployments, a Service, an autoscaling/v2 HPA for web, a KEDA ScaledObject for the worker,
and the clock as one replica that is never scaled and is stopped before its replacement starts.

Cooldowns map to HPA stabilisation windows: the HPA changes the replica count only to the safest
recommendation of the last window (scale-up: the lowest, scale-down: the highest), so a change must
hold for the window before it is acted on. Scale-in therefore waits SCALE_IN_COOLDOWN after the last
busy moment, and scale-out SCALE_OUT_COOLDOWN of sustained load: one spike never scales.
"""

from typing import Any
from urllib.parse import urlsplit

from cli.deploy.procfile import SINGLETONS, shell_argv, stop_seconds
from cli.deploy.spec import LIVE_PATH, READY_PATH, DeploySpec
from config.queues import REPORTS_QUEUE

Json = dict[str, Any]
SECRET_NAME = "folio-secrets"  # noqa: S105 - the Secret object's name. It holds SECRET_VARIABLES, plus VALKEY_ADDRESS/VALKEY_PASSWORD for KEDA (or BROKER_URL)
# RedisBroker's default namespace: a queue's ready message ids are the list `dramatiq:<queue>`
# (RPUSH on enqueue, LPOP on fetch; the bodies are in the hash `dramatiq:<queue>.msgs`).
DRAMATIQ_NAMESPACE = "dramatiq"
MAX_WINDOW_S = 3600  # the HPA's limit on stabilizationWindowSeconds
_STOP_MARGIN_S = 5
_KEDA_POLLING_S = 30  # KEDA's default; between 1 and N replicas the HPA's own 15-s sync applies


def _labels(spec: DeploySpec, process: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.app, "app.kubernetes.io/component": process}


def _env(spec: DeploySpec, process: str) -> list[Json]:
    plain: list[Json] = [{"name": k, "value": v} for k, v in sorted(spec.environment(process).items())]
    secret: list[Json] = [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": name}}}
        for name in spec.secret_variables()
    ]
    return plain + secret


def resources(spec: DeploySpec, process: str) -> Json:
    """Requests per pod (the HPA's utilisation is measured against them); memory is also the limit."""
    cpu, memory_mib = spec.size(process)
    memory = f"{memory_mib}Mi"
    return {"requests": {"cpu": f"{cpu}m", "memory": memory}, "limits": {"memory": memory}}


def _container(spec: DeploySpec, process: str) -> Json:
    body: Json = {
        "name": process,
        "image": spec.image,
        "command": shell_argv(spec.commands[process]),
        "env": _env(spec, process),
        "resources": resources(spec, process),
    }
    if process == "web":
        body["ports"] = [{"name": "http", "containerPort": spec.settings.port}]
        body["readinessProbe"] = {"httpGet": {"path": READY_PATH, "port": "http"}, "periodSeconds": 5}
        body["livenessProbe"] = {"httpGet": {"path": LIVE_PATH, "port": "http"}, "periodSeconds": 10}
    return body


def _pod(spec: DeploySpec, process: str) -> Json:
    pod: Json = {"containers": [_container(spec, process)]}
    if (stop := stop_seconds(process, spec.commands[process])) is not None:
        pod["terminationGracePeriodSeconds"] = stop + _STOP_MARGIN_S
    return pod


def deployment(spec: DeploySpec, process: str) -> Json:
    """A Deployment without `replicas`: the autoscaler owns the count (an apply would reset it).

    A singleton (the clock) has `replicas: 1` and no autoscaler, and the Recreate strategy: a rollout
    stops the old pod before it starts the new one, where RollingUpdate would run both for a while.
    """
    body: Json = {
        "selector": {"matchLabels": _labels(spec, process)},
        "template": {"metadata": {"labels": _labels(spec, process)}, "spec": _pod(spec, process)},
    }
    if process in SINGLETONS:
        body = {"replicas": spec.bounds(process)[0], "strategy": {"type": "Recreate"}, **body}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.name(process), "labels": _labels(spec, process)},
        "spec": body,
    }


def web_service(spec: DeploySpec) -> Json:
    """A ClusterIP Service on port 80 in front of the web pods that are ready."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name("web"), "labels": _labels(spec, "web")},
        "spec": {
            "selector": _labels(spec, "web"),
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def behavior(spec: DeploySpec) -> Json:
    """The cooldowns as stabilisation windows; the policies are Kubernetes' own defaults, written out."""
    up, down = spec.settings.scale_out_cooldown, spec.settings.scale_in_cooldown
    for variable, value in (("SCALE_OUT_COOLDOWN", up), ("SCALE_IN_COOLDOWN", down)):
        if value > MAX_WINDOW_S:
            raise ValueError(f"{variable}={value} exceeds the HPA's {MAX_WINDOW_S}-second stabilisation window")
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": up,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": 15},
                {"type": "Pods", "value": 4, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": down,
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
    }


def _utilisation(resource: str, percent: float) -> Json:
    target = {"type": "Utilization", "averageUtilization": round(percent)}
    return {"type": "Resource", "resource": {"name": resource, "target": target}}


def web_autoscaler(spec: DeploySpec) -> Json:
    """autoscaling/v2 HPA on CPU and memory utilisation; the HPA takes the largest desired count."""
    low, high = spec.bounds("web")
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": spec.name("web"), "labels": _labels(spec, "web")},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name("web")},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                _utilisation("cpu", spec.settings.auto_scale_target_cpu),
                _utilisation("memory", spec.settings.auto_scale_target_memory),
            ],
            "behavior": behavior(spec),
        },
    }


def valkey_trigger_auth(spec: DeploySpec) -> Json:
    """KEDA reads Valkey's host:port and password from the Secret (it does not parse URLs)."""
    refs = [("address", "VALKEY_ADDRESS"), ("password", "VALKEY_PASSWORD")]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": f"{spec.app}-valkey"},
        "spec": {"secretTargetRef": [{"parameter": p, "name": SECRET_NAME, "key": k} for p, k in refs]},
    }


def rabbitmq_trigger_auth(spec: DeploySpec) -> Json:
    """KEDA's rabbitmq scaler reads the broker's URL (credentials and vhost included) from the Secret."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": f"{spec.app}-rabbitmq"},
        "spec": {"secretTargetRef": [{"parameter": "host", "name": SECRET_NAME, "key": "BROKER_URL"}]},
    }


def trigger_auth(spec: DeploySpec) -> Json:
    return rabbitmq_trigger_auth(spec) if spec.settings.broker_is_amqp else valkey_trigger_auth(spec)


def queue_trigger(spec: DeploySpec) -> Json:
    """KEDA's scaler on the report queue's depth per worker replica: the broker's own (rabbitmq or redis)."""
    if spec.settings.broker_is_amqp:
        return rabbitmq_trigger(spec)
    url = urlsplit(spec.settings.valkey_url)
    database = url.path.strip("/") or "0"
    per_replica = max(1, round(spec.backlog_per_instance()))
    return {
        "type": "redis",
        "metadata": {
            "listName": f"{DRAMATIQ_NAMESPACE}:{REPORTS_QUEUE}",
            "listLength": str(per_replica),
            "databaseIndex": database,
            "enableTLS": "true" if url.scheme in ("rediss", "valkeys") else "false",
        },
        "authenticationRef": {"name": f"{spec.app}-valkey"},
    }


def rabbitmq_trigger(spec: DeploySpec) -> Json:
    """The messages ready on the report queue (AMQP passive declare), as Folio's own backlog counts them."""
    return {
        "type": "rabbitmq",
        "metadata": {
            "protocol": "amqp",
            "mode": "QueueLength",
            "value": str(max(1, round(spec.backlog_per_instance()))),
            "queueName": REPORTS_QUEUE,
        },
        "authenticationRef": {"name": f"{spec.app}-rabbitmq"},
    }


def worker_scaler(spec: DeploySpec) -> Json:
    """KEDA ScaledObject: worker bounds, cooldownPeriod = SCALE_IN_COOLDOWN, the same HPA behaviour."""
    low, high = spec.bounds("worker")
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": spec.name("worker"), "labels": _labels(spec, "worker")},
        "spec": {
            "scaleTargetRef": {"name": spec.name("worker")},
            "pollingInterval": _KEDA_POLLING_S,
            "cooldownPeriod": spec.settings.scale_in_cooldown,
            "minReplicaCount": low,
            "maxReplicaCount": high,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior(spec)}},
            "triggers": [queue_trigger(spec)],
        },
    }


def release_job(spec: DeploySpec) -> Json:
    """The release phase (migrations) as a Job; apply.sh replaces it on every deploy."""
    pod = {**_pod(spec, "release"), "restartPolicy": "Never"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": spec.name("release"), "labels": _labels(spec, "release")},
        "spec": {"backoffLimit": 2, "template": {"metadata": {"labels": _labels(spec, "release")}, "spec": pod}},
    }


def _yaml(spec: DeploySpec, documents: list[Json]) -> str:
    import yaml  # only this command needs it

    header = (
        "# Generated by `python -m cli deploy --platform kubernetes` from settings; edit settings, not this file.\n"
        f"# The image {spec.image} is built from the repository's Containerfile.\n"
    )
    return header + str(yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False))


def render(spec: DeploySpec) -> dict[str, str]:
    """Every Kubernetes file by name."""
    return {
        "release.yaml": _yaml(spec, [release_job(spec)]),
        "web.yaml": _yaml(spec, [deployment(spec, "web"), web_service(spec), web_autoscaler(spec)]),
        "worker.yaml": _yaml(spec, [deployment(spec, "worker"), trigger_auth(spec), worker_scaler(spec)]),
        "clock.yaml": _yaml(spec, [deployment(spec, "clock")]),
        "apply.sh": apply_script(spec),
    }


def _keda_keys(spec: DeploySpec) -> str:
    """What KEDA reads from the Secret besides: BROKER_URL, or Valkey's address and password (it parses no URL)."""
    if spec.settings.broker_is_amqp:
        return " (KEDA reads BROKER_URL)"
    return ", VALKEY_ADDRESS (host:port), VALKEY_PASSWORD"


def apply_script(spec: DeploySpec) -> str:
    """kubectl calls in order: the release Job to completion, then web, worker and the clock."""
    release = spec.name("release")
    return "\n".join(
        [
            "#!/bin/sh",
            "# Generated by `python -m cli deploy --platform kubernetes`. Needs metrics-server (the HPA) and KEDA,",
            f"# and the Secret {SECRET_NAME} with {', '.join(spec.secret_variables())}{_keda_keys(spec)}:",
            f"# kubectl create secret generic {SECRET_NAME} --from-literal=DATABASE_URL=... ...",
            f"# Every pod runs the image {spec.image}, built from the repository's Containerfile and pushed where",
            f"# the cluster pulls it: {spec.image_build()}",
            "set -eu",
            'cd "$(dirname "$0")"',
            f"kubectl delete job {release} --ignore-not-found",
            "kubectl apply -f release.yaml",
            f"kubectl wait --for=condition=complete --timeout=600s job/{release}",
            "# The clock is one replica (Recreate): never scale it, and give it no autoscaler.",
            "kubectl apply -f web.yaml -f worker.yaml -f clock.yaml",
            "",
        ]
    )
