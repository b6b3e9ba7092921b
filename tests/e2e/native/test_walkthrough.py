"""The README's curl walk-through (scripts/walkthrough.sh) against the native run, through nginx."""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import UTC, datetime

import pytest

from tests.e2e.native.conftest import NativeRun
from tests.support import ROOT
from tests.support.processes import wait_until

pytestmark = pytest.mark.e2e

DOC = ROOT / "docs" / "walkthrough.md"
SCRIPT = ROOT / "scripts" / "walkthrough.sh"


def test_the_documented_commands_are_the_ones_the_script_runs() -> None:
    """So the test below exercises every command the README shows."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)
    script = SCRIPT.read_text().splitlines()
    commands = [
        line
        for line in blocks[0].splitlines()
        if line and not line.startswith(("#", "base="))  # the script takes those as arguments
    ]
    assert len(commands) >= 10
    for command in commands:
        assert command in script, f"docs/walkthrough.md runs what the script does not: {command}"
    assert blocks[1].strip() in SCRIPT.read_text()


def test_the_readme_walkthrough_ends_in_one_digest_email(native: NativeRun) -> None:
    address = f"walker-{uuid.uuid4().hex[:10]}@example.com"
    today = datetime.now(UTC).date()
    walk = subprocess.run(
        ["scripts/walkthrough.sh", native.api_url],
        cwd=ROOT,
        env=native.env | {"EMAIL": address, "DIGEST_COMMAND": native.digest_command(today)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert walk.returncode == 0, walk.stdout + walk.stderr
    assert "# Delete the second one" in walk.stdout

    wait_until(lambda: len(native.emails_to(address)) >= 1, timeout=60)
    [mail] = native.emails_to(address)
    # Buy milk was completed and Write the report deleted: nothing is left to do.
    assert "0 to do, 1 done" in str(mail["Subject"])
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Buy milk" not in text
    assert "Write the report" not in text
