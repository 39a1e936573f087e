"""The multiprocess metrics folder: who writes which files, who may wipe them, and the merged exposition.

Each process's values live in mmapped files named by its pid (`ProcessIdentity`). The first process
to start when no other runs wipes the folder (`claim_directory`: an exclusive `flock`, then a shared
one for the life of the process); live gauges of processes that died without exit handlers are
dropped by any live process (`reap_dead_processes`); `collect` merges every file.
"""

import fcntl
import os
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess

LOCK_FILE = "processes.lock"


class ProcessIdentity:
    """This process's name in the folder's file names: its pid, for the life of the process.

    A process that closes and reopens its metrics (tests open many apps) keeps its files: a new
    name per reopening made prometheus-client carry a counter's total from the old file into the
    new one, and the exposition then counted it twice.
    """

    def __call__(self) -> str:
        return str(os.getpid())


def collect(directory: Path) -> bytes:
    """The merged exposition of every process's files in `directory`."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def reap_dead_processes(directory: Path, own: str) -> None:
    """Drop the live gauges of processes that exited without closing (killed) from the merge."""
    for path in directory.glob("gauge_live*.db"):
        identity = path.stem.rsplit("_", 1)[-1]
        pid = identity.split("-", 1)[0]
        if identity != own and pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            multiprocess.mark_process_dead(identity, str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_directory(directory: Path) -> int:
    """Join the folder's processes; the first one after all others have exited wipes the old files.

    Returns the lock's descriptor, held (shared) for the life of the process.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # other processes are running: their files are live
    else:
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a newcomer holds it exclusively to wipe
    return fd
