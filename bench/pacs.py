"""PACS pull benchmark: studies pulled from a real Orthanc per minute, end to end (QIDO-RS
listing, WADO-RS retrieval, validation, de-identification, storage and indexing).

Starts Debian's Orthanc with its DICOMweb plugin on loopback (as the tests do), loads it with
``STUDIES`` studies of ``SLICES`` CT slices each (pydicom's CT_small with new UIDs), then runs
one PACS import job in this process against a scratch PostgreSQL database. Run:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/radlabel .venv/bin/python bench/pacs.py
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom
import requests
from _django import django_setup, scratch_database

SCRATCH = "radlabel_bench_pacs"
STUDIES = 10
SLICES = 20
USER, PASSWORD = "bench", "bench-password"


def _setup(media: str) -> None:
    scratch_database(SCRATCH)
    os.environ["RADLABEL_MEDIA_ROOT"] = media
    os.environ.setdefault("RADLABEL_VAR_DIR", str(Path(media).parent / "var"))
    django_setup(settings="backend.settings.test", migrate=True)


def _start_orthanc(folder: Path) -> tuple[subprocess.Popen, str]:
    from tests.orthanc import _plugin, config_write
    from tests.processes import free_port

    binary = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    plugin = _plugin()
    if not Path(binary).exists() or plugin is None:
        sys.exit("Orthanc and orthanc-dicomweb are not installed")
    port = free_port()
    config = config_write(
        folder, name="RadLabelBench", port=port, plugin=plugin, user=USER, password=PASSWORD
    )
    log = open(folder / "orthanc.log", "w")
    process = subprocess.Popen([binary, str(config)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(f"{url}/system", auth=(USER, PASSWORD), timeout=2).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
    process.terminate()
    sys.exit("Orthanc did not start")


def _load(url: str) -> list[str]:
    source = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    study_uids = []
    for study in range(STUDIES):
        study_uid = f"1.2.826.0.1.3680043.10.543.{study + 1}"
        series_uid = f"{study_uid}.1"
        for n in range(SLICES):
            ds = source.copy()
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
            ds.SOPInstanceUID = f"{series_uid}.{n + 1}"
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.PatientID = f"BENCH-{study}"
            ds.InstanceNumber = n + 1
            ds.ImagePositionPatient = [*source.ImagePositionPatient[:2], 5.0 * n]
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            requests.post(
                f"{url}/instances", data=buffer.getvalue(), auth=(USER, PASSWORD), timeout=30
            ).raise_for_status()
        study_uids.append(study_uid)
    return study_uids


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="radlabel-bench-pacs-"))
    _setup(str(folder / "media"))
    from django.conf import settings

    from annotator.models import DicomWebEndpoint, PacsImportJob, Project
    from annotator.services import pacs

    settings.RADLABEL_PACS_ALLOWED_HOSTS = ["127.0.0.1"]
    (folder / "orthanc").mkdir()
    process, url = _start_orthanc(folder / "orthanc")
    try:
        uids = _load(url)
        project = Project.objects.create(slug="bench", name="bench")
        endpoint = DicomWebEndpoint.objects.create(
            project=project,
            name="orthanc",
            url=f"{url}/dicom-web",
            auth="basic",
            username=USER,
            secret=PASSWORD,
        )
        job = PacsImportJob.objects.create(project=project, endpoint=endpoint, study_uids=uids)
        started = time.perf_counter()
        job = pacs.pacs_import_run(job_id=job.pk)
        seconds = time.perf_counter() - started
        stored = sum(1 for r in job.report if r["code"] == "stored")
        print("command: DATABASE_URL=... .venv/bin/python bench/pacs.py")
        print(
            f"pulled {len(uids)} studies / {job.total} instances (CT 128x128) in {seconds:.2f} s: "
            f"{len(uids) / seconds * 60:.0f} studies/min, {job.total / seconds:.1f} instances/s "
            f"(QIDO + WADO-RS + validation + de-identification + storage; {stored} stored, "
            f"job {job.status})"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
