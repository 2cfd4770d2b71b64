"""The service catalogue the config checker needs, taken from the connector registry.

Building it imports every connector module (11 of them, ~0.1 s: their settings models, HTTP
clients, REST specs). A plan whose files are all in the check cache needs none of that, only
each service's capabilities, credential fields and settings schema, so the catalogue is kept in
the state folder's cache beside the checks and trusted while nothing it came from changed: the
source files of ``tether.connectors`` and ``tether.config`` (by size and mtime, as the check
cache stamps its code), tether's and pydantic's versions, and the connector entry points. A
third-party connector (an entry point outside Tether) could change without any of those
changing, so with one installed the catalogue is always built afresh.
"""

from __future__ import annotations

import contextlib
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

import orjson
import pydantic

from tether import __version__
from tether.config.integration import ServiceInfo
from tether.connectors.registry import BUILTIN, GROUP, connector_class, services

FILE_NAME = "services.json"
FORMAT = 1


def service_infos(cache_folder: Path | None = None) -> dict[str, ServiceInfo]:
    """Every known service as the checker sees it; from ``cache_folder`` when still true there."""
    stamp = _stamp() if cache_folder is not None and _cache_enabled() else None
    if stamp is not None and cache_folder is not None:
        cached = _read(cache_folder / FILE_NAME, stamp)
        if cached is not None:
            return cached
    infos = {
        name: ServiceInfo(
            name=name,
            capabilities=tuple(spec.capability_names()),
            required_credentials=tuple(f.name for f in spec.credential_fields if f.required),
            credential_fields=tuple(f.name for f in spec.credential_fields),
            settings_id=f"{spec.settings_model.__module__}.{spec.settings_model.__qualname__}",
            settings_schema=spec.settings_model.model_json_schema(),
            settings_source=getattr(sys.modules.get(spec.settings_model.__module__), "__file__", None),
            load_settings_model=_SettingsModel(name),
        )
        for name, spec in services().items()
    }  # fmt: skip
    if stamp is not None and cache_folder is not None:
        _write(cache_folder / FILE_NAME, stamp, infos)
    return infos


class _SettingsModel:
    """Loads a service's settings model on first use (importing its connector)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self) -> type[pydantic.BaseModel]:
        return connector_class(self.service).spec.settings_model


def _cache_enabled() -> bool:
    return os.environ.get("TETHER_NO_CACHE", "") in ("", "0")


def _stamp() -> str | None:
    """What the catalogue was built from, or ``None`` when it cannot be stamped (a plugin)."""
    plugins = [
        f"{ep.name}={ep.value}" for ep in entry_points(group=GROUP) if ep.value != BUILTIN.get(ep.name)
    ]  # fmt: skip
    if plugins:
        return None
    import tether.config
    import tether.connectors

    parts = [str(FORMAT), __version__, pydantic.VERSION, repr(sorted(BUILTIN.items()))]
    for package in (tether.connectors, tether.config):
        for folder in package.__path__:
            for where, dirs, files in sorted(os.walk(folder)):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for name in sorted(f for f in files if f.endswith(".py")):
                    path = os.path.join(where, name)
                    stat = os.stat(path)
                    parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def _read(path: Path, stamp: str) -> dict[str, ServiceInfo] | None:
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(document, dict) or document.get("stamp") != stamp:
        return None
    try:
        return {
            entry["name"]: ServiceInfo(
                name=entry["name"],
                capabilities=tuple(entry["capabilities"]),
                required_credentials=tuple(entry["required_credentials"]),
                credential_fields=tuple(entry["credential_fields"]),
                settings_id=entry["settings_id"],
                settings_schema=entry["settings_schema"],
                settings_source=entry["settings_source"],
                load_settings_model=_SettingsModel(entry["name"]),
            )
            for entry in document["services"]
        }
    except (KeyError, TypeError):  # a cache from another shape: rebuild it
        return None


def _write(path: Path, stamp: str, infos: dict[str, ServiceInfo]) -> None:
    document = {
        "stamp": stamp,
        "services": [
            {
                "name": i.name,
                "capabilities": i.capabilities,
                "required_credentials": i.required_credentials,
                "credential_fields": i.credential_fields,
                "settings_id": i.settings_id,
                "settings_schema": i.settings_schema,
                "settings_source": i.settings_source,
            }
            for i in infos.values()
        ],
    }
    with contextlib.suppress(OSError):  # a read-only state folder: no cache, same answers
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(orjson.dumps(document))
        os.replace(partial, path)
