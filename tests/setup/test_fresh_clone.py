"""A fresh clone of this working tree, with no .venv and no services: `make check`'s set-up
succeeds, and `make dev` serves the app until Ctrl-C, which stops everything and exits 0.

The clone holds the working tree as it is (uncommitted and untracked files too, ignored ones
not), as `git clone` of a commit of it would. PostgreSQL and Kafka are the clone's own, on free
ports and in a folder of their own, so a developer's `make dev` and other tests are left alone.
The uv cache makes the virtualenv seconds and Kafka's jars are cached in ~/.cache/eventful-todo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT
from tests.support.ports import free_port, port_open
from tests.support.processes import wait_until
from tests.support.services import missing

pytestmark = [pytest.mark.setup, pytest.mark.timeout(600)]

READY_SECONDS = 240
STOP_SECONDS = 60
# What a fresh machine's shell would not have: our virtualenv, the services of this session and
# an outer `make check`'s make.
NOT_INHERITED = (
    "VIRTUAL_ENV",
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "SERVICES_DIR",
    "PG_PORT",
    "KAFKA_PORT",
    "KAFKA_CONTROLLER_PORT",
    "CHECK_SKIPS_FILE",
    "PYTEST_ADDOPTS",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
)


@dataclass(frozen=True)
class Clone:
    path: Path
    env: dict[str, str]  # a fresh shell's, with the clone's own service ports and folder

    def make(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", *args],
            cwd=self.path,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def services_status(self) -> str:
        return subprocess.run(
            ["scripts/services.sh", "status"],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout


def snapshot(dest: Path, scratch: Path) -> None:
    """Write the working tree, as a commit of it would hold it, into `dest` and commit it there."""
    index = os.environ | {"GIT_INDEX_FILE": str(scratch / "index")}
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "add", "--all", "."], env=index, check=True, timeout=120)
    tree = subprocess.run(
        [*git, "write-tree"], env=index, check=True, capture_output=True, text=True
    ).stdout.strip()
    archive = scratch / "tree.tar"
    subprocess.run([*git, "archive", "--output", str(archive), tree], check=True, timeout=120)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="tar")
    author = ["-c", "user.name=fresh clone", "-c", "user.email=fresh@example.com"]
    for command in (["init", "-q"], ["add", "--all"], [*author, "commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", "-C", str(dest), *command], check=True, timeout=120)


def fresh_env(services_dir: Path) -> dict[str, str]:
    venv_bin = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED} | {"PATH": path}
    ports = {name: str(free_port()) for name in ("PG_PORT", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT")}
    # `make check` and `make dev` each read their own names for the services' ports and folder.
    env |= {f"CHECK_{name}": port for name, port in ports.items()} | ports
    return env | {"CHECK_SERVICES_DIR": str(services_dir), "SERVICES_DIR": str(services_dir)}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clone]:
    for tool in ("git", "make", "setsid"):
        if shutil.which(tool) is None:
            missing(f"the fresh-clone test needs {tool}")
    inside = subprocess.run(["git", "-C", str(ROOT), "rev-parse"], capture_output=True, check=False)
    if inside.returncode != 0:
        missing(f"the fresh-clone test clones a git working tree; {ROOT} is none")
    path = tmp_path_factory.mktemp("fresh") / "eventful-todo"
    path.mkdir()
    snapshot(path, tmp_path_factory.mktemp("snapshot"))
    # Outside pytest's private temporary folder: PostgreSQL runs as `postgres` when we are root.
    services_dir = Path(tempfile.mkdtemp(prefix="eventful-fresh-"))
    services_dir.chmod(0o755)
    fresh = Clone(path, fresh_env(services_dir))
    try:
        yield fresh
    finally:
        with suppress(subprocess.SubprocessError):
            subprocess.run(
                ["scripts/services.sh", "stop"], cwd=path, env=fresh.env, timeout=90, check=False
            )
        shutil.rmtree(services_dir, ignore_errors=True)


def test_make_check_setup_on_a_fresh_clone_builds_the_venv_and_starts_and_stops_the_services(
    clone: Clone,
) -> None:
    assert not (clone.path / ".venv").exists()

    done = clone.make("check-setup", timeout=480)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "set-up done" in done.stderr
    python = clone.path / ".venv" / "bin" / "python"
    probe = subprocess.run(
        [str(python), "-c", "import sys, app, honcho, pytest; print(sys.version_info[:2])"],
        cwd=clone.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.stdout.strip() == "(3, 12)", probe.stderr
    assert f"127.0.0.1:{clone.env['CHECK_PG_PORT']}" in done.stderr
    assert clone.services_status().splitlines() == ["postgres: down", "kafka: down"]


SKIPPING_TEST = """
import pytest


def test_that_needs_a_frobnicator() -> None:
    pytest.skip("no frobnicator on this machine")
"""


def test_make_check_names_every_skipped_test_and_its_reason_and_under_ci_fails(
    clone: Clone, admin_url: str, kafka_servers: str, tmp_path: Path
) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(SKIPPING_TEST)
    env = clone.env | {
        "CI": "true",
        "DATABASE_URL": admin_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_servers,
        "PYTEST_ARGS": str(sample),
    }

    done = subprocess.run(
        ["make", "check"],
        cwd=clone.path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )

    summary = done.stderr[done.stderr.rindex("=== summary") :]
    assert done.returncode != 0, summary
    assert "FAILED" not in summary  # every lint passed on the clean clone, and the one test
    assert "ok      pytest" in summary
    assert "pytest: 1 skipped: no frobnicator on this machine (" in summary
    assert "CI=true: a skipped check is a failure" in summary


class Terminal:
    """A command in a terminal of its own (a pseudo-terminal), as a person runs it."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self._master, slave = os.openpty()
        self._output = bytearray()
        self._lock = threading.Lock()
        # setsid -c: a new session whose controlling terminal is ours, so Ctrl-C means SIGINT
        # to its foreground process group, exactly as in a shell.
        self.proc = subprocess.Popen(
            ["setsid", "-c", *argv], cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO once every process holding the terminal is gone
                return
            if not chunk:
                return
            with self._lock:
                self._output += chunk

    @property
    def output(self) -> str:
        with self._lock:
            return self._output.decode(errors="replace")

    def ctrl_c(self) -> None:
        os.write(self._master, b"\x03")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # make passes SIGTERM on to dev.sh, which stops honcho
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=STOP_SECONDS)
        if self.proc.poll() is None:
            self.proc.kill()
        self._reader.join(timeout=5)
        os.close(self._master)


def test_make_dev_on_a_fresh_clone_serves_the_app_until_ctrl_c_which_stops_all_and_exits_0(
    clone: Clone,
) -> None:
    ports = {name: free_port() for name in ("WEB", "API", "SMTP", "RELAY_METRICS", "MAILER_HEALTH")}
    env = clone.env | {f"DEV_{name}_PORT": str(port) for name, port in ports.items()}
    web = f"http://127.0.0.1:{ports['WEB']}"

    def serving() -> bool:
        assert terminal.proc.poll() is None, f"make dev exited:\n{terminal.output[-4000:]}"
        try:
            page = httpx.get(f"{web}/", timeout=2)
            health = httpx.get(f"{web}/api/healthz", timeout=2)
        except httpx.HTTPError:
            return False
        return page.status_code == 200 and health.status_code == 200

    terminal = Terminal(["make", "dev"], clone.path, env)
    try:
        wait_until(serving, timeout=READY_SECONDS, interval=0.5)
        page = httpx.get(f"{web}/", timeout=5)
        assert "<title>" in page.text
        assert "Eventful TODO" in page.text
        wait_until(lambda: "[dev] ready in" in terminal.output, timeout=30)
        printed = terminal.output
        assert f"app           {web}/" in printed
        assert "digest now    DATABASE_URL=postgresql+psycopg://todo_scheduler:" in printed
        assert ".venv/bin/python -m scheduler run-once --date $(date -I)" in printed
        assert "make mail" in printed

        terminal.ctrl_c()
        returncode = terminal.proc.wait(timeout=STOP_SECONDS)
    finally:
        terminal.close()

    assert returncode == 0, terminal.output[-4000:]
    assert "make: ***" not in terminal.output  # no "Error 130", no "Interrupt"
    assert not any(port_open(port)() for port in ports.values())
    assert clone.services_status().splitlines() == ["postgres: down", "kafka: down"]
