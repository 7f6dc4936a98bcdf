"""Run a throw-away Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) for benchmarks.

Orthanc listens on every interface; ``RemoteAccessAllowed: false`` refuses anything
but loopback, and the benchmark only talks to 127.0.0.1. Its storage and index live
in a temporary directory removed on exit; the DICOM port is disabled.
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ORTHANC = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


#: What the benchmark's Orthanc makes durable before it answers (printed with the table).
DURABILITY = "SyncStorageArea=true: each stored file fsynced; index in SQLite"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True)
class RunningOrthanc:
    pid: int
    url: str  # the HTTP root, e.g. http://127.0.0.1:8042
    dicomweb: str  # the DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.pid)


def available() -> bool:
    return ORTHANC.exists() and DICOMWEB_PLUGIN.exists()


@contextmanager
def orthanc(*, threads: int = 50) -> Iterator[RunningOrthanc]:
    """Start Orthanc on a free loopback port with fresh storage; stop it on exit."""
    with tempfile.TemporaryDirectory(prefix="rr-orthanc-") as tmp:
        root = Path(tmp)
        port = free_port()
        config = {
            "Name": "readroom-benchmark",
            "StorageDirectory": str(root / "storage"),
            "IndexDirectory": str(root / "index"),
            "HttpPort": port,
            "HttpThreadsCount": threads,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": False,
            "StorageCompression": False,
            # fsync each stored file before answering (Orthanc's default since 1.7.4,
            # stated here so the comparison does not depend on the version): Readroom
            # makes every blob durable before its transaction commits.
            "SyncStorageArea": True,
            "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        path = root / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        log = (root / "orthanc.log").open("wb")
        process = subprocess.Popen([str(ORTHANC), str(path)], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url, process)
            yield RunningOrthanc(process.pid, url, f"{url}/dicom-web")
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/system", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("Orthanc did not start")
