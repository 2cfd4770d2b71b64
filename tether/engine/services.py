"""What the config checker needs to know about each service, taken from the connector registry."""

from __future__ import annotations

from tether.config.integration import ServiceInfo
from tether.connectors.registry import services


def service_infos() -> dict[str, ServiceInfo]:
    return {
        name: ServiceInfo(
            name=name,
            capabilities=tuple(spec.capability_names()),
            settings_model=spec.settings_model,
            required_credentials=tuple(f.name for f in spec.credential_fields if f.required),
            credential_fields=tuple(f.name for f in spec.credential_fields),
        )
        for name, spec in services().items()
    }
