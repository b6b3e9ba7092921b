"""`python -m mailer` as a real child process, configured like production: by environment only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mailer.settings import MailerSettings
from tests.support import ROOT


def spawn_mailer(
    settings: MailerSettings, log_path: Path, **overrides: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.sqlalchemy_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC": settings.kafka_topic,
        "KAFKA_DLQ_TOPIC": settings.kafka_dlq_topic,
        "MAILER_GROUP_ID": settings.mailer_group_id,
        "MAILER_COMMIT_INTERVAL_SECONDS": "0.2",
        "MAILER_HEALTH_PORT": "0",
        "SMTP_HOST": settings.smtp_host,
        "SMTP_PORT": str(settings.smtp_port),
        "SMTP_SECURITY": "none",
        "LOG_JSON": "true",
        **overrides,
    }
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mailer"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
