"""Board farms through labgrid: a labgrid place is a port (``labgrid://PLACE``), acquired through
the coordinator, spoken to through its ``NetworkSerialPort`` (RFC 2217), power-cycled through its
``NetworkPowerPort`` when it has one, and released afterwards. Needs the ``farm`` extra."""
