"""Writing studies to disk: plain folders, IHE PDI CDs with a DICOMDIR, and their zips."""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.filebase import DicomFileLike
from pydicom.fileset import FileSet

from server.imaging.synthetic.uids import _uid


def write_study(datasets: Iterable[Dataset], folder: str | Path) -> list[Path]:
    """Write each instance as ``<series number>/<instance number>.dcm`` under ``folder``."""
    root = Path(folder)
    paths = []
    for ds in datasets:
        path = root / f"S{int(ds.SeriesNumber):03d}" / f"I{int(ds.InstanceNumber):05d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


_README = """\
READROOM SYNTHETIC IMAGING - PATIENT CD

This disc holds a synthetic (invented) imaging study in DICOM format,
written according to the IHE Portable Data for Imaging (PDI) profile.
The DICOMDIR file at the root indexes the images in the DICOM folder.
No real patient data is on this disc.
"""

_AUTORUN = "[autorun]\r\nopen=VIEWER\\VIEWER.EXE\r\nicon=VIEWER\\VIEWER.EXE,0\r\n"


def write_cd(datasets: Iterable[Dataset], folder: str | Path, *, junk_files: bool = True) -> Path:
    """Write an IHE PDI CD image into ``folder`` (created) and return it.

    ``DICOMDIR`` at the root (PS3.10 §8.6, PS3.3 F.3 Basic Directory IOD)
    references the instances at ``DICOM/PT000000/ST000000/SE000000/IM000000``:
    File IDs of upper-case components of at most 8 characters, no extension
    (PS3.10 §8.2, PS3.12 Annex F). With ``junk_files`` the usual companions a
    hospital CD carries are added beside them: README.TXT (required by PDI),
    AUTORUN.INF, a viewer stub, an HTML index.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    if (root / "DICOMDIR").exists():
        raise FileExistsError(f"{root / 'DICOMDIR'} exists")
    items = list(datasets)
    with tempfile.TemporaryDirectory(prefix="rr-cd-") as tmp:
        stage = Path(tmp) / "fs"
        fs = FileSet()
        fs.ID = "READROOM_SYN"
        fs.UID = _uid("fileset", *sorted(str(ds.SOPInstanceUID) for ds in items))
        for i, ds in enumerate(items):
            path = Path(tmp) / f"in{i:06d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            fs.add(path)
        fs.write(stage)
        # Move the instances under DICOM/ and rewrite the DICOMDIR with the new
        # File IDs; pydicom's writer recomputes every record offset.
        loaded = FileSet(stage / "DICOMDIR")
        (root / "DICOM").mkdir(exist_ok=True)
        for instance in loaded:
            rel = Path(instance.FileID)
            dst = root / "DICOM" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(stage / rel, dst)
            instance.node._record.ReferencedFileID = ["DICOM", *rel.parts]
        with open(root / "DICOMDIR", "wb") as fp:
            loaded._write_dicomdir(DicomFileLike(fp))
    (root / "README.TXT").write_text(_README.replace("\n", "\r\n"), encoding="ascii")
    if junk_files:
        (root / "AUTORUN.INF").write_text(_AUTORUN, encoding="ascii")
        viewer = root / "VIEWER"
        viewer.mkdir(exist_ok=True)
        (viewer / "VIEWER.EXE").write_bytes(b"MZ\x90\x00\x03\x00\x00\x00synthetic stub")
        (root / "INDEX.HTM").write_text(
            "<html><head><title>Patient CD</title></head><body>"
            "<p>Synthetic study. Open the DICOM folder with a DICOM viewer.</p>"
            "</body></html>\r\n",
            encoding="ascii",
        )
    return root


def zip_cd(folder: str | Path, destination: str | Path | None = None) -> bytes | Path:
    """Zip a CD folder (deterministic entry order and times): bytes, or a path if given one."""
    root = Path(folder)
    buf: io.BytesIO | None = None
    target: Path | io.BytesIO
    if destination is None:
        buf = io.BytesIO()
        target = buf
    else:
        target = Path(destination)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue() if buf is not None else Path(destination)  # type: ignore[arg-type]
