"""Sentinel PHI goes in; none of it is anywhere afterwards: database dump, media folder, logs,
and every API response (cases 23-27 of the security cases)."""

import io
import logging
import os
import subprocess

import pytest
from django.db import connection
from django.urls import reverse

from annotator.models import Image, Study
from tests import factories
from tests.annotator.dicom.phi import SENTINELS, build_phi_dataset, load_source
from tests.dicom_files import zip_of


def _bytes(ds) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _find(haystack: bytes, needles: list[str]) -> list[str]:
    lowered = haystack.lower()
    return [n for n in needles if n.encode().lower() in lowered]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="dumps the PostgreSQL database")
def test_no_sentinel_phi_survives_ingest_anywhere(media_root, caplog):
    caplog.set_level(logging.DEBUG)
    phi = build_phi_dataset()
    source = load_source()
    needles = [
        *SENTINELS,
        *(
            str(source[k].value)
            for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
        ),
    ]
    assert all(_find(_bytes(phi), [n]) for n in SENTINELS), "the fixture carries every sentinel"

    client = factories.api_project("phi", "PHI check", ["nodule"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client.post(
        "/api/projects/phi/uploads/",
        {
            "files": [
                SimpleUploadedFile("phi.dcm", _bytes(phi)),
                SimpleUploadedFile("again.zip", zip_of({"phi/again.dcm": _bytes(phi)})),
            ]
        },
        format="multipart",
    )
    assert upload.status_code == 201, upload.data
    assert upload.data["stored"] == 1 and upload.data["already_stored"] == 1
    image = Image.objects.get()
    study = Study.objects.get()

    responses = [upload.content]
    for name, kwargs in [
        ("auth-me", {}),
        ("project-list", {}),
        ("project-detail", {"slug": "phi"}),
        ("image-list", {"slug": "phi"}),
        ("study-list", {"slug": "phi"}),
        ("patient-list", {"slug": "phi"}),
        ("audit-list", {"slug": "phi"}),
        ("image-detail", {"pk": image.pk}),
        ("annotation-list", {"pk": image.pk}),
        ("study-detail", {"pk": study.pk}),
        ("patient-detail", {"pk": study.patient_id}),
        ("image-dicom", {"pk": image.pk}),
        ("image-preview", {"pk": image.pk}),
    ]:
        response = client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 200, name
        content = b"".join(response.streaming_content) if response.streaming else response.content
        responses.append(content)
    for content in responses:
        assert _find(content, needles) == []

    for folder, _, names in os.walk(media_root):
        for name in names:
            assert _find(name.encode(), needles) == []
            with open(os.path.join(folder, name), "rb") as stored:
                assert _find(stored.read(), needles) == [], name

    database = connection.settings_dict
    dump = subprocess.run(
        [
            "pg_dump",
            "-h",
            database["HOST"] or "127.0.0.1",
            "-p",
            str(database["PORT"] or 5432),
            "-U",
            database["USER"] or "postgres",
            "--data-only",
            database["NAME"],
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert b"annotator_image" in dump
    assert _find(dump, needles) == []
    assert _find(caplog.text.encode(), needles) == []
