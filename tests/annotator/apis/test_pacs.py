"""PACS over DICOMweb through the HTTP API, against a real Orthanc: register, search, pull through
de-identified ingest, push a DICOM-SEG back; and the SSRF rules (security cases 7-9)."""

import io
import json
import logging
import socket
import uuid

import numpy as np
import pydicom
import pytest
import requests

from annotator import coco
from annotator.models import (
    Annotation,
    AuditEvent,
    DicomWebEndpoint,
    Image,
    Instance,
    JobStatus,
    PacsImportJob,
)
from annotator.services import annotations, pacs
from tests.annotator.apis.test_exports import _accepted_mask, _image
from tests.annotator.dicom.phi import SENTINELS, load_source
from tests.dicom_files import pydicom_test_file
from tests.http_listener import Listener
from tests.labels import accepted_label
from tests.orthanc import PASSWORD, USER, orthanc_fixture  # noqa: F401 - the fixture
from tests.processes import celery_worker, wait_finished

ENDPOINTS = "/api/projects/chest/pacs/endpoints/"


@pytest.fixture
def loopback_allowed(settings):
    settings.RADLABEL_PACS_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def _register(client, url, **extra):
    return client.post(ENDPOINTS, {"name": f"pacs-{uuid.uuid4().hex[:6]}", "url": url, **extra})


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://10.0.0.5/",
        "http://192.168.1.10/dicom-web",
        "http://2130706433:{port}/",
        "http://0x7f000001:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://[64:ff9b::7f00:1]:{port}/",
        "http://[64:ff9b::a00:5]/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[64:ff9b:1::a00:5]/",
        "http://[64:ff9b:1::808:808]/",
        "http://[2002:7f00:1::1]:{port}/",
        "http://[2002:a9fe:a9fe::1]/latest/meta-data/",
        "http://[2002:c0a8:10a::]/",
        "http://[::7f00:1]:{port}/",
        "http://[::a00:5]/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/_x",
        "ftp://pacs.example.org/",
        "http://user:secret@pacs.example.org/dicom-web",
        "https://pacs.example.org/dicom-web#fragment",
        "http:///nohost",
    ],
)
def test_refused_destinations_are_never_contacted(world, listener, url):
    response = _register(world.client(world.admin), url.format(port=listener.port))
    assert response.status_code == 400, response.data
    assert response.data["code"] in ("destination_not_allowed", "invalid")
    assert listener.connections == 0
    assert not DicomWebEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url", ["http://[64:ff9b::808:808]/dicom-web", "http://[2002:808:808::1]/dicom-web"]
)
def test_nat64_and_6to4_forms_of_a_public_address_are_allowed(url):
    assert pacs.destination_check(url) == url


def test_the_operator_allowlist_restricts_hosts(world, listener, settings):
    client = world.client(world.admin)
    settings.RADLABEL_PACS_ALLOWED_HOSTS = ["pacs.example.org"]
    refused = _register(client, f"http://127.0.0.1:{listener.port}/dicom-web")
    assert refused.status_code == 400 and refused.data["code"] == "destination_not_allowed"
    settings.RADLABEL_PACS_ALLOWED_HOSTS = ["127.0.0.1"]
    assert _register(client, f"http://localhost:{listener.port}/").status_code == 400
    created = _register(client, f"http://127.0.0.1:{listener.port}/dicom-web/")
    assert created.status_code == 201, created.data
    assert created.data["url"] == f"http://127.0.0.1:{listener.port}/dicom-web"
    assert listener.connections == 0, "registering contacts nothing"


def test_redirects_are_not_followed(world, loopback_allowed):
    target = Listener()
    redirecting = Listener(status=301, headers={"Location": f"http://127.0.0.1:{target.port}/"})
    try:
        client = world.client(world.admin)
        endpoint = _register(client, f"http://127.0.0.1:{redirecting.port}/dicom-web")
        search = client.post(f"{ENDPOINTS}{endpoint.data['id']}/search/", {}, format="json")
        assert search.status_code == 502 and search.data == {
            "code": "pacs_error",
            "detail": "The PACS did not answer as expected.",
        }
        assert redirecting.requests == 1 and target.connections == 0
    finally:
        target.close()
        redirecting.close()


def test_upstream_error_bodies_are_never_echoed(world, loopback_allowed):
    failing = Listener(status=500, body=b"SECRET-UPSTREAM-DETAIL at /var/lib/orthanc")
    try:
        client = world.client(world.admin)
        endpoint = _register(client, f"http://127.0.0.1:{failing.port}/dicom-web")
        search = client.post(f"{ENDPOINTS}{endpoint.data['id']}/search/", {}, format="json")
        assert search.status_code == 502
        assert b"SECRET" not in search.content and b"orthanc" not in search.content
    finally:
        failing.close()


@pytest.mark.parametrize("answer", [b"[]", b'"text"', b'{"00081199": 7}'])
def test_a_malformed_answer_to_a_push_is_a_502_and_no_audit_event(world, loopback_allowed, answer):
    image = _image(world, pydicom_test_file("CT_small.dcm").read_bytes())
    _accepted_mask(world, image, 5, 5, 12)
    pacs = Listener(body=answer)
    try:
        client = world.client(world.admin)
        endpoint = _register(client, f"http://127.0.0.1:{pacs.port}/dicom-web")
        push = client.post(
            f"{ENDPOINTS}{endpoint.data['id']}/stow/", {"series": image.series_id}, format="json"
        )
        assert (push.status_code, push.data["code"]) == (502, "pacs_error"), push.data
        assert pacs.requests == 1
        assert not AuditEvent.objects.filter(action="pacs.seg_pushed").exists()
    finally:
        pacs.close()


def test_a_name_that_rebinds_to_loopback_is_not_connected_to(world, listener, monkeypatch):
    real = socket.getaddrinfo
    calls = []

    def rebinding(host, port, *args, **kwargs):
        if host == "pacs.example.org":
            calls.append(host)
            address = "93.184.216.34" if len(calls) == 1 else "127.0.0.1"
            return real(address, listener.port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    client = world.client(world.admin)
    endpoint = _register(client, "http://pacs.example.org/dicom-web")
    assert endpoint.status_code == 201, endpoint.data
    search = client.post(f"{ENDPOINTS}{endpoint.data['id']}/search/", {}, format="json")
    assert search.status_code == 400 and search.data["code"] == "destination_not_allowed"
    assert listener.connections == 0


def test_endpoints_are_admin_only_and_never_show_the_secret(world, loopback_allowed, orthanc):
    client = world.client(world.admin)
    created = _register(client, orthanc.dicomweb, auth="basic", username=USER, secret=PASSWORD)
    assert created.status_code == 201 and "secret" not in created.data
    listed = client.get(ENDPOINTS)
    assert PASSWORD not in listed.content.decode()
    assert world.client(world.annotator).get(ENDPOINTS).status_code == 403
    assert world.client(world.outsider).get(ENDPOINTS).status_code == 404
    audit = AuditEvent.objects.get(action="pacs.endpoint_created")
    assert PASSWORD not in str(audit.after)


@pytest.fixture
def orthanc_endpoint(world, loopback_allowed, orthanc):
    response = _register(
        world.client(world.admin), orthanc.dicomweb, auth="basic", username=USER, secret=PASSWORD
    )
    assert response.status_code == 201, response.data
    return response.data["id"]


def test_search_finds_studies_and_logs_nothing_identifying(
    world, orthanc, orthanc_endpoint, caplog
):
    caplog.set_level(logging.DEBUG)
    client = world.client(world.admin)
    url = f"{ENDPOINTS}{orthanc_endpoint}/search/"
    everything = client.post(url, {}, format="json")
    assert everything.status_code == 200, everything.data
    assert everything["Cache-Control"] == "no-store"
    assert set(orthanc.studies.values()) <= {s["study_uid"] for s in everything.data}
    # Debian's orthanc-dicomweb (Orthanc 1.10) answers QIDO PatientName filters with no match
    # even where Orthanc's own /tools/find matches; the filter must at least narrow, not widen.
    by_name = client.post(url, {"patient_name": "CompressedSamples^MR*"}, format="json")
    assert by_name.status_code == 200
    assert {s["study_uid"] for s in by_name.data} <= {orthanc.studies["mr"]}
    by_id = client.post(url, {"patient_id": "PHI-123456", "modality": "CT"}, format="json")
    assert [s["study_uid"] for s in by_id.data] == [orthanc.studies["phi"]]
    assert by_id.data[0]["patient_name"] == "ZZTEST^PATIENT", "admins see the PACS's own names"
    assert client.post(url, {"modality": "XA"}, format="json").data == []
    assert client.post(url, {"study_date_from": "2101"}, format="json").status_code == 400
    assert "ZZTEST" not in caplog.text and "PHI-123456" not in caplog.text
    assert orthanc.studies["phi"] not in caplog.text
    assert world.client(world.reviewer).post(url, {}, format="json").status_code == 403


def test_pulled_studies_are_de_identified_through_ingest(
    world, orthanc, orthanc_endpoint, eager, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.DEBUG)
    client = world.client(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            f"{ENDPOINTS}{orthanc_endpoint}/imports/",
            {"study_uids": [orthanc.studies["phi"], orthanc.studies["ct_series"]]},
            format="json",
        )
    assert created.status_code == 202, created.data
    job = PacsImportJob.objects.get(pk=created.data["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.total, job.done) == (4, 4)
    assert [r["code"] for r in job.report] == ["stored"] * 4
    assert orthanc.studies["phi"] not in job.study_uids, "only pseudonymous UIDs stay"
    status = client.get(f"/api/projects/chest/pacs/imports/{job.pk}/")
    assert status.status_code == 200 and status.data["progress"] == 1.0
    assert Instance.objects.count() == 4 and Image.objects.count() == 4

    source = load_source()
    needles = [
        *SENTINELS,
        orthanc.studies["phi"],
        str(source.SOPInstanceUID),
        str(source.SeriesInstanceUID),
    ]
    for instance in Instance.objects.all():
        stored = pydicom.dcmread(world_media(instance.file))
        assert stored.PatientIdentityRemoved == "YES"
        raw = world_media(instance.file).read_bytes().lower()
        assert [n for n in needles if n.encode().lower() in raw] == []
    text = caplog.text + str(list(AuditEvent.objects.values_list("after", flat=True)))
    text += status.content.decode()
    assert [n for n in needles if n in text] == []

    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(
            f"{ENDPOINTS}{orthanc_endpoint}/imports/",
            {"study_uids": [orthanc.studies["ct_series"]]},
            format="json",
        )
    rerun = PacsImportJob.objects.get(pk=again.data["id"])
    assert [r["code"] for r in rerun.report] == ["already_stored"] * 3
    assert Instance.objects.count() == 4


def test_an_unknown_study_imports_nothing_and_a_dead_pacs_fails_the_job_generically(
    world, orthanc_endpoint, eager, django_capture_on_commit_callbacks, listener
):
    """A study the PACS does not hold is a search that matches nothing (QIDO-RS answers an
    empty list, not an error): the job succeeds with nothing imported."""
    client = world.client(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            f"{ENDPOINTS}{orthanc_endpoint}/imports/", {"study_uids": ["1.2.3.4"]}, format="json"
        )
    job = PacsImportJob.objects.get(pk=created.data["id"])
    assert (job.status, job.error, job.total, job.report) == (JobStatus.SUCCEEDED, "", 0, [])
    refused = client.post(
        f"{ENDPOINTS}{orthanc_endpoint}/imports/", {"study_uids": ["1.2.x"]}, format="json"
    )
    assert refused.status_code == 400

    dead = _register(client, f"http://127.0.0.1:{listener.port}/dicom-web")
    listener.close()
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            f"{ENDPOINTS}{dead.data['id']}/imports/", {"study_uids": ["1.2.3"]}, format="json"
        )
    job = PacsImportJob.objects.get(pk=created.data["id"])
    assert job.status == JobStatus.FAILED
    assert job.error == "The PACS did not answer as expected."


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_redis_runs_the_pacs_import(
    world, orthanc, orthanc_endpoint, monkeypatch
):
    """The production column: the API enqueues on commit into Redis, a `celery worker -Q cpu`
    process claims the job from PostgreSQL, pulls from Orthanc and stores through ingest."""
    monkeypatch.setenv("RADLABEL_PACS_ALLOWED_HOSTS", "127.0.0.1")  # read by the worker
    client = world.client(world.admin)
    with celery_worker("cpu") as worker:
        created = client.post(
            f"{ENDPOINTS}{orthanc_endpoint}/imports/",
            {"study_uids": [orthanc.studies["ct_series"]]},
            format="json",
        )
        assert created.status_code == 202, created.data
        job = wait_finished(PacsImportJob, created.data["id"], timeout=120, what="the PACS import")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert "radlabel.pacs_import" in worker.output, worker.output[-3000:]
    assert [r["code"] for r in job.report] == ["stored"] * 3
    assert Instance.objects.count() == 3


def _one_instance_pacs(instance: bytes, *, pages_forever: bool = False) -> Listener:
    """A DICOMweb server holding one instance: QIDO-RS lists it, WADO-RS sends ``instance``.
    ``pages_forever``: every page of the listing holds an instance, never an empty one."""
    boundary = "radlabel-test-boundary"

    def answer(path):
        if "/series/" in path:
            head = f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            tail = f"\r\n--{boundary}--\r\n".encode()
            content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
            return 200, head + instance + tail, {"Content-Type": content_type}
        found = [
            {
                "0020000E": {"vr": "UI", "Value": ["1.2.3.2"]},
                "00080018": {"vr": "UI", "Value": ["1.2.3.3"]},
            }
        ]
        first_page = pages_forever or "offset=" not in path or "offset=0&" in path + "&"
        return 200, json.dumps(found if first_page else []).encode(), None

    return Listener(answer=answer)


def _pull(world, server, django_capture_on_commit_callbacks):
    endpoint = DicomWebEndpoint.objects.create(
        project=world.project, name="one", url=f"http://127.0.0.1:{server.port}/dicom-web"
    )
    with django_capture_on_commit_callbacks(execute=True):
        created = world.client(world.admin).post(
            f"{ENDPOINTS}{endpoint.pk}/imports/", {"study_uids": ["1.2.3.1"]}, format="json"
        )
    assert created.status_code == 202, created.data
    return PacsImportJob.objects.get(pk=created.data["id"])


def test_a_pulled_instance_reaches_the_strict_scan_as_the_pacs_sent_it(
    world, loopback_allowed, eager, django_capture_on_commit_callbacks
):
    whole = pydicom_test_file("CT_small.dcm").read_bytes()
    server = _one_instance_pacs(whole[: len(whole) - 1000])  # cut inside Pixel Data
    try:
        job = _pull(world, server, django_capture_on_commit_callbacks)
    finally:
        server.close()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert [r["code"] for r in job.report] == ["dicom_truncated"]
    assert not Instance.objects.exists()


def test_a_pacs_that_pages_forever_fails_the_import(
    world, loopback_allowed, eager, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(pacs, "MAX_INSTANCES_PER_STUDY", 5)
    server = _one_instance_pacs(b"", pages_forever=True)
    try:
        job = _pull(world, server, django_capture_on_commit_callbacks)
    finally:
        server.close()
    assert job.status == JobStatus.FAILED
    assert job.error == "A study on the PACS lists more than 5 instances."
    assert server.requests == 6
    assert not Instance.objects.exists()


def test_a_pulled_instance_over_the_file_limit_is_refused_unread(
    world, loopback_allowed, eager, django_capture_on_commit_callbacks, settings
):
    settings.RADLABEL_MAX_FILE_BYTES = 1000
    server = _one_instance_pacs(b"\x00" * 8 * 1024 * 1024)
    try:
        job = _pull(world, server, django_capture_on_commit_callbacks)
    finally:
        server.close()
    assert [(r["code"], r["status"]) for r in job.report] == [("file_too_large", 413)]
    assert not Instance.objects.exists()


def test_a_pulled_instance_in_a_multipart_answer_is_stored(
    world, loopback_allowed, eager, django_capture_on_commit_callbacks
):
    server = _one_instance_pacs(pydicom_test_file("CT_small.dcm").read_bytes())
    try:
        job = _pull(world, server, django_capture_on_commit_callbacks)
    finally:
        server.close()
    assert [r["code"] for r in job.report] == ["stored"], job.report
    assert Instance.objects.count() == 1


def test_a_dicom_seg_is_pushed_back_and_orthanc_holds_it(
    world, orthanc, orthanc_endpoint, eager, django_capture_on_commit_callbacks
):
    client = world.client(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"{ENDPOINTS}{orthanc_endpoint}/imports/",
            {"study_uids": [orthanc.studies["ct_series"]]},
            format="json",
        )
    image = Image.objects.order_by("position").first()
    mask = np.zeros((image.rows, image.columns), np.uint8)
    mask[10:40, 20:50] = 1
    accepted_label(world, image, coco.encode_mask(mask))

    def push():
        return client.post(
            f"{ENDPOINTS}{orthanc_endpoint}/stow/", {"series": image.series_id}, format="json"
        )

    def instances(**query):
        return requests.get(
            f"{orthanc.dicomweb}/instances", params=query, auth=orthanc.auth, timeout=30
        ).json()

    def held_in(series):
        return sorted(i["00080018"]["Value"][0] for i in instances(SeriesInstanceUID=series))

    pushed = push()
    assert pushed.status_code == 201, pushed.data
    sop = pushed.data["sop_instance_uid"]
    found = instances(SOPInstanceUID=sop)
    assert len(found) == 1 and found[0]["00080016"]["Value"] == ["1.2.840.10008.5.1.4.1.1.66.4"]
    study = found[0]["0020000D"]["Value"][0]
    series = found[0]["0020000E"]["Value"][0]
    data = requests.get(
        f"{orthanc.url}/instances/"
        + requests.post(
            f"{orthanc.url}/tools/lookup", data=sop, auth=orthanc.auth, timeout=30
        ).json()[0]["ID"]
        + "/file",
        auth=orthanc.auth,
        timeout=30,
    ).content
    seg = pydicom.dcmread(io.BytesIO(data))
    assert seg.StudyInstanceUID == study == image.series.study.study_uid
    assert seg.SeriesInstanceUID == series
    assert AuditEvent.objects.filter(action="pacs.seg_pushed").count() == 1
    # the same labels pushed again are the same instance: the PACS still holds one SEG
    again = push()
    assert again.status_code == 201 and again.data["sop_instance_uid"] == sop, again.data
    assert held_in(series) == [sop]
    assert (again.data["instance_number"], again.data["previous_sop_instance_uid"]) == (1, None)
    # changed labels are the next revision in the same SEG series, referencing the first
    annotation = Annotation.objects.get(image=image)
    mask[10:40, 20:50] = 0
    mask[50:60, 50:60] = 1
    rle = coco.encode_mask(mask)
    annotations.annotation_update(
        annotation=annotation,
        actor=world.admin,
        expected_version=annotation.version,
        mask=rle,
        box=coco.bbox_of_mask(rle),
    )
    revised = push()
    assert revised.status_code == 201, revised.data
    assert revised.data["sop_instance_uid"] != sop
    assert revised.data["series_instance_uid"] == series
    assert (revised.data["instance_number"], revised.data["previous_sop_instance_uid"]) == (2, sop)
    assert held_in(series) == sorted([sop, revised.data["sop_instance_uid"]])
    event = AuditEvent.objects.filter(action="pacs.seg_pushed").latest("id")
    assert (event.after["instance_number"], event.after["previous_sop_instance_uid"]) == (2, sop)
    other = client.post(f"{ENDPOINTS}{orthanc_endpoint}/stow/", {"series": 10**9}, format="json")
    assert other.status_code == 404


def world_media(path):
    from pathlib import Path

    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / path
