"""Execution modes: how a case's work runs — eager or compiled, in which float math, in which memory
layout — chosen per run (``--compile``, ``--precision``, ``--memory-format``) and applied by the
harness to every workload that declares it takes them (``@workload(modes=...)``).

Each axis has a reference value (eager, fp32, contiguous). A case's parameters, and so its id and
label, name only the values that differ from it (``conv2d/…/mode=fwd/compile=default/float32``):
results recorded before the axes existed keep their ids, and the reference case of a mode is the
case with those parameters left out. **fp32 means fp32**: every float32 case runs with TF32 off
(cuDNN's own default is on), unless its precision is ``tf32``; what a case really ran is recorded
in its ``execution`` section on every device.

Torch is imported only where a mode is applied: labels and record readers use the names.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

AXES: dict[str, tuple[str, ...]] = {
    "compile": ("off", "default", "max-autotune", "reduce-overhead"),
    "precision": ("fp32", "tf32", "amp-bf16", "amp-fp16"),
    "memory_format": ("contiguous", "channels_last"),
}
REFERENCE = {axis: values[0] for axis, values in AXES.items()}
# how far a mode's result may lie from the reference's, as max |mode - reference| / max |reference|:
# about the rounding of the narrowest math in the mode (tf32 and fp16 keep 10 bits of mantissa,
# bf16 7) grown over long sums, and reordered fp32 sums for compile and channels_last
TOLERANCE = {
    "compile": 1e-3,
    "tf32": 1e-2,
    "amp-fp16": 1e-2,
    "amp-bf16": 5e-2,
    "channels_last": 1e-4,
}
AUTOCAST = {"amp-bf16": "bfloat16", "amp-fp16": "float16"}
# what torch.compile runs at run time: Inductor's C++ kernels on the CPU, Triton's launchers on CUDA
COMPILERS = {"cpu": ("c++", "g++", "clang++"), "cuda": ("cc", "gcc", "clang")}


# torch's float32 math switches (torch >= 2.9; the older allow_tf32 flags are never mixed with them,
# which torch refuses): cuBLAS matrix products, cuDNN convolutions and recurrent layers
FLOAT32_MATH = ("cuda.matmul", "cudnn.conv", "cudnn.rnn")


def float32_math() -> dict[str, str]:
    """Each switch's value ("ieee": full fp32; "tf32"; "none": its parent's)."""
    import torch  # noqa: PLC0415

    return {name: _switch(torch, name).fp32_precision for name in FLOAT32_MATH}


def set_float32_math(value: str | Mapping[str, str]) -> None:
    """Set every switch to ``value`` ("ieee" or "tf32"), or each to its own (as read)."""
    import torch  # noqa: PLC0415

    for name in FLOAT32_MATH:
        _switch(torch, name).fp32_precision = value if isinstance(value, str) else value[name]


def _switch(torch: Any, name: str) -> Any:
    backend, kind = name.split(".")
    return getattr(getattr(torch.backends, backend), kind)


@dataclass(frozen=True)
class Mode:
    compile: str = "off"
    precision: str = "fp32"
    memory_format: str = "contiguous"

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Mode:
        """The mode a case's parameters name (an axis left out is at its reference)."""
        return cls(**{axis: str(params[axis]) for axis in AXES if axis in params})

    def params(self) -> dict[str, str]:
        """The values that differ from the reference: what goes into a case's parameters."""
        return {axis: value for axis, value in self.values().items() if value != REFERENCE[axis]}

    def values(self) -> dict[str, str]:
        return asdict(self)

    @property
    def is_reference(self) -> bool:
        return not self.params()

    @property
    def tolerance(self) -> float:
        """The drift allowed from the reference: that of the mode's loosest part."""
        parts = [self.precision, self.memory_format] + (["compile"] if self.compile != "off" else [])
        return max([TOLERANCE[part] for part in parts if part in TOLERANCE], default=0.0)

    def unsupported(self, device_type: str, dtype: str) -> str | None:
        """Why this mode cannot run a ``dtype`` case on ``device_type`` (one line), or None."""
        if self.precision != "fp32" and dtype != "float32":
            return f"precision {self.precision} applies to float32 cases (this one is {dtype})"
        if self.precision == "tf32" and device_type != "cuda":
            return "tf32 is a CUDA math mode"
        if self.compile == "reduce-overhead" and device_type != "cuda":
            return "compile reduce-overhead captures CUDA graphs: CUDA only"
        if self.compile != "off" and not any(shutil.which(name) for name in COMPILERS[device_type]):
            return f"torch.compile needs a compiler at run time ({' or '.join(COMPILERS[device_type])}): none on PATH"
        return None

    # -- applied to torch (by RunContext, for workloads) ----------------------------------------------
    @contextlib.contextmanager
    def math(self) -> Iterator[None]:
        """fp32 or tf32 matrix math for the case, as asked, restored afterwards."""
        saved = float32_math()
        set_float32_math("tf32" if self.precision == "tf32" else "ieee")
        try:
            yield
        finally:
            set_float32_math(saved)

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        import torch  # noqa: PLC0415

        if self.precision not in AUTOCAST:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=getattr(torch, AUTOCAST[self.precision]))

    def laid_out(self, tensor: torch.Tensor) -> torch.Tensor:
        """A 4-D tensor in channels-last layout where the mode asks for it; anything else as it is."""
        import torch  # noqa: PLC0415

        if self.memory_format == "channels_last" and tensor.dim() == 4:
            return tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def module(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` in the mode's layout (its 4-D weights), compiled where the mode asks."""
        import torch  # noqa: PLC0415

        if self.memory_format == "channels_last":
            module = module.to(memory_format=torch.channels_last)
        if self.compile == "off":
            return module
        return torch.compile(module, mode=None if self.compile == "default" else self.compile)  # type: ignore[return-value]


def tensors(value: Any) -> list[torch.Tensor]:
    """The tensors (and numbers, as tensors) of a result, in order: what :func:`drift` compares."""
    import torch  # noqa: PLC0415

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, bool | int | float):
        return [torch.tensor(float(value))]
    if isinstance(value, Mapping):
        return [t for key in sorted(value, key=str) for t in tensors(value[key])]
    if isinstance(value, list | tuple):
        return [t for item in value for t in tensors(item)]
    return []  # strings, dtypes: nothing numeric to compare


def drift(reference: list[torch.Tensor], result: list[torch.Tensor]) -> float:
    """max |result - reference| / max |reference| over all the tensors, in float64; ValueError
    where they do not match in number or shape (the mode computed something else)."""
    if len(reference) != len(result) or any(a.shape != b.shape for a, b in zip(reference, result, strict=True)):
        raise ValueError("the result's tensors differ in number or shape from the reference mode's")
    if not reference:
        return 0.0
    scale = max(float(t.detach().double().abs().max()) if t.numel() else 0.0 for t in reference)
    worst = max(
        float((b.detach().double().to(a.device) - a.detach().double()).abs().max()) if a.numel() else 0.0
        for a, b in zip(reference, result, strict=True)
    )
    return worst / scale if scale > 0 else worst
