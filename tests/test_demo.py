"""`make demo` as a new user runs it, then the README's five-minute tour, line by line.

The tour is read from README.md itself, so a command or a promise there that stops being true fails
here: every `$` line runs (in-process, as a user would type it) and must exit 0, and where a comment
quotes what the command prints ("…"), the output must say it.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from conftest import Result, run_tether

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE_FILES = (
    "tether.toml", ".sops.yaml", "alerts.yaml", "integrations", "mappings", "secrets", "specs", "demo"
)  # fmt: skip
TOUR = re.compile(r"## A five-minute tour.*?```console\n(.*?)```", re.S)
# Lines of the tour that the test cannot type for the user, and where they are proven instead.
NOT_TYPED = {
    "sandbox": "the commands after it read the state only; the sandboxes are tested in test_*_sandbox",
    "monitor": "a full-screen TUI: tests/test_monitor_real.py drives it on a real state",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    root = tmp_path_factory.mktemp("demo")
    for name in WORKSPACE_FILES:
        source, target = ROOT / name, root / name
        if source.exists():
            shutil.copytree(source, target) if source.is_dir() else shutil.copy(source, target)
    return root, run_tether("-w", str(root), "demo")


def test_the_demo_syncs_every_service_of_the_demo_workspace(demo: tuple[Path, Result]) -> None:
    root, result = demo
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(root / "state" / "tether.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT i.service, e.status, e.records_fetched, e.error FROM executions e "
            "JOIN integrations i ON i.id = e.integration_id"
        ).fetchall()
    synced = {service for service, status, fetched, _ in rows if status != "failed" and fetched > 0}
    demo_services = {
        line.split(":", 1)[1].strip()
        for path in (root / "integrations").glob("*.yaml")
        for line in path.read_text().splitlines()
        if line.startswith("service:")
    }
    assert {"shopify", "bigquery", "redshift", "trackstar", "brewman"} <= demo_services
    assert synced == demo_services, f"not synced: {demo_services - synced}; {rows}"
    assert "redshift" in result.stdout


def tour() -> list[tuple[str, str]]:
    """(command, comment) for each `$` line of the README's tour."""
    match = TOUR.search((ROOT / "README.md").read_text())
    assert match, "README.md has no five-minute tour"
    lines = []
    for line in match.group(1).splitlines():
        if line.startswith("$ "):
            command, _, comment = line[2:].partition("#")
            lines.append((command.strip(), comment.strip()))
    return lines


def test_the_readme_tour_runs_as_written_on_the_demo_state(demo: tuple[Path, Result]) -> None:
    root, result = demo
    assert result.exit_code == 0, result.output
    ran = []
    for command, comment in tour():
        words = shlex.split(command)
        if command == "make demo":
            continue  # the fixture ran it (`tether demo` is what `make demo` runs)
        if words[0].endswith("/tether"):
            if words[1] in NOT_TYPED:
                continue
            asks_yes = "asks for yes" in comment
            seen = run_tether("-w", str(root), *words[1:], input="yes\n", terminal=asks_yes)
            assert seen.exit_code == 0, f"`{command}` exited {seen.exit_code}:\n{seen.output}"
            out = seen.output
        else:  # a shell line of the tour, such as appending a mapping row
            shell = subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True)
            assert shell.returncode == 0, f"`{command}`: {shell.stderr}"
            out = shell.stdout
        for promise in re.findall(r'"([^"]+?)\s*…?"', comment):
            assert promise in out, f"`{command}` promises {promise!r}; it printed:\n{out}"
        ran.append((words[1] if words[0].endswith("/tether") else words[0], out))
    outputs = dict(ran)
    assert {"status", "executions", "errors", "items", "plan", "apply", "retry"} <= outputs.keys()
    # the mapping row the tour adds is applied and the retry loads items it had failed
    assert "Apply complete!" in outputs["apply"]
    loaded = re.search(r"(\d+) now loaded", outputs["retry"])
    assert loaded and int(loaded.group(1)) > 0, outputs["retry"]
    assert "failed" in outputs["items"] and "0 of 0" not in outputs["items"]
