"""Load generators for the certification's load step: switch a known load on and off.

`GpuMatmulLoad` keeps every visible GPU busy with bf16 matmuls; `CpuBusyLoad`
spins one process per core. Both run until `stop()`; neither computes anything
anyone reads. torch is imported only when a GPU load starts.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from typing import Protocol


class Load(Protocol):
    description: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _spin(stop) -> None:  # a child process: burn one core until told to stop
    x = 0
    while not stop.is_set():
        for _ in range(10_000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF


class CpuBusyLoad:
    def __init__(self, processes: int | None = None):
        self.processes = processes or os.cpu_count() or 1
        self.description = f"CPU busy loop, {self.processes} process(es)"
        self._ctx = mp.get_context("spawn")  # no fork of a process that may hold CUDA or threads
        self._stop = None
        self._workers: list = []

    def start(self) -> None:
        self._stop = self._ctx.Event()
        self._workers = [self._ctx.Process(target=_spin, args=(self._stop,), daemon=True) for _ in range(self.processes)]
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        if self._stop is None:
            return
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)
        self._workers = []
        self._stop = None


class GpuMatmulLoad:
    def __init__(self, size: int = 8192, devices: list[int] | None = None):
        self.size = size
        self.devices = devices
        self.description = f"GPU bf16 matmul loop, {size}x{size}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def _loop(self, index: int) -> None:
        import torch

        try:
            device = torch.device("cuda", index)
            a = torch.randn(self.size, self.size, device=device, dtype=torch.bfloat16)
            b = torch.randn(self.size, self.size, device=device, dtype=torch.bfloat16)
            while not self._stop.is_set():
                for _ in range(8):
                    a = (a @ b).clamp_(-1, 1)  # clamp keeps the values finite forever
                torch.cuda.synchronize(device)
        except BaseException as e:  # surfaced by stop(): a load that never ran is no load step
            self._errors.append(e)

    def start(self) -> None:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("GPU load requested but CUDA is not available")
        indices = self.devices if self.devices is not None else list(range(torch.cuda.device_count()))
        self._stop.clear()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in indices]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []
        if self._errors:
            raise RuntimeError(f"the GPU load failed: {self._errors[0]!r}")


def default_load(kind: str) -> Load:
    """A GPU matmul loop on a GPU machine with CUDA, a CPU busy loop otherwise."""
    if kind == "gpu":
        try:
            import torch

            if torch.cuda.is_available():
                return GpuMatmulLoad()
        except ImportError:
            pass
    return CpuBusyLoad()
