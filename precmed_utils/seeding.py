"""Seeding and device choice. Used by every study notebook.

torch is optional: it is seeded and queried only if it is installed, and imported lazily.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import sys

import numpy as np

from .errors import DeviceError


def _torch():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (if installed) torch; return a NumPy Generator for explicit use."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")  # seed torch only if the study imported it
    if torch is not None:
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def cuda_available() -> bool:
    torch = _torch()
    return bool(torch is not None and torch.cuda.is_available())


def choose_device(requested: str = "auto", *, supports_gpu: bool = True) -> str:
    """Resolve ``auto`` | ``cpu`` | ``cuda`` to the device a study runs on.

    ``auto`` takes the GPU when one is usable and the study can use it, else the CPU. An explicit
    ``cuda`` never falls back silently: it raises DeviceError when no GPU is usable or the study
    has no GPU code path.
    """
    if requested not in ("auto", "cpu", "cuda"):
        raise DeviceError(f"device: {requested!r} is not allowed; expected auto, cpu or cuda")
    if requested == "cpu":
        return "cpu"
    if requested == "cuda":
        if not supports_gpu:
            raise DeviceError("device='cuda': this study has no GPU code path; use auto or cpu")
        if not cuda_available():
            raise DeviceError("device='cuda' was requested but no CUDA GPU is usable here "
                              "(is a CUDA build of torch installed?); use device=auto or cpu")
        return "cuda"
    return "cuda" if supports_gpu and cuda_available() else "cpu"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def shared_cores(jobs: int):
    """While open, processes started from here use ``cores // jobs`` BLAS/OpenMP threads each.

    Several runs side by side that each start one thread per core oversubscribe the machine, and
    busy-waiting BLAS and OpenMP threads then lose far more than they gain. A variable the user
    has set is left alone. Used by the book (runner.run_all) and by local sweeps."""
    threads = str(max(1, usable_cores() // max(1, jobs)))
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    try:
        if jobs > 1:
            for k in THREAD_VARIABLES:
                os.environ.setdefault(k, threads)
        yield threads
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
