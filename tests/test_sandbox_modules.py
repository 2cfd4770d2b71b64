"""Every sandbox is reachable by its service name, through imports the import graph can see."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tether
from tether.sandbox import SANDBOXES, sandbox_module


@pytest.mark.parametrize("service", sorted(SANDBOXES))
def test_each_service_names_its_sandbox_module(service: str) -> None:
    module = sandbox_module(service)
    assert module.__name__ == SANDBOXES[service]
    assert callable(module.serve) and callable(module.Scenario)


def test_an_unknown_service_has_no_sandbox() -> None:
    with pytest.raises(KeyError):
        sandbox_module("hubspot")


def test_modules_are_loaded_by_name_only_by_the_connector_registry_and_the_command_loader() -> None:
    # A module loaded by name is invisible to import-linter: allowed only where a name comes from
    # outside the code (connector entry points, the CLI's lazy command table).
    package = Path(tether.__file__).parent
    by_name = re.compile(r"\bimport_module\(|\b__import__\(")
    found = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if by_name.search(path.read_text())
    )
    assert found == ["cli/__init__.py", "connectors/registry.py"]
