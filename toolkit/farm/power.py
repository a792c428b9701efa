"""A place's power switch, driven by labgrid's own ``NetworkPowerDriver`` (any of its backends:
``simplerest``, ``rest``, PDUs ...) from the place's exported ``NetworkPowerPort``."""

from __future__ import annotations

from toolkit.errors import PortError

OFF_S = 0.5  # the board stays unpowered this long (its capacitors drain; a relay needs no more)


class PowerSwitch:
    """Cut and restore one place's power."""

    def __init__(self, place: str, port: dict, off_s: float = OFF_S) -> None:
        from labgrid import Target
        from labgrid.driver import NetworkPowerDriver
        from labgrid.resource import NetworkPowerPort

        self.place = place
        self.target = Target(f"espml-{place}")
        NetworkPowerPort(self.target, "power", model=port["model"], host=port["host"], index=str(port.get("index", 0)))
        self.driver = NetworkPowerDriver(self.target, "power", delay=float(off_s))
        self.target.activate(self.driver)

    def cycle(self) -> None:
        try:
            self.driver.cycle()
        except Exception as exc:  # noqa: BLE001 - the backend's HTTP or socket error, whatever it is
            raise PortError(f"the power switch of labgrid place {self.place} failed: {exc}",
                            "check the power port of the place (labgrid-client -p PLACE power cycle)") from None
