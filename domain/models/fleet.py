"""The fleet view's inputs: process heartbeats and the report queue's backlog."""

import msgspec


class ProcessSample(msgspec.Struct, frozen=True, kw_only=True):
    """One process's heartbeat in the fleet view: who it is and its latest load."""

    process: str  # the process type: "web" or "worker"
    instance: str  # the unit a platform scales (container, dyno, pod): INSTANCE_ID or the host name
    pid: int
    at: float  # epoch seconds of the sample
    started_at: float
    cpu_percent: float
    memory_percent: float


class Backlog(msgspec.Struct, frozen=True, kw_only=True):
    """The report queue as the workers' scaler sees it: messages waiting, and the oldest one's age."""

    queued: int
    oldest_age_s: float  # 0 when nothing waits
