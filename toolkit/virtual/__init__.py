"""The virtual ESP32-S3: the firmware's own code (device/, through its host port) on a modelled
chip, behind a modelled serial line.

Reach it as the pyserial URL ``vdev://esp32s3`` (see ``protocol_vdev``) once
``toolkit.ports.register_url_handlers()`` has run, or out of process with ``espml sim``.
``BoardOptions`` and ``VirtualBoard`` live in ``toolkit.virtual.device`` (imported on first use,
so building the host port with ``python -m toolkit.virtual.host_port`` loads nothing else).
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("BoardOptions", "VirtualBoard"):
        from toolkit.virtual import device

        return getattr(device, name)
    raise AttributeError(name)


__all__ = ["BoardOptions", "VirtualBoard"]
