"""Ingest and retrieve throughput: Readroom against Orthanc, in one run. Prints a table.

    .venv/bin/python benchmarks/ingest.py [--slices 300] [--reps 3] [--big-gb 1.0]
        [--postgres [URL]] [--workers N]

A deterministic 512×512 CT series (``server.imaging.synthetic``) is pushed

* to Readroom (``readroom-server serve`` in a subprocess, fresh data directory per run,
  blobs encrypted as always) by STOW-RS in batches of 10 instances with 1 and 4
  concurrent clients, and as a zipped CD through the tus resumable upload;
* to Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``, fresh storage per run) by
  STOW-RS the same way;

each STOW-RS client is one keep-alive connection (the standard library's ``http.client``,
the leanest client at hand: the clients share the two cores with the server), opened
before the clock starts, taking the next request's body from a shared queue;

then the whole series is retrieved by WADO-RS from both. Every figure is the median
of ``--reps`` runs, Readroom and Orthanc alternating run by run so that background load
falls on both; peak RSS is the server process's ``VmHWM``. Run it on a quiet machine:
two cores shared with a test suite move every figure by a factor of two. Last, a zip of about
``--big-gb`` GB goes through tus to measure the server's peak RSS on a large upload.

Readroom runs as ``serve`` runs it: on SQLite, one process per core up to four
(``--workers N`` sets the number; peak RSS is then the largest process's).
``--postgres`` puts each run on a fresh PostgreSQL database (created and dropped;
default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` as the admin URL).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._orthanc import DURABILITY as ORTHANC_DURABILITY
from benchmarks._orthanc import available as orthanc_available
from benchmarks._orthanc import free_port, orthanc, peak_rss_mb
from server.storage.volume_sync import QUIET_DIRTY

MB = 1024 * 1024
BATCH = 10
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TUS_CHUNK = 16 * MB
ANY_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'


# ---------------------------------------------------------------------------
# the study


@dataclass(frozen=True)
class Study:
    files: list[bytes]
    study_uid: str
    series_uid: str

    @property
    def total_bytes(self) -> int:
        return sum(len(f) for f in self.files)


def make_study(slices: int, *, seed: int = 0) -> Study:
    from server.imaging.synthetic import CTSeries, make_ct_study, to_bytes

    datasets = make_ct_study(
        slices=slices, series=[CTSeries.AXIAL_SOFT_TISSUE], study_date=date.today(), seed=seed
    )
    files = [to_bytes(ds) for ds in datasets]
    return Study(files, str(datasets[0].StudyInstanceUID), str(datasets[0].SeriesInstanceUID))


def zip_of(files: Sequence[bytes], path: Path, *, copies: int = 1) -> Path:
    """A zip of plain DICOM files; ``copies`` > 1 repeats the series under new UIDs."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for copy in range(copies):
            for index, data in enumerate(files):
                if copy:
                    data = _renamed(data, copy)
                zf.writestr(f"DICOM/S{copy:03d}/I{index:05d}.dcm", data)
    return path


def _renamed(data: bytes, copy: int) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.SeriesInstanceUID = f"{ds.SeriesInstanceUID}.{copy}"[:64]
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{ds.SOPInstanceUID}.{copy}"[:64]
    ds.SeriesNumber = int(ds.SeriesNumber) + copy * 10
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# servers


@dataclass(frozen=True)
class Target:
    """A DICOMweb server under test: its STOW/WADO root, headers, and process."""

    name: str
    dicomweb: str
    headers: dict[str, str]
    pid: int
    base: str = ""
    case_id: str = ""

    def peak_rss_mb(self) -> float:
        """The server's peak RSS; with several workers, the largest process's."""
        pids = [self.pid, *_children(self.pid)]
        return max(peak_rss_mb(pid) for pid in pids)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new PostgreSQL database for one run, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"rr_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _arrange_readroom(data_dir: Path, database_url: str | None) -> tuple[str, str]:
    """Schema (until migrations exist), a patient, their token and an open case."""
    from server.accounts.models import Role, User
    from server.accounts.passwords import hash_password
    from server.accounts.tokens import issue_token
    from server.cases.models import Case, CaseStatus
    from server.config import Settings
    from server.db import make_engine, make_sessionmaker
    from server.tables import Base

    settings = Settings(data_dir=data_dir, database_url=database_url)
    engine = make_engine(settings.sqlalchemy_url)
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine)() as session:
        user = User(
            username="bench",
            email="bench@example.test",
            full_name="Bench Patient",
            role=Role.PATIENT,
            password_hash=hash_password(secrets.token_hex(16)),
        )
        session.add(user)
        session.flush()
        case = Case(
            patient_user_id=user.id,
            status=CaseStatus.SUBMITTED,
            patient_family_name="SYNTHETIC",
            patient_given_names="ALEX",
            patient_birth_date=date(1970, 1, 1),
        )
        session.add(case)
        session.flush()
        token = issue_token(session, user=user, settings=settings)
        case_id = case.id
        session.commit()
    engine.dispose()
    return token, case_id


#: What Readroom makes durable before it answers (printed with the table).
READROOM_DURABILITY = (
    "each batch's blob files, then their names, made durable before the transaction "
    "that references them commits (one syncfs each while under "
    f"{QUIET_DIRTY >> 20} MB waits to be written "
    "back machine-wide, else an fsync per file and per directory); SQLite WAL with "
    "synchronous=NORMAL, or PostgreSQL's default synchronous_commit"
)

#: How Readroom is run: set from the command line (``--postgres``, ``--workers``).
SERVER = {"postgres": None, "workers": 1}


@contextmanager
def readroom(database_url: str | None = None) -> Iterator[Target]:
    """``readroom-server init`` + ``serve`` on a free loopback port, fresh data directory
    (and a fresh PostgreSQL database with ``--postgres``)."""
    admin_url = SERVER["postgres"]
    if database_url is None and isinstance(admin_url, str):
        with fresh_postgres(admin_url) as url, readroom(url) as target:
            yield target
        return
    cli = Path(sys.executable).with_name("readroom-server")
    workers = int(SERVER["workers"] or 1)
    with tempfile.TemporaryDirectory(prefix="rr-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        env = {
            **os.environ,
            "READROOM_DATA_DIR": str(data_dir),
            "READROOM_PORT": str(port),
            "READROOM_HOST": "127.0.0.1",
        }
        if database_url:
            env["READROOM_DATABASE_URL"] = database_url
        subprocess.run([str(cli), "init"], env=env, check=True, capture_output=True)
        token, case_id = _arrange_readroom(data_dir, database_url)
        log = (Path(tmp) / "server.log").open("wb")
        process = subprocess.Popen(
            [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)]
            + (["--workers", str(workers)] if workers > 1 else []),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_health(f"{base}/health", process)
            yield Target(
                "Readroom",
                f"{base}/dicomweb",
                {"Authorization": f"Bearer {token}", "X-Readroom-Case": case_id},
                process.pid,
                base,
                case_id,
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
            if process.returncode not in (0, -15):
                sys.stderr.write((Path(tmp) / "server.log").read_text()[-3000:])


@contextmanager
def orthanc_target() -> Iterator[Target]:
    with orthanc() as running:
        yield Target("Orthanc", running.dicomweb, {}, running.pid, running.url)


def _wait_health(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


# ---------------------------------------------------------------------------
# STOW-RS, WADO-RS, tus


def multipart_body(files: Sequence[bytes], boundary: str) -> bytes:
    out = io.BytesIO()
    for data in files:
        out.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def stow(target: Target, study: Study, *, clients: int) -> float:
    """Seconds to store every instance, ``BATCH`` per request, ``clients`` at a time.

    Each client is a keep-alive ``http.client`` connection, made before the clock starts.
    It hands the prebuilt body to ``sendall`` as it is. httpx (through h11's ``send``)
    joins each body into a new buffer first, a copy into freshly faulted pages: 0.9
    against 0.4 ms of client CPU per instance, on the cores the servers run on.
    """
    boundary = secrets.token_hex(12)
    bodies = [
        multipart_body(study.files[i : i + BATCH], boundary)
        for i in range(0, len(study.files), BATCH)
    ]
    headers = {
        **target.headers,
        "Accept": "application/dicom+json",
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
    }
    url = urlsplit(f"{target.dicomweb}/studies")
    connections = [
        http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=300)
        for _ in range(clients)
    ]
    for connection in connections:
        connection.connect()
    queue = iter(bodies)
    lock = threading.Lock()

    def client(connection: http.client.HTTPConnection) -> None:
        while True:
            with lock:
                body = next(queue, None)
            if body is None:
                return
            connection.request("POST", url.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(
                    f"{target.name} STOW answered {response.status}: {answer[:300]!r}"
                )

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, connections))
        return time.perf_counter() - start
    finally:
        for connection in connections:
            connection.close()


def wado_series(target: Target, study: Study) -> tuple[float, int]:
    """Seconds and bytes to retrieve the whole series (multipart, streamed to nowhere).

    curl is the client where installed: a Python client tops out near 250 MB/s here and
    would hide the difference between the servers.
    """
    url = f"{target.dicomweb}/studies/{study.study_uid}/series/{study.series_uid}"
    headers = {k: v for k, v in target.headers.items() if k == "Authorization"}
    headers["Accept"] = ANY_DICOM
    curl = shutil.which("curl")
    if curl:
        args = [curl, "-sS", "-f", "-o", "/dev/null", "-w", "%{time_total} %{size_download}"]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
        seconds, size = out.split()
        return float(seconds), int(size)
    start = time.perf_counter()
    received = 0
    with httpx.stream("GET", url, headers=headers, timeout=300) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{target.name} WADO answered {response.status_code}")
        for chunk in response.iter_raw(1024 * 1024):
            received += len(chunk)
    return time.perf_counter() - start, received


def tus_upload(target: Target, path: Path) -> tuple[float, int]:
    """Seconds from creating the upload to the end of its ingestion; instances stored."""
    auth = {"Authorization": target.headers["Authorization"], "Tus-Resumable": "1.0.0"}
    size = path.stat().st_size
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {"case_id": target.case_id, "filename": path.name, "kind": "zip"}.items()
    )
    start = time.perf_counter()
    with httpx.Client(base_url=target.base, headers=auth, timeout=600) as http:
        created = http.post(
            "/uploads", headers={"Upload-Length": str(size), "Upload-Metadata": meta}
        )
        if created.status_code != 201:
            raise RuntimeError(f"tus create answered {created.status_code}: {created.text[:300]}")
        location = created.headers["location"]
        offset = 0
        with path.open("rb") as source:
            while chunk := source.read(TUS_CHUNK):
                patched = http.patch(
                    location,
                    content=chunk,
                    headers={
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Offset": str(offset),
                    },
                )
                if patched.status_code != 204:
                    raise RuntimeError(f"tus PATCH answered {patched.status_code}")
                offset = int(patched.headers["upload-offset"])
        upload_id = location.rsplit("/", 1)[1]
        while True:
            state = http.get(f"/cases/{target.case_id}/uploads/{upload_id}").json()
            if state["state"] in ("done", "failed"):
                break
            time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if state["state"] != "done":
        raise RuntimeError(f"the upload failed: {state.get('error')}")
    return elapsed, int(state["counts"]["stored"])


# ---------------------------------------------------------------------------
# the runs


@dataclass
class Row:
    label: str
    seconds: list[float]
    instances: int
    nbytes: int
    rss: list[float]

    @property
    def rate(self) -> float:
        return self.instances / statistics.median(self.seconds)

    @property
    def mbps(self) -> float:
        return self.nbytes / MB / statistics.median(self.seconds)


Run = Callable[[Target], tuple[float, int, int]]


def repeat(
    label: str,
    make: Callable[[], object],
    run: Run,
    reps: int,
) -> Row:
    """Run ``run`` on a fresh server ``reps`` times; medians and the server's peak RSS."""
    return compare([(label, make)], run, reps)[0]


def compare(
    contenders: Sequence[tuple[str, Callable[[], object]]], run: Run, reps: int
) -> list[Row]:
    """Run ``run`` on a fresh server of each contender, alternating them repetition by
    repetition (a fair share of any background load); medians and peak RSS per contender."""
    results: dict[str, tuple[list[float], list[float], int, int]] = {
        label: ([], [], 0, 0) for label, _make in contenders
    }
    for _ in range(reps):
        for label, make in contenders:
            with make() as target:  # type: ignore[attr-defined]
                elapsed, instances, nbytes = run(target)
                seconds, rss, _, _ = results[label]
                seconds.append(elapsed)
                rss.append(target.peak_rss_mb())
                results[label] = (seconds, rss, instances, nbytes)
    rows = []
    for label, (seconds, rss, instances, nbytes) in results.items():
        row = Row(label, seconds, instances, nbytes, rss)
        print(
            f"  {label:<34} {row.rate:8.1f} inst/s {row.mbps:8.1f} MB/s "
            f"peak RSS {max(rss):7.0f} MB",
            file=sys.stderr,
            flush=True,
        )
        rows.append(row)
    return rows


def stow_run(study: Study, warm_up: Study, clients: int) -> Run:
    """STOW-RS the study with ``clients`` clients, after a warm-up: another study sent
    the same way first, untimed, so that every server process has compiled its queries
    and filled its caches (a server's steady state, not its first minute)."""

    def run(target: Target) -> tuple[float, int, int]:
        stow(target, warm_up, clients=4)  # four connections: every process gets some
        return stow(target, study, clients=clients), len(study.files), study.total_bytes

    return run


def wado_after_stow(study: Study) -> Run:
    """Store the series, then retrieve it three times: the best of them (warm caches)."""

    def run(target: Target) -> tuple[float, int, int]:
        stow(target, study, clients=4)
        elapsed, received = min(wado_series(target, study) for _ in range(3))
        return elapsed, len(study.files), received

    return run


def tus_run(path: Path) -> Run:
    def run(target: Target) -> tuple[float, int, int]:
        elapsed, stored = tus_upload(target, path)
        return elapsed, stored, path.stat().st_size

    return run


def profile_stow(study: Study, warm_up: Study, clients: int, out: Path) -> None:
    """Sample the Readroom server with py-spy during one STOW-RS run; print where its
    busy threads spend time (own time per function, and per Readroom function inclusive)."""
    spy_bin = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy_bin).exists():
        print("py-spy is not installed: no profile", file=sys.stderr)
        return
    with readroom() as target:
        stow(target, warm_up, clients=4)
        spy = subprocess.Popen(
            [
                spy_bin,
                "record",
                "--pid",
                str(target.pid),
                "--format",
                "raw",
                "-o",
                str(out),
                "--rate",
                "200",
                "--threads",
                "--subprocesses",  # the worker processes, under `serve`'s supervisor
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.5)
        elapsed = stow(target, study, clients=clients)
        spy.send_signal(2)
        spy.wait(timeout=60)
    own: dict[str, int] = {}
    ours: dict[str, int] = {}
    busy = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")[1:]
        if not frames or "Condition.wait" in frames[-1] or "Runner.run" in frames[-1]:
            continue  # idle worker threads and the event loop waiting
        n = int(count)
        busy += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for name in {f.rsplit(":", 1)[0] + ")" for f in frames if "(server/" in f}:
            ours[name] = ours.get(name, 0) + n
    print(
        f"\nprofile of STOW-RS, {clients} client(s): {len(study.files) / elapsed:.1f} inst/s, "
        f"{busy} busy samples at 200 Hz -> {out}"
    )
    for title, table in (("own time", own), ("Readroom code, inclusive", ours)):
        print(f"  {title}:")
        for name, n in sorted(table.items(), key=lambda kv: -kv[1])[:15]:
            print(f"    {100 * n / max(busy, 1):5.1f}%  {name}")


def print_table(rows: list[Row], ratios: list[tuple[str, float]]) -> None:
    print(f"\n{'':<36}{'inst/s':>10}{'MB/s':>10}{'peak RSS MB':>13}   runs (s)")
    for row in rows:
        runs = " ".join(f"{s:.2f}" for s in row.seconds)
        print(f"{row.label:<36}{row.rate:>10.1f}{row.mbps:>10.1f}{max(row.rss):>13.0f}   {runs}")
    if ratios:
        print()
        for label, ratio in ratios:
            print(f"{label:<36}{ratio:>10.2f}x")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--big-gb", type=float, default=1.0, help="0 to skip the large upload")
    parser.add_argument("--no-orthanc", action="store_true")
    parser.add_argument("--only", choices=["stow", "wado", "tus"], help="run one part only")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=PG_ADMIN_URL,
        metavar="ADMIN_URL",
        help="run Readroom on a fresh PostgreSQL database per run (default SQLite)",
    )
    parser.add_argument(
        "--workers", type=int, help="server processes (default: as `serve`, one per core)"
    )
    parser.add_argument(
        "--profile", type=Path, help="also sample the server (py-spy) during STOW into this file"
    )
    args = parser.parse_args(argv)
    SERVER.update(postgres=args.postgres, workers=args.workers)
    from server.config import Settings

    processes = args.workers or Settings().workers
    setup = f"{'PostgreSQL' if args.postgres else 'SQLite'}, {processes} server process(es)"
    print(f"Readroom on {setup}", file=sys.stderr, flush=True)

    print(f"generating a {args.slices}-slice 512x512 CT …", file=sys.stderr, flush=True)
    study = make_study(args.slices)
    warm_up = make_study(4 * BATCH, seed=1)
    print(f"  {len(study.files)} instances, {study.total_bytes / MB:.0f} MB", file=sys.stderr)
    use_orthanc = not args.no_orthanc and orthanc_available()
    rows: list[Row] = []
    ratios: list[tuple[str, float]] = []
    parts = [args.only] if args.only else ["stow", "wado", "tus"]
    with tempfile.TemporaryDirectory(prefix="rr-bench-zip-") as tmp:
        if "stow" in parts:
            for clients in (1, 4):
                contenders = [(f"Readroom STOW-RS x{BATCH}, {clients} client(s)", readroom)]
                if use_orthanc:
                    contenders.append(
                        (f"Orthanc STOW-RS x{BATCH}, {clients} client(s)", orthanc_target)
                    )
                found = compare(contenders, stow_run(study, warm_up, clients), args.reps)
                rows += found
                if use_orthanc:
                    ratios.append(
                        (
                            f"Readroom/Orthanc STOW, {clients} client(s)",
                            found[0].rate / found[1].rate,
                        )
                    )
        if "wado" in parts:
            contenders = [("Readroom WADO-RS series", readroom)]
            if use_orthanc:
                contenders.append(("Orthanc WADO-RS series", orthanc_target))
            found = compare(contenders, wado_after_stow(study), args.reps)
            rows += found
            if use_orthanc:
                ratios.append(("Readroom/Orthanc WADO series", found[0].mbps / found[1].mbps))
        if "tus" in parts:
            cd = zip_of(study.files, Path(tmp) / "cd.zip")
            rows.append(repeat("Readroom tus zipped CD", readroom, tus_run(cd), args.reps))
            if args.big_gb > 0:
                copies = max(1, round(args.big_gb * 1024**3 / study.total_bytes))
                big = zip_of(study.files, Path(tmp) / "big.zip", copies=copies)
                label = f"Readroom tus {big.stat().st_size / 1024**3:.2f} GB zip"
                rows.append(repeat(label, readroom, tus_run(big), 1))
                big.unlink()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nReadroom on {setup}")
    print(f"Durability: Readroom {READROOM_DURABILITY}")
    if use_orthanc:
        print(f"            Orthanc  {ORTHANC_DURABILITY}")
    print_table(rows, ratios)
    if args.profile:
        for clients in (1, 4):
            profile_stow(study, warm_up, clients, args.profile.with_suffix(f".c{clients}.txt"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
