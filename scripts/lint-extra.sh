#!/usr/bin/env bash
# Lints beyond Python: shell scripts, the compose file, Dockerfiles and workflows, where the
# validators are installed (.ci/run installs them; a developer without them is told).
set -euo pipefail
cd "$(dirname "$0")/.."
bash -n scripts/*.sh .ci/run
