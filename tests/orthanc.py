"""A real PACS for the tests: Debian's Orthanc with its DICOMweb plugin, on loopback.

``orthanc`` (session scope) starts ``Orthanc`` on a free port with its own temporary storage
and configuration (remote access off, HTTP basic authentication on, the DICOM port off), loads
it with real DICOM from pydicom-data through its REST API (``POST /instances``), and stops it
at the end. Tests skip, saying why, only when the binary is not installed
(``apt-get install -y orthanc orthanc-dicomweb``).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
import requests

from tests.annotator.dicom.phi import build_phi_dataset
from tests.dicom_files import ct_slices, pydicom_test_file
from tests.processes import free_port, require_tool, stop_process

USER = "radlabel"
PASSWORD = "orthanc-test-password"
PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/plugins/libOrthancDicomWeb.so",
)


@dataclass
class Orthanc:
    url: str
    process: subprocess.Popen
    studies: dict[str, str] = field(default_factory=dict)

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def auth(self) -> tuple[str, str]:
        return USER, PASSWORD

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", auth=self.auth, timeout=30)

    def upload(self, data: bytes) -> dict:
        response = requests.post(f"{self.url}/instances", data=data, auth=self.auth, timeout=60)
        response.raise_for_status()
        return response.json()


def _plugin() -> str | None:
    try:
        listed = subprocess.run(
            ["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True, check=False
        ).stdout.splitlines()
    except FileNotFoundError:
        listed = []
    for path in [*listed, *PLUGIN_CANDIDATES]:
        if path.endswith("libOrthancDicomWeb.so") and Path(path).exists():
            return path
    return None


def config_write(
    folder: Path,
    *,
    name: str,
    port: int,
    plugin: str,
    user: str = USER,
    password: str = PASSWORD,
) -> Path:
    """``folder/orthanc.json``: storage in ``folder``, HTTP on loopback ``port`` with basic
    authentication, DICOMweb (no WADO-URI), the DICOM port off."""
    config = {
        "Name": name,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": port,
        "HttpServerEnabled": True,
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {user: password},
        "Plugins": [plugin],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "StorageCompression": False,
        "HttpsVerifyPeers": False,
    }
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config))
    return path


def _bytes(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture(scope="session", name="orthanc")
def orthanc_fixture(tmp_path_factory):
    binary = shutil.which("Orthanc") or next(
        (p for p in ("/usr/sbin/Orthanc", "/usr/bin/Orthanc") if Path(p).exists()), None
    )
    require_tool(
        "Orthanc is not installed (apt-get install -y orthanc orthanc-dicomweb)"
        if binary is None
        else None
    )
    plugin = _plugin()
    require_tool(
        "Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)"
        if plugin is None
        else None
    )
    folder = tmp_path_factory.mktemp("orthanc")
    port = free_port()
    config_write(folder, name="RadLabelTest", port=port, plugin=plugin)
    log = open(folder / "orthanc.log", "w")
    process = subprocess.Popen(
        [binary, "--logdir=" + str(folder), str(folder / "orthanc.json")],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
        start_new_session=True,
    )
    server = Orthanc(url=f"http://127.0.0.1:{port}", process=process)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            log.close()
            pytest.fail("Orthanc exited: " + (folder / "orthanc.log").read_text()[-2000:])
        try:
            if server.get("/system").status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            process.terminate()
            pytest.fail("Orthanc did not start")
        time.sleep(0.2)
    if server.get("/dicom-web/studies").status_code != 200:
        process.terminate()
        pytest.fail("Orthanc's DICOMweb plugin did not load")
    for name, files in {
        "ct_series": ct_slices(3),
        "mr": [pydicom_test_file("MR_small.dcm").read_bytes()],
        "phi": [_bytes(build_phi_dataset())],
    }.items():
        for data in files:
            answer = server.upload(data)
        server.studies[name] = server.get(f"/studies/{answer['ParentStudy']}").json()[
            "MainDicomTags"
        ]["StudyInstanceUID"]
    try:
        yield server
    finally:
        stop_process(process)
        log.close()
