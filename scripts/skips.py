"""Print every skipped test of a pytest JUnit XML report, grouped by reason: one line a reason.

`make check` (scripts/check.sh) appends these lines to its summary of skipped checks.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict


def skipped(report: str) -> dict[str, list[str]]:
    """Map each skip reason in the JUnit XML file `report` to the tests it skipped."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - our own pytest's report, not untrusted input
        for skip in case.iter("skipped"):
            reason = (skip.get("message") or skip.text or "no reason given").strip()
            name = ".".join(filter(None, (case.get("classname"), case.get("name"))))
            by_reason[reason].append(name)
    return by_reason


def main(argv: list[str]) -> int:
    """Print `N test(s) skipped: reason (first test ...)` for each reason in the report."""
    for reason, tests in sorted(skipped(argv[1]).items()):
        more = f" and {len(tests) - 1} more" if len(tests) > 1 else ""
        sys.stdout.write(f"pytest: {len(tests)} skipped: {reason} ({tests[0]}{more})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
