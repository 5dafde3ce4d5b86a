"""A test double of the pynvml module: the same function names, scripted GPUs.

Pass a `FakeNvml` wherever joulebench takes `nvml=` (meters, discovery,
hardware detection). Tests set each `FakeGpu`'s energy and power between reads.
A value of None makes the call answer NVML_ERROR_NOT_SUPPORTED, as a board
without that feature does; `fail` makes named calls raise a chosen NVML code.
Calls before nvmlInit raise NVML_ERROR_UNINITIALIZED, like the real library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

# Return codes from nvml.h (the values pynvml exposes under the same names).
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
}


class FakeNVMLError(Exception):
    """Shaped like pynvml.NVMLError: the nvml.h code in `.value`."""

    def __init__(self, value: int):
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


@dataclass
class FakeGpu:
    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-1111-2222-3333-444444444444"
    memory_total_bytes: int = 81559 * 2**20
    energy_mj: int | None = 0
    power_mw: int | None = 100_000
    utilization_gpu_pct: int | None = 0
    enforced_power_limit_mw: int | None = 700_000
    management_power_limit_mw: int | None = 700_000
    fail: dict[str, int] = field(default_factory=dict)  # NVML function name -> error code to raise


@dataclass(frozen=True)
class FakeHandle:
    index: int


class FakeNvml:
    """Stands in for `import pynvml`; attributes mirror the real module's names."""

    NVMLError = FakeNVMLError
    NVML_ERROR_UNINITIALIZED = NVML_ERROR_UNINITIALIZED
    NVML_ERROR_INVALID_ARGUMENT = NVML_ERROR_INVALID_ARGUMENT
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_ERROR_GPU_IS_LOST = NVML_ERROR_GPU_IS_LOST

    def __init__(self, gpus: list[FakeGpu] | None = None, driver: str = "580.159.04", init_error: int | None = None):
        self.gpus = list(gpus or [])
        self.driver = driver
        self.init_error = init_error
        self.init_count = 0
        self.calls: list[str] = []

    # -- library

    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        if self.init_error is not None:
            raise FakeNVMLError(self.init_error)
        self.init_count += 1

    def nvmlShutdown(self) -> None:
        self.calls.append("nvmlShutdown")
        self._initialised()
        self.init_count -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._initialised()
        return self.driver

    def nvmlDeviceGetCount(self) -> int:
        self._initialised()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeHandle:
        self._initialised()
        if not 0 <= index < len(self.gpus):
            raise FakeNVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return FakeHandle(index)

    # -- devices

    def nvmlDeviceGetName(self, handle: FakeHandle) -> str:
        return self._device("nvmlDeviceGetName", handle).name

    def nvmlDeviceGetUUID(self, handle: FakeHandle) -> str:
        return self._device("nvmlDeviceGetUUID", handle).uuid

    def nvmlDeviceGetMemoryInfo(self, handle: FakeHandle, version=None) -> SimpleNamespace:
        total = self._device("nvmlDeviceGetMemoryInfo", handle).memory_total_bytes
        return SimpleNamespace(total=total, free=total, used=0)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeHandle) -> int:
        return self._supported(self._device("nvmlDeviceGetTotalEnergyConsumption", handle).energy_mj)

    def nvmlDeviceGetPowerUsage(self, handle: FakeHandle) -> int:
        return self._supported(self._device("nvmlDeviceGetPowerUsage", handle).power_mw)

    def nvmlDeviceGetUtilizationRates(self, handle: FakeHandle) -> SimpleNamespace:
        gpu = self._supported(self._device("nvmlDeviceGetUtilizationRates", handle).utilization_gpu_pct)
        return SimpleNamespace(gpu=gpu, memory=0)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeHandle) -> int:
        return self._supported(self._device("nvmlDeviceGetEnforcedPowerLimit", handle).enforced_power_limit_mw)

    def nvmlDeviceGetPowerManagementLimit(self, handle: FakeHandle) -> int:
        return self._supported(self._device("nvmlDeviceGetPowerManagementLimit", handle).management_power_limit_mw)

    # -- helpers

    def _initialised(self) -> None:
        if self.init_count <= 0:
            raise FakeNVMLError(NVML_ERROR_UNINITIALIZED)

    def _device(self, function: str, handle: FakeHandle) -> FakeGpu:
        self.calls.append(function)
        self._initialised()
        if not isinstance(handle, FakeHandle):
            raise TypeError(f"{function} expects a device handle, got {handle!r}")
        gpu = self.gpus[handle.index]
        if function in gpu.fail:
            raise FakeNVMLError(gpu.fail[function])
        return gpu

    @staticmethod
    def _supported(value):
        if value is None:
            raise FakeNVMLError(NVML_ERROR_NOT_SUPPORTED)
        return value
