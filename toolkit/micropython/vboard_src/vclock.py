# The virtual board's `time`: the real clock, less the host's time inside the TFLM stand-in, plus
# the board cost model's Invoke() time (so time.ticks_us measures what the board would take).
import time as _time

_skew = 0
sleep, sleep_ms, sleep_us = _time.sleep, _time.sleep_ms, _time.sleep_us
ticks_add, ticks_diff = _time.ticks_add, _time.ticks_diff
time, localtime, gmtime, mktime = _time.time, _time.localtime, _time.gmtime, _time.mktime


def ticks_us():
    return _time.ticks_add(_time.ticks_us(), _skew)


def ticks_ms():
    return _time.ticks_add(_time.ticks_ms(), _skew // 1000)


def ticks_cpu():
    return ticks_us()


def spend(modelled_us, since_real_us, until_real_us=None):
    """The host's time from ``since_real_us`` to ``until_real_us`` (default: now) vanishes;
    ``modelled_us`` pass instead."""
    global _skew
    until = _time.ticks_us() if until_real_us is None else until_real_us
    _skew += modelled_us - _time.ticks_diff(until, since_real_us)


def real_us():
    return _time.ticks_us()
