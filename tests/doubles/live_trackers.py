"""Test doubles for the tools live estimators wrap: scripted trackers that report what the test says.

Each imitates only what the joulebench adapter touches of the real tool
(CodeCarbon 3.3.2, carbontracker 2.4.7, eco2AI 0.3.12) and answers with the
kWh a test scripts; none of these numbers is a measurement.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

# --------------------------------------------------------------------------- CodeCarbon


class CPU:  # named as CodeCarbon's class: the adapter reads the hardware kind from the class name
    def __init__(self, mode: str, tdp: float | None = None):
        self._mode = mode
        self._tdp = tdp


class GPU:
    pass


class RAM:
    def __init__(self, force_ram_power: float | None = None):
        self._force_ram_power = force_ram_power


@dataclasses.dataclass
class ScriptedEmissionsData:
    cpu_energy: float
    gpu_energy: float
    ram_energy: float
    energy_consumed: float
    codecarbon_version: str = "3.3.2"
    duration: float = 1.0


class ScriptedEmissionsTracker:
    """Stands in for codecarbon.OfflineEmissionsTracker; `produce_result=False` imitates its swallowed errors."""

    def __init__(self, *, cpu_kwh=0.001, gpu_kwh=0.002, ram_kwh=0.0005, cpu_mode="cpu_load", gpu=True,
                 force_ram_power=None, produce_result=True, total_kwh=None):
        self.kwh = (cpu_kwh, gpu_kwh, ram_kwh)
        self.total_kwh = total_kwh if total_kwh is not None else cpu_kwh + gpu_kwh + ram_kwh
        self._hardware = [RAM(force_ram_power), CPU(cpu_mode, tdp=8 if cpu_mode != "intel_rapl" else None)]
        if gpu:
            self._hardware.append(GPU())
        self._conf = {"hardware": ["RAM()", f"CPU({cpu_mode})"] + (["GPU()"] if gpu else [])}
        self.produce_result = produce_result
        self.calls: list[str] = []

    def get_detected_hardware(self):
        self.calls.append("get_detected_hardware")
        return {"cpu_count": 2}

    def start(self):
        self.calls.append("start")

    def stop(self):
        self.calls.append("stop")
        if self.produce_result:
            cpu, gpu, ram = self.kwh
            self.final_emissions_data = ScriptedEmissionsData(cpu, gpu, ram, self.total_kwh)
        return None


# --------------------------------------------------------------------------- carbontracker


class NvidiaGPU:
    pass


class GenericCPU:
    pass


class ScriptedComponent:
    def __init__(self, name: str, kwh: float, handler: object):
        self.name, self.kwh, self.handler = name, kwh, handler

    def energy_usage(self, epoch_times):
        return [self.kwh for _ in epoch_times]

    def devices(self):
        return [f"scripted {self.name}"]


class ScriptedCarbonTrackerThread:
    def __init__(self, components):
        self.components = components
        self.epoch_times: list[float] = []
        self.stopped = False

    def epoch_end(self):
        self.epoch_times.append(1.5)

    def stop(self):
        self.stopped = True


class ScriptedStopper:
    def __init__(self):
        self.was_set = False

    def set(self):
        self.was_set = True


class ScriptedCarbonTracker:
    """Stands in for carbontracker.tracker.CarbonTracker; `dies=True` imitates its ignore_errors self-deletion."""

    def __init__(self, *, gpu_kwh=0.002, cpu_kwh=0.001, dies=False):
        components = []
        if gpu_kwh is not None:
            components.append(ScriptedComponent("gpu", gpu_kwh, NvidiaGPU()))
        if cpu_kwh is not None:
            components.append(ScriptedComponent("cpu", cpu_kwh, GenericCPU()))
        self.tracker = ScriptedCarbonTrackerThread(components)
        self.intensity_stopper = ScriptedStopper()
        self.deleted = False
        self.dies = dies

    def epoch_start(self):
        if self.dies:
            self.deleted = True


# --------------------------------------------------------------------------- eco2AI


class ScriptedEco2aiTracker:
    """Stands in for eco2ai.Tracker: on stop it appends its row to the CSV file it was given, as eco2AI does."""

    def __init__(self, file_name: str, *, kwh: float = 0.003, write=True):
        self.file_name, self.kwh, self.write = Path(file_name), kwh, write
        self.id = "scripted-eco2ai-run"

    def start(self):
        pass

    def stop(self):
        if not self.write:
            return
        with self.file_name.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "project_name", "duration(s)", "power_consumption(kWh)"])
            writer.writeheader()
            writer.writerow({"id": "another-run", "project_name": "x", "duration(s)": "9", "power_consumption(kWh)": "9"})
            writer.writerow({"id": self.id, "project_name": "joulebench", "duration(s)": "1.5",
                             "power_consumption(kWh)": repr(self.kwh)})
