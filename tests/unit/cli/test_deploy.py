"""`python -m cli deploy`: every platform's files parse, and carry the values of the settings they came from."""

import argparse
import inspect
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from dramatiq.brokers.redis import RedisBroker

from cli.deploy import command, ecs, formation, kubernetes
from cli.deploy.procfile import (
    ProcfileError,
    deployed_commands,
    drain_seconds,
    parse_procfile,
    read_procfile,
    stop_seconds,
)
from cli.deploy.spec import READY_PATH, SECRET_VARIABLES, DeploySpec
from config.queues import REPORTS_QUEUE
from config.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]
PROCFILE = read_procfile(ROOT / "Procfile")
CUSTOM = {
    "MIN_INSTANCES": "3",
    "MAX_INSTANCES": "12",
    "SCALE_OUT_COOLDOWN": "120",
    "SCALE_IN_COOLDOWN": "900",
    "AUTO_SCALE_TARGET_CPU": "60",
    "AUTO_SCALE_TARGET_MEMORY": "75",
    "WORKER_MIN_INSTANCES": "2",
    "WORKER_MAX_INSTANCES": "6",
    "WORKER_PROCESSES": "2",
    "WORKER_TARGET_BACKLOG": "15",
    "WEB_CONCURRENCY": "4",
    "PORT": "9000",
    "MARKET_CLOSE_UTC": "20:30",
    "MARKET_CATCH_UP_DAYS": "3",
}
SETTINGS = [pytest.param(Settings(), id="defaults"), pytest.param(load_settings(CUSTOM), id="custom")]
Json = dict[str, Any]
IMAGE = "registry.example.com/folio:1.0"


def spec_of(settings: Settings) -> DeploySpec:
    return DeploySpec(settings=settings, commands=PROCFILE)


def ecs_files(settings: Settings, **options: str) -> dict[str, Json]:
    files = ecs.render(spec_of(settings), ecs.EcsOptions(**options))
    return {name: json.loads(text) for name, text in files.items() if name.endswith(".json")}


def kubernetes_objects(settings: Settings) -> dict[tuple[str, str], Json]:
    objects = {}
    for name, text in kubernetes.render(spec_of(settings)).items():
        if name.endswith(".yaml"):
            for document in yaml.safe_load_all(text):
                objects[document["kind"], document["metadata"]["name"]] = document
    return objects


def test_the_procfile_is_read_as_its_lines() -> None:
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ": " in line)
    assert {name: lines[name] for name in ("release", "web", "worker", "clock")} == PROCFILE
    assert "simulator" not in PROCFILE  # development only
    assert drain_seconds(PROCFILE["web"]) == 25
    assert drain_seconds(PROCFILE["worker"]) == 25  # --worker-shutdown-timeout 25000 ms
    assert drain_seconds(PROCFILE["clock"]) is None  # no flag: its stop is known (tests/integration/test_clock_stop.py)
    assert stop_seconds("clock", PROCFILE["clock"]) is not None  # what it may take is known instead
    assert stop_seconds("web", PROCFILE["web"]) == 25


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("web granian\n", "line 1 is not `name: command`"),
        ("web: a\nweb: b\n", "repeats the process type 'web'"),
        ("# only\nweb: a\nrelease: b\n", "no worker process type"),
        ("release: a\nweb: b\nworker: c\n", "the Procfile has no clock process type"),
    ],
)
def test_a_bad_procfile_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ProcfileError, match=message):
        deployed_commands(text)


def test_comments_and_blank_lines_are_skipped() -> None:
    assert parse_procfile("# x\n\nweb: run it  \n") == {"web": "run it"}


@pytest.mark.parametrize("settings", SETTINGS)
def test_ecs_task_definitions_run_the_procfile_with_the_readiness_check(settings: Settings) -> None:
    files = ecs_files(settings)
    for process in ("release", "web", "worker", "clock"):
        (container,) = files[f"{process}-task-definition.json"]["containerDefinitions"]
        assert container["command"] == ["sh", "-c", f"exec {PROCFILE[process]}"]
        assert {s["name"] for s in container["secrets"]} == set(SECRET_VARIABLES)
        assert not {e["name"] for e in container["environment"]} & set(SECRET_VARIABLES)
    (web,) = files["web-task-definition.json"]["containerDefinitions"]
    assert web["portMappings"] == [{"containerPort": settings.port, "protocol": "tcp", "name": "http"}]
    assert f"127.0.0.1:{settings.port}{READY_PATH}" in web["healthCheck"]["command"][-1]
    assert web["stopTimeout"] > 25  # beyond the Procfile's own drain deadline
    environment = {e["name"]: e["value"] for e in web["environment"]}
    assert environment["WEB_CONCURRENCY"] == str(settings.web_concurrency)
    assert files["web-task-definition.json"]["cpu"] == str(min(1024 * settings.web_concurrency, 16384))


@pytest.mark.parametrize("settings", SETTINGS)
def test_ecs_scaling_carries_the_bounds_targets_and_cooldowns(settings: Settings) -> None:
    files = ecs_files(settings)
    web, worker = files["web-scalable-target.json"], files["worker-scalable-target.json"]
    assert (web["MinCapacity"], web["MaxCapacity"]) == (settings.min_instances, settings.max_instances)
    assert (worker["MinCapacity"], worker["MaxCapacity"]) == (
        settings.worker_min_instances,
        settings.worker_max_instances,
    )
    assert files["web-service.json"]["desiredCount"] == settings.min_instances
    expected = {
        "web-cpu-policy.json": ("ECSServiceAverageCPUUtilization", settings.auto_scale_target_cpu),
        "web-memory-policy.json": ("ECSServiceAverageMemoryUtilization", settings.auto_scale_target_memory),
    }
    for name, (metric, target) in expected.items():
        tracking = files[name]["TargetTrackingScalingPolicyConfiguration"]
        assert files[name]["PolicyType"] == "TargetTrackingScaling"
        assert files[name]["ResourceId"] == web["ResourceId"] == "service/folio/folio-web"
        assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == metric
        assert tracking["TargetValue"] == target
        assert tracking["ScaleOutCooldown"] == settings.scale_out_cooldown
        assert tracking["ScaleInCooldown"] == settings.scale_in_cooldown
    backlog = files["worker-backlog-policy.json"]["TargetTrackingScalingPolicyConfiguration"]
    assert backlog["TargetValue"] == settings.worker_target_backlog * settings.worker_processes
    (returned,) = [m for m in backlog["CustomizedMetricSpecification"]["Metrics"] if m["ReturnData"]]
    assert returned["Expression"] == "queued / tasks"


def clock_stop_s() -> int:
    stop = stop_seconds("clock", PROCFILE["clock"])
    assert stop is not None
    return stop


@pytest.mark.parametrize("settings", SETTINGS)
def test_ecs_runs_one_clock_task_never_scaled_and_never_two_at_once(settings: Settings) -> None:
    files = ecs_files(settings)
    clock = files["clock-service.json"]
    assert (clock["serviceName"], clock["taskDefinition"]) == ("folio-clock", "folio-clock")
    assert clock["desiredCount"] == 1
    deployment = clock["deploymentConfiguration"]
    # At most 100 % of one task while a deployment replaces it, and none required: stop, then start.
    assert clock["desiredCount"] * deployment["maximumPercent"] // 100 == 1
    assert deployment["minimumHealthyPercent"] == 0
    scaled = [f for name, f in files.items() if name.endswith(("-scalable-target.json", "-policy.json"))]
    assert scaled
    assert all(f["ResourceId"] != "service/folio/folio-clock" for f in scaled)
    (container,) = files["clock-task-definition.json"]["containerDefinitions"]
    assert container["stopTimeout"] > clock_stop_s()
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["MARKET_CLOSE_UTC"] == settings.market_close_utc
    assert environment["MARKET_CATCH_UP_DAYS"] == str(settings.market_catch_up_days)
    script = ecs.render(spec_of(settings), ecs.EcsOptions())["apply.sh"]
    assert "register-task-definition --cli-input-json file://clock-task-definition.json" in script
    assert "create-service --cli-input-json file://clock-service.json" in script
    assert all("clock" not in line for line in script.splitlines() if "autoscaling" in line or "for " in line)
    # The web and worker services still roll over with a full fleet.
    assert files["web-service.json"]["deploymentConfiguration"]["minimumHealthyPercent"] == 100


def test_ecs_secrets_are_references_under_the_given_prefix() -> None:
    prefix = "arn:aws:ssm:eu-west-1:111122223333:parameter/prod/folio"
    (web,) = ecs_files(Settings(), secrets_prefix=prefix)["web-task-definition.json"]["containerDefinitions"]
    assert {s["valueFrom"] for s in web["secrets"]} == {f"{prefix}/{name}" for name in SECRET_VARIABLES}


def test_fargate_sizes_are_valid_combinations() -> None:
    assert [ecs.task_size(n) for n in (1, 2, 3, 4)] == [(1024, 2048), (2048, 4096), (4096, 8192), (4096, 8192)]


@pytest.mark.parametrize("settings", SETTINGS)
def test_kubernetes_web_has_probes_a_service_and_an_hpa_with_the_cooldowns(settings: Settings) -> None:
    objects = kubernetes_objects(settings)
    (container,) = objects["Deployment", "folio-web"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["sh", "-c", f"exec {PROCFILE['web']}"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["ports"] == [{"name": "http", "containerPort": settings.port}]
    assert container["resources"]["requests"]["cpu"] == f"{1000 * settings.web_concurrency}m"
    assert objects["Service", "folio-web"]["spec"]["ports"][0]["targetPort"] == "http"
    hpa = objects["HorizontalPodAutoscaler", "folio-web"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (settings.min_instances, settings.max_instances)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]}
    assert targets["cpu"] == {"type": "Utilization", "averageUtilization": settings.auto_scale_target_cpu}
    assert targets["memory"]["averageUtilization"] == settings.auto_scale_target_memory
    behavior = hpa["spec"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == settings.scale_out_cooldown
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == settings.scale_in_cooldown
    assert "replicas" not in objects["Deployment", "folio-web"]["spec"]  # the HPA owns the count


@pytest.mark.parametrize("settings", SETTINGS)
def test_kubernetes_worker_scales_on_the_dramatiq_list_with_keda(settings: Settings) -> None:
    objects = kubernetes_objects(settings)
    scaled = objects["ScaledObject", "folio-worker"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == "folio-worker"
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (
        settings.worker_min_instances,
        settings.worker_max_instances,
    )
    assert scaled["cooldownPeriod"] == settings.scale_in_cooldown
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == settings.scale_in_cooldown
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == f"dramatiq:{REPORTS_QUEUE}"
    assert trigger["metadata"]["listLength"] == str(round(settings.worker_target_backlog * settings.worker_processes))
    assert trigger["authenticationRef"]["name"] == "folio-valkey"
    assert objects["TriggerAuthentication", "folio-valkey"]["spec"]["secretTargetRef"]
    (job,) = objects["Job", "folio-release"]["spec"]["template"]["spec"]["containers"]
    assert job["command"] == ["sh", "-c", f"exec {PROCFILE['release']}"]


@pytest.mark.parametrize("settings", SETTINGS)
def test_kubernetes_runs_one_clock_pod_never_scaled_and_recreated_not_rolled(settings: Settings) -> None:
    objects = kubernetes_objects(settings)
    clock = objects["Deployment", "folio-clock"]["spec"]
    assert clock["replicas"] == 1
    assert clock["strategy"] == {"type": "Recreate"}  # RollingUpdate would run the new pod beside the old one
    pod = clock["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["sh", "-c", f"exec {PROCFILE['clock']}"]
    assert pod["terminationGracePeriodSeconds"] > clock_stop_s()
    environment = {e["name"]: e.get("value") for e in container["env"]}
    assert environment["MARKET_CLOSE_UTC"] == settings.market_close_utc
    targets = [o["spec"]["scaleTargetRef"]["name"] for o in objects.values() if "scaleTargetRef" in o["spec"]]
    assert sorted(targets) == ["folio-web", "folio-worker"]  # no HPA or ScaledObject for the clock
    assert "kubectl apply -f web.yaml -f worker.yaml -f clock.yaml" in kubernetes.render(spec_of(settings))["apply.sh"]


def test_the_list_name_is_the_one_dramatiqs_redis_broker_uses() -> None:
    default = inspect.signature(RedisBroker.__init__).parameters["namespace"].default
    assert default == kubernetes.DRAMATIQ_NAMESPACE


def test_keda_reads_the_database_and_tls_from_the_valkey_url() -> None:
    settings = Settings(valkey_url="rediss://:pw@cache.example:6380/2")
    trigger = kubernetes.queue_trigger(spec_of(settings))
    assert trigger["metadata"]["databaseIndex"] == "2"
    assert trigger["metadata"]["enableTLS"] == "true"


def test_a_cooldown_beyond_the_hpa_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="SCALE_IN_COOLDOWN=7200"):
        kubernetes.render(spec_of(Settings(scale_in_cooldown=7200)))


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_procfile_platform_gets_the_formation_and_the_scaling_commands(settings: Settings) -> None:
    files = formation.render(spec_of(settings))
    app = json.loads(files["app.json"])
    assert app["formation"]["web"]["quantity"] == settings.min_instances
    assert app["formation"]["worker"]["quantity"] == settings.worker_min_instances
    assert app["env"]["JWT_SECRET"] == {"description": app["env"]["JWT_SECRET"]["description"], "generator": "secret"}
    assert all("value" not in app["env"][name] for name in SECRET_VARIABLES)
    assert "REDIS_URL with ?ssl_cert_reqs=none" in app["env"]["VALKEY_URL"]["description"]
    script = files["scale.sh"]
    assert f"heroku ps:scale web={settings.min_instances}:" in script
    assert f"worker={settings.worker_min_instances}:" in script
    assert f"--min {settings.min_instances} --max {settings.max_instances}" in script


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_procfile_platform_runs_exactly_one_clock_dyno(settings: Settings) -> None:
    files = formation.render(spec_of(settings))
    app = json.loads(files["app.json"])
    assert app["formation"]["clock"]["quantity"] == 1
    assert app["env"]["MARKET_CLOSE_UTC"] == {"value": settings.market_close_utc}
    commands = [line for line in files["scale.sh"].splitlines() if line.startswith("heroku ")]
    (scale,) = [line for line in commands if line.startswith("heroku ps:scale ")]
    assert re.search(r" clock=1(:| )", scale)
    assert all("clock" not in line for line in commands if "autoscale" in line)
    assert clock_stop_s() < formation.STOP_S  # the platform's fixed SIGTERM-to-SIGKILL time


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_environment_given_to_processes_loads_back_into_the_same_settings(settings: Settings) -> None:
    spec = spec_of(settings)
    loaded = load_settings({**spec.environment("web"), **spec.environment("worker"), **spec.environment("clock")})
    for field in ("min_instances", "max_instances", "scale_out_cooldown", "scale_in_cooldown", "port"):
        assert getattr(loaded, field) == getattr(settings, field)
    assert (loaded.market_close_utc, loaded.market_catch_up_days) == (
        settings.market_close_utc,
        settings.market_catch_up_days,
    )
    assert loaded.auto_scale_target_cpu == settings.auto_scale_target_cpu
    assert loaded.worker_target_backlog == settings.worker_target_backlog
    assert loaded.environment == "production"


def test_no_secret_value_reaches_any_platforms_files() -> None:
    secrets = {"database_url": "postgresql://folio:db-pass-123@db/folio", "jwt_secret": "jwt-secret-" + "x" * 32}
    settings = Settings(**secrets, valkey_url="redis://:cache-pass-456@cache:6379/0", smtp_url="smtp://u:mail-789@m")
    spec = spec_of(settings)
    rendered = {**ecs.render(spec, ecs.EcsOptions()), **kubernetes.render(spec), **formation.render(spec)}
    for text in rendered.values():
        for needle in ("db-pass-123", "jwt-secret-", "cache-pass-456", "mail-789"):
            assert needle not in text


def arguments(platform: str, out: Path, procfile: Path = ROOT / "Procfile", *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(["--platform", platform, "--out", str(out), "--procfile", str(procfile), *extra])


def test_every_ecs_task_and_kubernetes_pod_runs_the_given_image() -> None:
    spec = DeploySpec(settings=Settings(), commands=PROCFILE, image=IMAGE)
    ecs_images = [
        c["image"]
        for name, text in ecs.render(spec, ecs.EcsOptions()).items()
        if name.endswith("task-definition.json")
        for c in json.loads(text)["containerDefinitions"]
    ]
    pods = [
        o["spec"]["template"]["spec"]
        for name, text in kubernetes.render(spec).items()
        if name.endswith(".yaml")
        for o in yaml.safe_load_all(text)
        if o["kind"] in ("Deployment", "Job")
    ]
    assert ecs_images == [IMAGE] * 4
    assert [c["image"] for pod in pods for c in pod["containers"]] == [IMAGE] * 4


@pytest.mark.parametrize("platform", ["ecs", "kubernetes"])
def test_the_command_names_the_image_and_how_to_build_it_from_the_containerfile(
    platform: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = f"podman build -f Containerfile -t {IMAGE} . && podman push {IMAGE}"
    assert command.main(Settings(), arguments(platform, tmp_path, ROOT / "Procfile", "--image", IMAGE)) == 0
    assert f"the files run the image {IMAGE}; build and push it first: {build}" in capsys.readouterr().out
    assert build in (tmp_path / "apply.sh").read_text()
    assert (ROOT / "Containerfile").exists()


def test_the_image_defaults_to_the_documented_name_and_a_procfile_platform_needs_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert arguments("ecs", tmp_path).image == "folio:latest"
    assert command.main(Settings(), arguments("procfile", tmp_path)) == 0
    assert "Containerfile" not in capsys.readouterr().out


@pytest.mark.parametrize("platform", command.PLATFORMS)
def test_the_command_writes_the_files_and_lists_them(
    platform: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command.main(Settings(), arguments(platform, tmp_path)) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    out = capsys.readouterr().out
    assert written
    assert all(f"wrote {tmp_path / name}" in out for name in written)
    scripts = [p for p in tmp_path.iterdir() if p.suffix == ".sh"]
    assert scripts
    assert all(p.stat().st_mode & 0o111 for p in scripts)


def test_the_command_refuses_a_procfile_without_a_worker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("release: a\nweb: b\n")
    assert command.main(Settings(), arguments("ecs", tmp_path / "out", procfile)) == 2
    assert "no worker process type" in capsys.readouterr().err


@pytest.mark.parametrize("platform", command.PLATFORMS)
def test_the_scripts_are_valid_shell(platform: str, tmp_path: Path) -> None:
    assert command.main(Settings(), arguments(platform, tmp_path)) == 0
    for script in tmp_path.glob("*.sh"):
        assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0, script.name


def test_on_rabbitmq_keda_scales_the_worker_on_the_report_queue_with_its_rabbitmq_scaler() -> None:
    settings = Settings(valkey_url="redis://cache:6379/0", broker_url="amqp://folio:pw@rabbit:5672/folio")
    objects = kubernetes_objects(settings)
    (trigger,) = objects["ScaledObject", "folio-worker"]["spec"]["triggers"]
    assert trigger == {
        "type": "rabbitmq",
        "metadata": {
            "protocol": "amqp",
            "mode": "QueueLength",
            "value": str(round(settings.worker_target_backlog * settings.worker_processes)),
            "queueName": REPORTS_QUEUE,
        },
        "authenticationRef": {"name": "folio-rabbitmq"},
    }
    auth = objects["TriggerAuthentication", "folio-rabbitmq"]["spec"]["secretTargetRef"]
    assert auth == [{"parameter": "host", "name": "folio-secrets", "key": "BROKER_URL"}]
    assert ("TriggerAuthentication", "folio-valkey") not in objects
    for process in ("web", "worker", "clock"):
        (container,) = objects["Deployment", f"folio-{process}"]["spec"]["template"]["spec"]["containers"]
        broker = next(e for e in container["env"] if e["name"] == "BROKER_URL")
        assert broker["valueFrom"]["secretKeyRef"] == {"name": "folio-secrets", "key": "BROKER_URL"}  # never a value
    assert "amqp://folio:pw" not in "".join(kubernetes.render(spec_of(settings)).values())


def test_on_rabbitmq_every_platform_passes_broker_url_as_a_secret_reference() -> None:
    rabbit = Settings(broker_url="amqp://folio:rabbit-pass-321@rabbit:5672/folio")
    files = ecs_files(rabbit)
    for process in ("web", "worker", "clock"):
        (container,) = files[f"{process}-task-definition.json"]["containerDefinitions"]
        assert "BROKER_URL" in {s["name"] for s in container["secrets"]}
    app = json.loads(formation.render(spec_of(rabbit))["app.json"])
    assert app["env"]["BROKER_URL"]["required"] is True
    assert "value" not in app["env"]["BROKER_URL"]
    rendered = {**ecs.render(spec_of(rabbit), ecs.EcsOptions()), **formation.render(spec_of(rabbit))}
    assert all("rabbit-pass-321" not in text for text in rendered.values())
    (container,) = ecs_files(Settings())["worker-task-definition.json"]["containerDefinitions"]
    assert "BROKER_URL" not in {s["name"] for s in container["secrets"]}  # on Valkey: nothing to set


def test_on_a_valkey_cluster_every_platform_passes_the_cluster_urls_as_a_secret_reference() -> None:
    cluster = Settings(
        broker_url="amqp://folio:rabbit-pass-321@rabbit:5672/folio",
        valkey_cluster_urls="rediss://:cluster-pass-654@node-1:6379,rediss://:cluster-pass-654@node-2:6379",
    )
    files = ecs_files(cluster)
    for process in ("web", "worker", "clock"):
        (container,) = files[f"{process}-task-definition.json"]["containerDefinitions"]
        names = {s["name"] for s in container["secrets"]}
        assert "VALKEY_CLUSTER_URLS" in names
        assert "VALKEY_URL" not in names
    app = json.loads(formation.render(spec_of(cluster))["app.json"])
    assert app["env"]["VALKEY_CLUSTER_URLS"]["required"] is True
    assert "value" not in app["env"]["VALKEY_CLUSTER_URLS"]
    rendered = {**ecs.render(spec_of(cluster), ecs.EcsOptions()), **formation.render(spec_of(cluster))}
    rendered |= kubernetes.render(spec_of(cluster))
    assert all("cluster-pass-654" not in text for text in rendered.values())


def test_behind_pgbouncer_every_platform_passes_the_direct_url_as_a_secret_and_names_the_pooler() -> None:
    pooled = Settings(
        database_url="postgresql://folio:bouncer-pass-987@pgbouncer:6432/folio",
        database_direct_url="postgresql://folio:direct-pass-987@db:5432/folio",
        database_pooler="pgbouncer",
    )
    files = ecs_files(pooled)
    for process in ("web", "worker", "clock"):
        (container,) = files[f"{process}-task-definition.json"]["containerDefinitions"]
        assert "DATABASE_DIRECT_URL" in {s["name"] for s in container["secrets"]}
        assert {"name": "DATABASE_POOLER", "value": "pgbouncer"} in container["environment"]
    app = json.loads(formation.render(spec_of(pooled))["app.json"])
    assert app["env"]["DATABASE_DIRECT_URL"]["required"] is True
    assert app["env"]["DATABASE_POOLER"] == {"value": "pgbouncer"}
    rendered = {**ecs.render(spec_of(pooled), ecs.EcsOptions()), **formation.render(spec_of(pooled))}
    rendered |= kubernetes.render(spec_of(pooled))
    assert all("pass-987" not in text for text in rendered.values())
    (container,) = ecs_files(Settings())["web-task-definition.json"]["containerDefinitions"]
    assert "DATABASE_DIRECT_URL" not in {s["name"] for s in container["secrets"]}  # straight to PostgreSQL
