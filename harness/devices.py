"""This machine's GPUs and cores, found without importing torch (the parent never does)."""

from __future__ import annotations

import os
import shutil
import subprocess


def gpu_ids() -> list[str]:
    """The visible CUDA devices: ``CUDA_VISIBLE_DEVICES`` when set, else ``nvidia-smi -L``."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    if not shutil.which("nvidia-smi"):
        return []
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listed.splitlines()) if line.startswith("GPU ")]


def cores() -> int:
    """CPU cores this process may use (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def gpu_memory() -> float | None:
    """GiB of the smallest visible GPU, from ``nvidia-smi`` (None when it cannot tell)."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=index,memory.total",
                                 "--format=csv,noheader,nounits"], capture_output=True,
                                text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    visible = set(gpu_ids())
    mib = [float(m) for line in listed.splitlines() if "," in line
           for i, m in [line.split(",", 1)] if i.strip() in visible]
    return min(mib) / 1024 if mib else None
