"""What the backup suite reports besides pass and fail: how long the backup, the restore
and the failed run took, and, when a test failed, the last lines of the four services'
logs (the work directory that holds them is removed at the end; the backup scripts'
output is in the failing check's message)."""

import pytest

REPORT = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def report(request):
    """A dict the tests fill: "notes" (lines for the summary), "logs" (name -> last lines)."""
    return request.config.stash.setdefault(REPORT, {"notes": [], "logs": {}})


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    report = config.stash.get(REPORT, None)
    if not report:
        return
    if report["logs"]:
        terminalreporter.write_sep("-", "last lines of the services' logs (a test failed)")
        for name, tail in report["logs"].items():
            terminalreporter.write_line(f"--- {name}")
            terminalreporter.write_line(tail.rstrip("\n"))
    if report["notes"]:
        terminalreporter.write_sep("-", "backup round trip")
        for line in report["notes"]:
            terminalreporter.write_line(line)
