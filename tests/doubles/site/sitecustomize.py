"""Loaded by Python at start-up when this folder is on PYTHONPATH: the emulated I2C bus in a subprocess.

``STRETCHBOX_EMULATED_I2C`` holds JSON: ``{"chip": "ssd1306", "address": 60, "port": 1,
"nack_rate": 0.05, "eio_rate": 0, "seed": 1, "panel_log": "/path", "fault_log": "/path"}``.
Every change of what the panel shows is appended to ``panel_log`` as a JSON line
``{"t": monotonic, "lit": bool, "hex": visible bytes}``, so a test reads what the glass
showed and when; every transaction the bus refused, to ``fault_log`` as ``{"t": monotonic,
"errno": 121 or 5, "control": 0 (command) or 64 (data)}``, so a test knows the faults happened.
``"absent": true`` leaves the address empty (a panel not connected).
"""

import json
import os
import sys

_spec = os.environ.get("STRETCHBOX_EMULATED_I2C")
if _spec:
    import time

    import smbus2

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    from tests.doubles.i2c_bus import Board, Bus, Panel

    _options = json.loads(_spec)
    _panel = Panel(_options.get("chip", "ssd1306"), _options.get("width", 128), _options.get("height", 64))
    _log_path = _options.get("panel_log")
    _last = [None]

    def _record(control, payload, _receive=_panel.receive):
        _receive(control, payload)
        shown = (_panel.lit, _panel.visible())
        if _log_path and shown != _last[0]:
            _last[0] = shown
            with open(_log_path, "a") as log:
                log.write(json.dumps({"t": time.monotonic(), "lit": shown[0], "hex": shown[1].hex()}) + "\n")

    _panel.receive = _record
    _panels = {} if _options.get("absent") else {_options.get("address", 0x3C): _panel}
    _board = Board({_options.get("port", 1): Bus(_panels, nack_rate=_options.get("nack_rate", 0.0),
                                                 eio_rate=_options.get("eio_rate", 0.0),
                                                 seed=_options.get("seed", 0))})
    _fault_log = _options.get("fault_log")
    if _fault_log:
        _bus = _board.buses[_options.get("port", 1)]

        def _transfer(address, control, payload, _transfer=_bus.transfer):
            try:
                _transfer(address, control, payload)
            except OSError as exc:
                with open(_fault_log, "a") as log:
                    log.write(json.dumps({"t": time.monotonic(), "errno": exc.errno, "control": control}) + "\n")
                raise

        _bus.transfer = _transfer
    smbus2.SMBus = _board.smbus_class()
