"""A worker on another host: it shares no disk with the web server, only PostgreSQL, Redis and
an S3-compatible object store (a real SeaweedFS server).

The web server (gunicorn) and the worker (Celery) each get a media folder and a work folder
of their own, and the worker runs from a folder of its own. Upload → retrain → pre-annotate
→ export all go through the web server's API; afterwards neither media folder holds a file,
and the store holds the images, the weights and the export.
"""

import hashlib
import io
import json
import os
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from annotator.models import Annotation, JobStatus, ModelVersion, Patient, Source
from radlabel.demo.dicom import lesion_slices
from radlabel.demo.lesions import CLASS_NAMES
from tests import factories
from tests.conftest import PASSWORD
from tests.lesion_uploads import lesions_label
from tests.network import other_host
from tests.processes import celery_worker, spawned_database_url, wait_for, web_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SIZE = 128


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


class _Api:
    """The web server's API for a script user with a token."""

    def __init__(self, url: str, username: str) -> None:
        self.url = url
        token = requests.post(
            f"{url}/api/auth/token/",
            json={"username": username, "password": PASSWORD},
            timeout=10,
        )
        assert token.status_code == 200, token.text
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token.json()['token']}"

    def __call__(self, method: str, path: str, expected: int, **kwargs) -> requests.Response:
        response = self.session.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        assert response.status_code == expected, f"{method} {path}: {response.text[:500]}"
        return response

    def upload(self, slug: str, slices) -> list[int]:
        files = [("files", (f"{uuid.uuid4().hex}.dcm", s.data)) for s in slices]
        created = self("POST", f"/api/projects/{slug}/uploads/", 201, files=files).json()
        return [entry["image_ids"][0] for entry in created["files"]]

    def finished(self, path: str, what: str) -> dict:
        def done():
            job = self("GET", path, 200).json()
            return job if job["status"] not in ("queued", "running") else None

        job = wait_for(done, timeout=420, interval=1, what=what)
        assert job["status"] == JobStatus.SUCCEEDED, job
        return job


def _through(host, object_store, prefix: str, broker_url: str) -> dict[str, str]:
    """The database, broker and store as the other host reaches them: through its link."""
    database = urlsplit(spawned_database_url())
    broker = urlsplit(broker_url)
    return {
        "DATABASE_URL": urlunsplit(
            database._replace(
                netloc=f"{database.username}@{host.gateway}:{host.forward(database.port)}"
            )
        ),
        "TEST_REDIS_URL": urlunsplit(
            broker._replace(netloc=f"{host.gateway}:{host.forward(broker.port or 6379)}")
        ),
        **object_store.environment(
            prefix, endpoint=f"http://{host.gateway}:{host.forward(object_store.port)}"
        ),
    }


def test_a_worker_that_shares_no_disk_trains_preannotates_and_exports(
    tmp_path, settings, object_store
):
    prefix = f"e2e-{uuid.uuid4().hex[:12]}"
    # this process writes labels through the ORM only; its files would go to the same store
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": object_store.options(prefix),
        },
    }
    secrets = {"DJANGO_SECRET_KEY": os.urandom(24).hex(), "RADLABEL_DEID_KEY": os.urandom(24).hex()}
    web_host, worker_host = tmp_path / "web", tmp_path / "worker"
    folders = {
        host: {
            "RADLABEL_VAR_DIR": str(host / "var"),
            "RADLABEL_MEDIA_ROOT": str(host / "media"),
            "RADLABEL_WORK_DIR": str(host / "work"),
        }
        for host in (web_host, worker_host)
    }
    worker_host.mkdir(parents=True)
    web_env = {
        **os.environ,
        **object_store.environment(prefix),
        **secrets,
        **folders[web_host],
        "DJANGO_SETTINGS_MODULE": "backend.settings.test",
        "DATABASE_URL": spawned_database_url(),
        "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
    }
    client = factories.api_project("remote", "Remote", list(CLASS_NAMES))
    classes = [c["id"] for c in client.get("/api/projects/remote/").data["label_classes"]]
    factories.UserFactory(username="script-admin", is_superuser=True, is_staff=True)

    with (
        web_server(web_env, tmp_path / "gunicorn.log") as url,
        other_host() as host,
        celery_worker(
            environment={
                **_through(host, object_store, prefix, settings.CELERY_BROKER_URL),
                **secrets,
                **folders[worker_host],
            },
            cwd=worker_host,
            prefix=host.command,
        ) as worker,
    ):
        api = _Api(url, "script-admin")
        slices = lesion_slices(8, 2, seed=5, size=SIZE)
        for image_id, lesion in zip(api.upload("remote", slices), slices, strict=True):
            lesions_label(client, image_id, lesion, classes)
        splits = ["train"] * 4 + ["val"] * 2 + ["test"] * 2
        for patient, split in zip(Patient.objects.order_by("pseudonym"), splits, strict=True):
            api("PATCH", f"/api/patients/{patient.pk}/", 200, json={"split": split})

        started = api(
            "POST",
            "/api/projects/remote/training-jobs/",
            202,
            json={"epochs": 2, "image_size": SIZE},
        ).json()
        api.finished(f"/api/training-jobs/{started['id']}/", "the training on the other host")
        version = ModelVersion.objects.get()
        if version.status != "active":
            api("POST", f"/api/model-versions/{version.pk}/activate/", 200)

        new_ids = api.upload("remote", lesion_slices(1, 4, seed=11, size=SIZE))
        proposed = api(
            "POST", "/api/projects/remote/preannotate/", 202, json={"image_ids": new_ids}
        ).json()
        api.finished(f"/api/preannotation-jobs/{proposed['id']}/", "the pre-annotation")

        export = api("POST", "/api/projects/remote/exports/", 202, json={"images": "all"}).json()
        api.finished(f"/api/exports/{export['id']}/", "the export")
        download = api("GET", f"/api/exports/{export['id']}/download/", 200)
    assert "Traceback" not in worker.output, worker.output[-3000:]

    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        names = archive.namelist()
        splits = [json.loads(archive.read(n)) for n in names if n.startswith("annotations/")]
    assert sum(len(split["images"]) for split in splits) == len(slices) + 4
    assert sum(len(split["annotations"]) for split in splits) >= len(slices)
    assert sum(name.endswith(".png") for name in names) == len(slices) + 4
    proposals = Annotation.objects.filter(image_id__in=new_ids, source=Source.MODEL)
    assert all(p.model_version_id == version.pk for p in proposals)

    for host in (web_host, worker_host):
        assert _files(host / "media") == [], f"{host.name} kept files on its own disk"
    s3 = object_store.client()
    listed = s3.list_objects_v2(Bucket=object_store.bucket, Prefix=f"{prefix}/")["Contents"]
    keys = {item["Key"].removeprefix(f"{prefix}/") for item in listed}
    assert version.weights_file in keys
    weights = s3.get_object(Bucket=object_store.bucket, Key=f"{prefix}/{version.weights_file}")
    assert hashlib.sha256(weights["Body"].read()).hexdigest() == version.sha256
    assert sum(key.endswith(".dcm") for key in keys) == len(slices) + 4
    assert any(key.startswith("exports/") for key in keys)
    assert not any(".partial-" in key for key in keys)
