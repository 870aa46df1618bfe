"""The README's first command's stack on its embedded defaults: SQLite, filesystem broker,
web + worker + beat in one foreground process that Ctrl-C stops cleanly."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.dicom_files import data_store
from tests.processes import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_embedded_stack_logs_in_uploads_reads_back_and_stops_on_ctrl_c(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["RADLABEL_VAR_DIR"] = str(tmp_path / "var")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run(
        [*manage, "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    password = re.search(r"demo login: admin / (\S+)", seeded).group(1)
    assert (tmp_path / "var" / "radlabel.sqlite3").exists()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stack = subprocess.Popen(
        [*manage, "run_stack", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_healthy(base, stack)
        session = requests.Session()
        session.get(f"{base}/api/auth/csrf/", timeout=5)
        csrf = {"X-CSRFToken": session.cookies["csrftoken"]}
        refused = session.post(
            f"{base}/api/auth/login/", timeout=5, json={"username": "admin", "password": password}
        )
        assert refused.status_code == 403, "login without the CSRF token must be refused"
        login = session.post(
            f"{base}/api/auth/login/",
            headers=csrf,
            timeout=5,
            json={"username": "admin", "password": password},
        )
        assert login.status_code == 200, login.text
        assert "sessionid" in session.cookies and "HttpOnly" in login.headers["Set-Cookie"]
        csrf = {"X-CSRFToken": session.cookies["csrftoken"]}  # login rotates the token

        upload = session.post(
            f"{base}/api/projects/demo/uploads/",
            headers=csrf,
            timeout=30,
            files=[("files", ("mr.dcm", data_store("MR2_UNCI.dcm").read_bytes()))],
        )
        assert upload.status_code == 201, upload.text
        image_id = upload.json()["files"][0]["image_ids"][0]
        dicom = session.get(f"{base}/api/images/{image_id}/dicom/", timeout=10)
        assert dicom.status_code == 200 and dicom.content[128:132] == b"DICM"
        listing = session.get(f"{base}/api/projects/demo/images/?modality=MR", timeout=10).json()
        assert image_id in [item["id"] for item in listing["results"]]
        classes = session.get(f"{base}/api/projects/demo/", timeout=5).json()["label_classes"]
        instance = next(c["id"] for c in classes if c["kind"] == "instance")
        fitted = session.post(
            f"{base}/api/images/{image_id}/segment/",
            headers=csrf,
            timeout=10,
            json={"box": [40, 40, 120, 120], "label_class": instance},
        )
        assert fitted.status_code == 200, fitted.text
        assert fitted.json()["engine"] == "classical" and fitted.json()["mask"]["size"]
        page = session.get(f"{base}/", timeout=5)
        assert "Content-Security-Policy" in page.headers
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            output, _ = stack.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            stack.kill()
            output, _ = stack.communicate()
            pytest.fail(f"Ctrl-C did not stop the stack:\n{output[-3000:]}")
    assert stack.returncode == 0, output[-3000:]
    assert "RadLabel stopped." in output
    assert "celery@" in output or "embedded@" in output, "the worker did not start"
    assert "beat: Starting" in output, "beat did not start"
