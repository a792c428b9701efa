"""The virtual ESP32-S3: a board that runs models in TFLite-Micro behind a modelled serial line.

Reach it as the pyserial URL ``vdev://esp32s3`` (see ``protocol_vdev``) once
``toolkit.ports.register_url_handlers()`` has run, or out of process with ``espml sim``.
"""

from toolkit.virtual.device import BoardOptions, VirtualBoard

__all__ = ["BoardOptions", "VirtualBoard"]
