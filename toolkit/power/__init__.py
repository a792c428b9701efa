"""Power meters behind one interface (PPK2, on-board INA, replay), the inference-window
arithmetic, and the virtual PPK2 that stands beside the virtual board."""

from toolkit.power.errors import MarkerError, MeterNotFound, PowerError, SaturatedTrace, WrongDevice
from toolkit.power.meter import METERS, Meter, make_meter
from toolkit.power.trace import Trace
from toolkit.power.windows import EnergyResult, energy_per_inference, latency_windows, marker_windows

__all__ = ["METERS", "EnergyResult", "MarkerError", "Meter", "MeterNotFound", "PowerError", "SaturatedTrace", "Trace",
           "WrongDevice", "energy_per_inference", "latency_windows", "make_meter", "marker_windows"]
