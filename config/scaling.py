"""The autoscaling policies of the web and worker process types, from settings."""

from config.settings import Settings
from domain.scaling import ScalingPolicy, web_policy, worker_policy


def web_scaling_policy(settings: Settings) -> ScalingPolicy:
    """The web processes' policy: CPU and memory targets, bounds and cooldowns."""
    return web_policy(
        min_instances=settings.min_instances,
        max_instances=settings.max_instances,
        target_cpu=settings.auto_scale_target_cpu,
        target_memory=settings.auto_scale_target_memory,
        low_cpu=settings.auto_scale_low_cpu,
        scale_out_cooldown_s=settings.scale_out_cooldown,
        scale_in_cooldown_s=settings.scale_in_cooldown,
        window_s=settings.scale_window_s,
    )


def worker_scaling_policy(settings: Settings) -> ScalingPolicy:
    """The workers' policy: report backlog per worker and the oldest report's wait."""
    return worker_policy(
        min_instances=settings.worker_min_instances,
        max_instances=settings.worker_max_instances,
        target_backlog=settings.worker_target_backlog,
        target_queue_age_s=settings.worker_target_queue_age_s,
        scale_out_cooldown_s=settings.scale_out_cooldown,
        scale_in_cooldown_s=settings.scale_in_cooldown,
        window_s=settings.scale_window_s,
    )
