"""NVIDIA GPUs through NVML: the energy counter (primary) and power integration (secondary).

`nvmlDeviceGetTotalEnergyConsumption` is a per-board counter in millijoules
since the driver loaded; it updates about every 100 ms (measured on an H200, see
design.md). Boards before Volta lack it and answer NVML_ERROR_NOT_SUPPORTED;
for those, `nvmlDeviceGetPowerUsage` (milliwatts) integrated over time is the
best there is, and on boards with the counter the same integration serves as a
cross-check.

`pynvml` (package nvidia-ml-py) is imported lazily, so that importing this
module costs nothing on machines without it. Every NVML call goes through
`NvmlSession.call`, the one place where NVML errors become `MeterError`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from joulebench.formats import DetectedGpu
from joulebench.measure.meters import DiscoveryOptions, MeterDiscovery, Probe
from joulebench.measure.meters.base import Meter, MeterError, PowerIntegrator

NVML_UPDATE_PERIOD_S = 0.1
MJ_PER_J = 1000
MW_PER_W = 1000
UUID_HASH_CHARS = 12
NVML_ERROR_NOT_SUPPORTED = 3  # nvml.h return code; part of NVML's stable ABI


def load_pynvml() -> ModuleType:
    """The real NVML binding; ImportError when nvidia-ml-py is not installed."""
    import pynvml

    return pynvml


def _text(value: Any) -> str:
    # Older bindings return bytes for names, UUIDs and versions.
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def nvml_errors(nvml: ModuleType, what: str) -> Iterator[None]:
    """Translate an NVML error into MeterError, keeping the vendor error as the cause."""
    try:
        yield
    except nvml.NVMLError as e:
        raise MeterError(f"NVML {what} failed: {e}") from e


def is_not_supported(error: MeterError) -> bool:
    """Whether NVML said the device lacks this feature (as opposed to failing to read it)."""
    return getattr(error.__cause__, "value", None) == NVML_ERROR_NOT_SUPPORTED


class NvmlSession:
    """One nvmlInit/nvmlShutdown pair. NVML counts inits, so several sessions may be open."""

    def __init__(self, nvml: ModuleType | None = None):
        self.nvml = nvml if nvml is not None else load_pynvml()
        self._open = False
        self.call("nvmlInit")
        self._open = True

    def call(self, function: str, *args: Any) -> Any:
        with nvml_errors(self.nvml, function):
            return getattr(self.nvml, function)(*args)

    def device_count(self) -> int:
        return int(self.call("nvmlDeviceGetCount"))

    def handle(self, index: int) -> Any:
        return self.call("nvmlDeviceGetHandleByIndex", index)

    def uuid(self, handle: Any) -> str:
        return _text(self.call("nvmlDeviceGetUUID", handle))

    def name(self, handle: Any) -> str:
        return _text(self.call("nvmlDeviceGetName", handle))

    def close(self) -> None:
        if self._open:
            self._open = False
            self.call("nvmlShutdown")

    def __enter__(self) -> NvmlSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def nvml_is_available(nvml: ModuleType | None = None) -> tuple[bool, str]:
    """Cheap probe: can NVML be loaded and initialised here? (available, why)."""
    try:
        session = NvmlSession(nvml)
    except ImportError:
        return False, "pynvml (package nvidia-ml-py) is not installed"
    except MeterError as e:
        return False, f"NVML could not be initialised ({e.__cause__ or e}): no usable NVIDIA driver here"
    with session:
        try:
            count = session.device_count()
            driver = _text(session.call("nvmlSystemGetDriverVersion"))
        except MeterError as e:
            return False, f"NVML initialised but could not list GPUs: {e}"
    return True, f"NVML initialised: driver {driver}, {count} GPU(s)"


# --------------------------------------------------------------------------- visible devices


@dataclass(frozen=True)
class VisibleDevices:
    indices: list[int]
    note: str


def visible_devices(session: NvmlSession, environ: Mapping[str, str] | None = None) -> VisibleDevices:
    """NVML indices of the GPUs this process may use, honouring CUDA_VISIBLE_DEVICES.

    CUDA reads the list up to its first invalid entry and ignores the rest; so
    does this. Entries are indices or (prefixes of) GPU UUIDs. MIG instances are
    not metered: NVML's energy counter belongs to the whole physical GPU.
    """
    environ = os.environ if environ is None else environ
    count = session.device_count()
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return VisibleDevices(list(range(count)), f"all {count} GPU(s) NVML sees (CUDA_VISIBLE_DEVICES unset)")
    uuids = [session.uuid(session.handle(i)).lower() for i in range(count)]
    indices: list[int] = []
    stopped = ""
    for entry in (e.strip() for e in listed.split(",")):
        index = _resolve_entry(entry, uuids)
        if index is None or index in indices:
            if entry.lower().startswith("mig-"):
                stopped = f"; stopped at {entry!r}: a MIG instance cannot be metered (the counter is per physical GPU)"
            elif entry:
                stopped = f"; stopped at {entry!r}, which names no further GPU (as CUDA does)"
            break
        indices.append(index)
    order = ""
    if len(indices) > 1 and environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
        order = "; indices read as NVML (PCI bus) order: set CUDA_DEVICE_ORDER=PCI_BUS_ID so CUDA agrees"
    return VisibleDevices(indices, f"CUDA_VISIBLE_DEVICES={listed!r} -> NVML indices {indices}{stopped}{order}")


def _resolve_entry(entry: str, uuids: Sequence[str]) -> int | None:
    if not entry:
        return None
    if entry.lstrip("-").isdigit():
        index = int(entry)
        return index if 0 <= index < len(uuids) else None
    wanted = entry.lower()
    if wanted.startswith("mig-"):
        return None
    if not wanted.startswith("gpu-"):
        wanted = "gpu-" + wanted
    found = [i for i, uuid in enumerate(uuids) if uuid.startswith(wanted)]
    return found[0] if len(found) == 1 else None  # an ambiguous prefix names no GPU


# --------------------------------------------------------------------------- meters


class _NvmlMeter(Meter):
    """What both NVML meters share: a session, the devices they sum, utilisation."""

    boundary = "gpu"
    update_period_s = NVML_UPDATE_PERIOD_S
    # A random per-board gain error of up to about +-5% (Yang et al., "Part-time Power Measurements:
    # nvidia-smi's Lack of Attention", SC'24, on A100 and H100 boards), for the counter and the power reading alike.
    accuracy_pct = 5.0
    accuracy_source = "per-board gain error of NVML energy and power readings, up to about 5% (Yang et al., SC'24)"

    def __init__(self, indices: Sequence[int], nvml: ModuleType | None = None):
        if not indices:
            raise ValueError("an NVML meter needs at least one GPU index")
        self._session = NvmlSession(nvml)
        self.indices = list(indices)
        try:
            self._handles = [self._session.handle(i) for i in self.indices]
        except MeterError:
            self._session.close()
            raise

    def read_power_w(self) -> float | None:
        return sum(self._power_mw(h) for h in self._handles) / MW_PER_W

    def _power_mw(self, handle: Any) -> int:
        return int(self._session.call("nvmlDeviceGetPowerUsage", handle))

    def gpu_utilization_pct(self) -> float | None:
        return gpu_utilization_pct(self._session, self._handles)

    def close(self) -> None:
        self.stop()
        self._session.close()

    def describe(self) -> dict:
        return {**super().describe(), "gpu_indices": self.indices}


class NvmlEnergyMeter(_NvmlMeter):
    """Primary GPU meter: the sum of the boards' energy counters."""

    id = "nvml-energy:gpu"
    method = "counter"

    def __init__(self, indices: Sequence[int], nvml: ModuleType | None = None):
        super().__init__(indices, nvml)
        # Origins in native millijoules, so differences stay exact integers.
        try:
            self._origin_mj = [self._energy_mj(h) for h in self._handles]
        except MeterError:
            self._session.close()
            raise

    def _energy_mj(self, handle: Any) -> int:
        return int(self._session.call("nvmlDeviceGetTotalEnergyConsumption", handle))

    def _since_origin_mj(self) -> list[int]:
        return [self._energy_mj(h) - o for h, o in zip(self._handles, self._origin_mj)]

    def read_energy_j(self) -> float:
        return sum(self._since_origin_mj()) / MJ_PER_J

    def per_device_energy_j(self) -> dict[str, float]:
        return {str(i): mj / MJ_PER_J for i, mj in zip(self.indices, self._since_origin_mj())}


class NvmlPowerMeter(_NvmlMeter):
    """Secondary GPU meter: each board's power reading integrated over time.

    NVML's power reading is itself an average over part of each 100 ms period
    (Yang et al., SC'24), so this under- or over-counts bursty loads; it is the
    primary meter only for boards without an energy counter.
    """

    id = "nvml-power:gpu"
    method = "integrated"

    def __init__(self, indices: Sequence[int], nvml: ModuleType | None = None, clock=None):
        super().__init__(indices, nvml)
        kwargs = {} if clock is None else {"clock": clock}
        self._integrators = [
            PowerIntegrator(lambda h=h: self._power_mw(h) / MW_PER_W, self.update_period_s, **kwargs)
            for h in self._handles
        ]

    def start(self) -> None:
        for integrator in self._integrators:
            integrator.start()

    def stop(self) -> None:
        for integrator in self._integrators:
            integrator.stop()

    def read_energy_j(self) -> float:
        return sum(self.per_device_energy_j().values())

    def per_device_energy_j(self) -> dict[str, float]:
        return {str(i): integ.energy_j() for i, integ in zip(self.indices, self._integrators)}


def gpu_utilization_pct(session: NvmlSession, handles: Sequence[Any]) -> float | None:
    """Mean GPU utilisation over the devices for the trace; None where NVML cannot say."""
    values = []
    for handle in handles:
        try:
            values.append(float(session.call("nvmlDeviceGetUtilizationRates", handle).gpu))
        except MeterError:
            continue
    return sum(values) / len(values) if values else None


# --------------------------------------------------------------------------- detection and discovery


def detect_gpus(nvml: ModuleType | None = None, environ: Mapping[str, str] | None = None) -> tuple[list[DetectedGpu], str | None]:
    """The visible GPUs' facts and the driver version; ([], None) without NVML."""
    try:
        session = NvmlSession(nvml)
    except (ImportError, MeterError):
        return [], None
    with session:
        driver = _optional(lambda: _text(session.call("nvmlSystemGetDriverVersion")))
        gpus = [_detect_one(session, i) for i in visible_devices(session, environ).indices]
    return gpus, driver


def _detect_one(session: NvmlSession, index: int) -> DetectedGpu:
    handle = session.handle(index)
    memory = _optional(lambda: session.call("nvmlDeviceGetMemoryInfo", handle).total / 2**30)
    limit_mw = _optional(lambda: session.call("nvmlDeviceGetEnforcedPowerLimit", handle))
    if limit_mw is None:
        limit_mw = _optional(lambda: session.call("nvmlDeviceGetPowerManagementLimit", handle))
    uuid = _optional(lambda: session.uuid(handle))
    return DetectedGpu(
        index=index,
        name=session.name(handle),
        memory_gib=round(memory, 2) if memory is not None else None,
        power_limit_w=limit_mw / MW_PER_W if limit_mw is not None else None,
        # A prefix of the hash identifies a board across runs without publishing its UUID.
        uuid_hash=hashlib.sha256(uuid.encode()).hexdigest()[:UUID_HASH_CHARS] if uuid else None,
    )


def _optional(read):
    try:
        return read()
    except MeterError:
        return None


@dataclass
class GpuCapabilities:
    """What each visible GPU can be metered with."""

    with_counter: list[int] = field(default_factory=list)
    with_power: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def probe_capabilities(session: NvmlSession, indices: Sequence[int]) -> GpuCapabilities:
    caps = GpuCapabilities()
    for index in indices:
        handle = session.handle(index)
        label = f"GPU {index} ({session.name(handle)})"
        try:
            session.call("nvmlDeviceGetTotalEnergyConsumption", handle)
            caps.with_counter.append(index)
        except MeterError as e:
            kind = "not supported by this board" if is_not_supported(e) else f"unreadable: {e}"
            caps.lines.append(f"{label}: energy counter {kind}")
        try:
            session.call("nvmlDeviceGetPowerUsage", handle)
            caps.with_power.append(index)
        except MeterError as e:
            caps.lines.append(f"{label}: power reading unreadable: {e}")
    return caps


def discover(nvml: ModuleType | None = None, environ: Mapping[str, str] | None = None) -> MeterDiscovery:
    """Open the best NVML meters for the visible GPUs; explain what was not usable."""
    available, why = nvml_is_available(nvml)
    if not available:
        return MeterDiscovery.nothing("gpu", f"NVML energy counter: {why}")
    with NvmlSession(nvml) as session:
        visible = visible_devices(session, environ)
        looked = [f"NVML: {why}; {visible.note}"]
        if not visible.indices:
            return MeterDiscovery.nothing("gpu", "NVML: no GPU is visible to this process", looked)
        caps = probe_capabilities(session, visible.indices)
    looked += [f"NVML: {line}" for line in caps.lines]
    every, counted, powered = visible.indices, caps.with_counter, caps.with_power

    if counted == every:
        primary: _NvmlMeter = NvmlEnergyMeter(every, nvml)
        checks: list[Meter] = [NvmlPowerMeter(powered, nvml)] if powered == every else []
        looked.append(f"NVML energy counter: usable on GPU(s) {every} -> primary gpu meter {primary.id}")
    elif powered == every:
        # A boundary total is only as good as its weakest part: with any board
        # lacking the counter, power integration over all of them is primary.
        primary = NvmlPowerMeter(every, nvml)
        checks = [NvmlEnergyMeter(counted, nvml)] if counted else []
        lacking = [i for i in every if i not in counted]
        looked.append(
            f"NVML energy counter: missing on GPU(s) {lacking} -> power integration ({primary.id}) is the primary "
            f"gpu meter for all visible GPUs"
            + (f"; the counter on GPU(s) {counted} is kept as a cross-check" if counted else "")
        )
    else:
        unreadable = [i for i in every if i not in counted and i not in powered] or every
        reason = f"NVML: GPU(s) {unreadable} have neither a readable energy counter nor a power reading"
        return MeterDiscovery.nothing("gpu", reason, looked)
    return MeterDiscovery(
        meters=[primary], cross_checks=checks, looked_for=looked, gpu_utilization=primary.gpu_utilization_pct
    )


def probe(options: DiscoveryOptions) -> MeterDiscovery:
    return discover(options.nvml, options.environ)


PROBE = Probe("NVML", ("gpu",), probe)
