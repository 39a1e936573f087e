"""The rehearsal's hosts: network namespaces joined by veth pairs to one bridge, on a private /24.

The bridge lives in the root namespace with the subnet's first address, so the runner (the load, the mail
sink and the webhook receiver) reaches every host, and every host reaches it. Names carry the runner's PID:
a second run beside this one gets its own, and a run killed before its clean-up is swept by the next one.
"""

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import psutil

PREFIX = "folio"  # namespaces are folio-<pid>-<host>; links are fl<pid><n>, within the kernel's 15 characters
HOSTS = ("db", "app1", "app2", "lb")


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return done


def namespaces_possible() -> str | None:
    """Why namespaces cannot be made here, or None."""
    import os
    import shutil

    if os.geteuid() != 0:
        return "it needs root (network namespaces, veth pairs and a bridge)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    probe = f"{PREFIX}-probe-{os.getpid()}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"network namespaces cannot be made here: {done.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


def _used_subnets() -> set[int]:
    shown = ip("-4", "-o", "addr", "show").stdout
    return {int(part.split(".")[2]) for part in shown.split() if part.startswith("10.77.")}


@dataclass
class Network:
    """The bridge, the four namespaces and their links; `close()` deletes all of them (safe to call twice)."""

    tag: int
    third_octet: int = 0
    made_links: list[str] = field(default_factory=list)
    made_namespaces: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"fl{self.tag}br"[:15]

    def namespace(self, host: str) -> str:
        return f"{PREFIX}-{self.tag}-{host}"

    def address(self, host: str) -> str:
        """The host's address; "root" is the runner's, on the bridge."""
        index = 1 if host == "root" else HOSTS.index(host) + 2
        return f"10.77.{self.third_octet}.{index}"

    def exec_prefix(self, host: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(host)]

    def open(self) -> None:
        sweep_stale()
        used = _used_subnets()
        self.third_octet = next(n for n in range(256) if n not in used)
        ip("link", "add", self.bridge, "type", "bridge")
        self.made_links.append(self.bridge)
        ip("addr", "add", f"{self.address('root')}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for n, host in enumerate(HOSTS):
            self._add_host(host, f"fl{self.tag}v{n}"[:15])

    def _add_host(self, host: str, outer: str) -> None:
        ns = self.namespace(host)
        ip("netns", "add", ns)
        self.made_namespaces.append(ns)
        ip("link", "set", "lo", "up", netns=ns)
        ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.made_links.append(outer)
        ip("link", "set", outer, "master", self.bridge)
        ip("link", "set", outer, "up")
        ip("addr", "add", f"{self.address(host)}/24", "dev", "eth0", netns=ns)
        ip("link", "set", "eth0", "up", netns=ns)

    def link_down(self, host: str) -> None:
        """Cut a host off the bridge (its processes live on, unreachable)."""
        ip("link", "set", "eth0", "down", netns=self.namespace(host))

    def close(self) -> None:
        for ns in reversed(self.made_namespaces):  # deleting a namespace deletes its veth end, and so the pair
            ip("netns", "del", ns, check=False)
        for link in reversed(self.made_links):
            ip("link", "del", link, check=False)
        self.made_namespaces.clear()
        self.made_links.clear()


def sweep_stale() -> None:
    """Delete the namespaces and bridges of earlier runs whose runner is gone (killed before its clean-up)."""
    for line in ip("netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == PREFIX and parts[1].isdigit() and not psutil.pid_exists(int(parts[1])):
            _kill_namespace_processes(name)
            ip("netns", "del", name, check=False)
    for line in ip("-o", "link", "show", "type", "bridge").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        tag = name.removeprefix("fl").removesuffix("br")
        if name.startswith("fl") and name.endswith("br") and tag.isdigit() and not psutil.pid_exists(int(tag)):
            ip("link", "del", name, check=False)


def _kill_namespace_processes(ns: str) -> None:
    for pid in ip("netns", "pids", ns, check=False).stdout.split():
        with contextlib.suppress(psutil.Error, ValueError):
            psutil.Process(int(pid)).kill()


@contextlib.contextmanager
def network(tag: int) -> Iterator[Network]:
    net = Network(tag)
    try:
        net.open()
        yield net
    finally:
        net.close()
