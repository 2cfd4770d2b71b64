"""The operations registry: each command loads only the module that defines its operation."""

from __future__ import annotations

import subprocess
import sys

from tether import ops


def test_every_operation_is_found_in_the_module_the_registry_names() -> None:
    registered = {name: op.fn.__module__ for name, op in ops.operations().items()}
    assert registered == {name: f"tether.ops.{home}" for name, home in ops.HOMES.items()}


def test_a_plan_does_not_load_the_operations_it_does_not_run() -> None:
    probe = (
        "import sys; from tether import ops; ops.get('plan'); "
        "print(sorted(m for m in sys.modules if m.startswith('tether.ops.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert "tether.ops.workspace" in loaded
    for unneeded in ("tether.ops.setup", "tether.ops.doctor", "tether.ops.verify"):
        assert unneeded not in loaded, loaded


def test_an_unknown_operation_is_named() -> None:
    import pytest

    from tether.errors import NotFoundError

    with pytest.raises(NotFoundError, match="Unknown operation 'plann'"):
        ops.get("plann")
