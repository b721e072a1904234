"""A canonical sha256 of what a case computed, so two runs can be checked for identical results.

Every value is written as ``tag:length:payload`` (containers as their tag and item count, then
their items), so no two different values write the same bytes. Floats are written exactly
(``float.hex``), tensors as their dtype, shape and raw bytes. A type not listed here raises
:class:`TypeError` rather than being digested as nothing: a workload that starts returning
something new must say what its result is.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def result_sha256(value: Any) -> str:
    """The hex sha256 of ``value``: equal values give equal digests, any changed bit another."""
    digest = hashlib.sha256()
    _write(digest, value)
    return digest.hexdigest()


def _put(digest: Any, tag: str, payload: Any = b"") -> None:
    data = memoryview(payload.encode() if isinstance(payload, str) else payload)
    digest.update(f"{tag}:{data.nbytes}:".encode())
    digest.update(data)


def _write(digest: Any, value: Any) -> None:
    """Write ``value``; bool is checked before int, of which it is a subclass."""
    if value is None:
        _put(digest, "none")
    elif isinstance(value, bool):
        _put(digest, "bool", str(int(value)))
    elif isinstance(value, int):
        _put(digest, "int", str(value))
    elif isinstance(value, float):
        _put(digest, "float", value.hex())
    elif isinstance(value, str):
        _put(digest, "str", value)
    elif isinstance(value, torch.dtype):
        _put(digest, "dtype", str(value))
    elif isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().resolve_conj().resolve_neg().contiguous()
        _put(digest, "tensor", f"{tensor.dtype}{tuple(tensor.shape)}")
        _put(digest, "bytes", tensor.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError("cannot digest a numpy array of Python objects")
        _put(digest, "ndarray", f"{array.dtype.str}{array.shape}")
        _put(digest, "bytes", array.tobytes())
    elif isinstance(value, torch.nn.Module | torch.optim.Optimizer):
        _put(digest, "module" if isinstance(value, torch.nn.Module) else "optimizer")
        _write(digest, value.state_dict())
    elif isinstance(value, Mapping):
        _put(digest, "map", str(len(value)))
        for key in sorted(value, key=str):
            _write(digest, key)
            _write(digest, value[key])
    elif isinstance(value, list | tuple):  # torch.Size and named tuples (torch.return_types) too
        kind = "size" if isinstance(value, torch.Size) else "list" if isinstance(value, list) else "tuple"
        _put(digest, kind, str(len(value)))
        for item in value:
            _write(digest, item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        _put(digest, "dataclass", f"{type(value).__qualname__}:{len(fields)}")
        for field in fields:
            _write(digest, field.name)
            _write(digest, getattr(value, field.name))
    else:
        raise TypeError(f"cannot digest a {type(value).__module__}.{type(value).__qualname__}")
