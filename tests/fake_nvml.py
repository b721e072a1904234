"""A stand-in for the pynvml module: the same names, units and errors, driven by the test."""

from __future__ import annotations

import time

NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
MESSAGES = {
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
}


class NVMLError(Exception):
    """Like pynvml's: carries the NVML return code in ``value``."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return MESSAGES.get(self.value, "Unknown Error")


class Utilization:
    def __init__(self, gpu: int, memory: int) -> None:
        self.gpu, self.memory = gpu, memory


class Memory:
    def __init__(self, used: int, total: int) -> None:
        self.used, self.total = used, total


class FakeNvml:
    """One GPU named "GPU-fake" at a steady load; faults are switched on by the test."""

    NVMLError = NVMLError

    def __init__(
        self,
        *,
        init_error: int | None = None,
        unsupported: tuple[str, ...] = (),
        reasons: int = 0,
        power_mw: int = 300_000,
        lost_after: int | None = None,
    ) -> None:
        self.init_error, self.unsupported, self.reasons = init_error, set(unsupported), reasons
        self.power_mw, self.lost_after = power_mw, lost_after
        self.reads = 0
        self.initialised = 0
        self.started = time.perf_counter()
        for name, value in globals().items():
            if name.startswith("NVML_"):
                setattr(self, name, value)

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.initialised -= 1

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:
        if uuid != "GPU-fake":
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return uuid

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        if index != 0:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return "GPU-fake"

    def _field(self, name: str, value: object) -> object:
        if name in self.unsupported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        self.reads += 1
        if self.lost_after is not None and self.reads > self.lost_after:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return value

    def nvmlDeviceGetUtilizationRates(self, handle: str) -> Utilization:
        return self._field("util", Utilization(87, 40))

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> Memory:
        return self._field("memory", Memory(12 * 2**30, 80 * 2**30))

    def nvmlDeviceGetPowerUsage(self, handle: str) -> int:
        return self._field("power", self.power_mw)

    def nvmlDeviceGetTemperature(self, handle: str, sensor: int) -> int:
        return self._field("temperature", 61)

    def nvmlDeviceGetClockInfo(self, handle: str, clock: int) -> int:
        return self._field("clocks", 1980 if clock == NVML_CLOCK_SM else 2619)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: str) -> int:
        return self._field("reasons", self.reasons)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: str) -> int:
        if "energy" in self.unsupported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return int((time.perf_counter() - self.started) * self.power_mw)  # mJ at a steady power
