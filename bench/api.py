"""API benchmark under gunicorn with PostgreSQL: ingest, annotation saves, image pages, export.

Run:  make bench   (DATABASE_URL=postgres://.../db .venv/bin/python bench/api.py)
Prints, in one run: files/s for ingest of 512x512 CT files with ``--per-request`` files a
request and then ``--single`` more with one file a request (the requests, then until a cpu
worker has rendered every preview); annotation save latency p50/p95/p99 and throughput with 8
concurrent clients (single-shape requests, an image's 4 shapes as 4 requests and as one batch
request); page-of-100-images latency; the COCO export of every image (with the labels the saves
made) with PNGs and without, from the request to the finished zip; and server CPU time
(user+system of every gunicorn process, and of the worker for ingest, read from /proc). The
machine's load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from backend.processes import web_command, worker_command  # noqa: E402
from radlabel.rle import encode_mask  # noqa: E402
from tests.dicom_files import ct_512_files  # noqa: E402
from tests.processes import free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its live children."""
    total = 0.0
    for task in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"p50 {pick(0.50):.1f} ms, p95 {pick(0.95):.1f} ms, p99 {pick(0.99):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--per-request", type=int, default=10)
    parser.add_argument("--single", type=int, default=200, help="files sent one a request")
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--web-workers", type=int, default=3)
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/radlabel")
    database = f"radlabel_bench_{os.getpid()}"
    server_db = base_url.rsplit("/", 1)[0]
    subprocess.run(
        ["psql", f"{server_db}/postgres", "-qc", f"CREATE DATABASE {database}"], check=True
    )
    var = tempfile.mkdtemp(prefix="radlabel-bench-")
    env = {
        **os.environ,
        "DATABASE_URL": f"{server_db}/{database}",
        "RADLABEL_VAR_DIR": var,
        "RADLABEL_HTTPS": "false",
        "DJANGO_SETTINGS_MODULE": "backend.settings.base",
        "RADLABEL_LOG_LEVEL": "WARNING",
        # a production broker: the embedded filesystem one polls once a second
        "CELERY_BROKER_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"),
    }
    python = sys.executable
    try:
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        token = (
            subprocess.run(
                [
                    python,
                    "manage.py",
                    "shell",
                    "-c",
                    "from django.contrib.auth import get_user_model;"
                    "from annotator.services.tokens import api_token_create;"
                    "u=get_user_model().objects.create_superuser('bench','b@example.org','x');"
                    "print(api_token_create(user=u)[1])",
                ],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        port = free_port()
        server = subprocess.Popen(
            web_command(
                bind=f"127.0.0.1:{port}",
                workers=args.web_workers,
                options=("--log-level", "warning"),
            ),
            cwd=ROOT,
            env=env,
        )
        worker = subprocess.Popen(
            worker_command(queues="cpu", concurrency=1, hostname="bench@%h", loglevel="WARNING"),
            cwd=ROOT,
            env=env,
        )
        try:
            run(f"http://127.0.0.1:{port}", token, server.pid, args, _Previews(env, worker.pid))
        finally:
            for process in (server, worker):
                process.terminate()
                process.wait()
            redis.Redis.from_url(env["CELERY_BROKER_URL"]).delete("cpu", "gpu", "interactive")
    finally:
        subprocess.run(
            [
                "psql",
                f"{server_db}/postgres",
                "-qc",
                f"DROP DATABASE IF EXISTS {database} WITH (FORCE)",
            ],
            check=True,
        )


class _Previews:
    """The cpu worker that renders the uploaded images' previews, and how many are missing."""

    def __init__(self, env: dict[str, str], pid: int) -> None:
        self.database, self.pid = env["DATABASE_URL"], pid

    def missing(self) -> int:
        query = "SELECT count(*) FROM annotator_image WHERE preview = ''"
        answer = subprocess.run(
            ["psql", self.database, "-tAc", query], check=True, capture_output=True, text=True
        )
        return int(answer.stdout)

    def wait(self, timeout: float = 600) -> None:
        deadline = time.perf_counter() + timeout
        while self.missing():
            if time.perf_counter() > deadline:
                raise TimeoutError("the cpu worker did not render every preview")
            time.sleep(0.1)


def run(url: str, token: str, pid: int, args: argparse.Namespace, previews: _Previews) -> None:
    session = _session(token)
    for _ in range(100):
        try:
            if session.get(f"{url}/api/health/", timeout=2).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    session.post(
        f"{url}/api/projects/",
        json={
            "slug": "bench",
            "name": "Bench",
            "label_classes": [{"name": "nodule", "color": "#ff0000"}],
        },
        timeout=10,
    ).raise_for_status()
    label_class = session.get(f"{url}/api/projects/bench/", timeout=10).json()["label_classes"][0]

    print(f"load average at the start: {os.getloadavg()}", flush=True)
    files = ct_512_files(args.files + args.single)
    ingest(url, session, pid, previews, files[: args.files], args.per_request, args.web_workers)
    if args.single:
        ingest(url, session, pid, previews, files[args.files :], 1, args.web_workers)

    images = session.get(f"{url}/api/projects/bench/images/?page_size=200", timeout=10).json()
    saves = _Saves(
        url=url,
        pid=pid,
        image_ids=[item["id"] for item in images["results"]],
        label_class=label_class["id"],
        session=session,
        clients=[_session(token) for _ in range(8)],
    )
    saves.one_at_a_time(args.saves)
    saves.by_image(args.saves // 4)
    pages(url, session, pid)
    exports(url, session, pid)
    print(f"load average at the end: {os.getloadavg()}")
    print(
        "reproduce: make bench   (DATABASE_URL=... .venv/bin/python -u bench/api.py "
        f"--files {args.files} --per-request {args.per_request} --single {args.single} "
        f"--saves {args.saves} --web-workers {args.web_workers})"
    )


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


def ingest(
    url: str,
    session: requests.Session,
    pid: int,
    previews: _Previews,
    files: list[bytes],
    per_request: int,
    web_workers: int,
) -> None:
    """``files`` uploaded ``per_request`` at a time by ``web_workers`` clients, until the cpu
    worker has rendered every preview."""

    def upload(batch: list[bytes]) -> None:
        response = session.post(
            f"{url}/api/projects/bench/uploads/",
            timeout=120,
            files=[("files", (f"{uuid.uuid4().hex}.dcm", data)) for data in batch],
        )
        assert response.status_code == 201, response.text

    batches = [files[i : i + per_request] for i in range(0, len(files), per_request)]
    cpu, start = _cpu_seconds(pid), time.perf_counter()
    worker_cpu = _cpu_seconds(previews.pid)
    with ThreadPoolExecutor(max_workers=web_workers) as pool:
        list(pool.map(upload, batches))
    elapsed, cpu = time.perf_counter() - start, _cpu_seconds(pid) - cpu
    previews.wait()
    rendered = time.perf_counter() - start
    worker_cpu = _cpu_seconds(previews.pid) - worker_cpu
    print(
        f"ingest: {len(files)} CT files 512x512 in {elapsed:.1f} s = "
        f"{len(files) / elapsed:.1f} files/s ({per_request} files/request, "
        f"{web_workers} clients); web server CPU {cpu / len(files) * 1000:.1f} "
        f"ms/file; every preview rendered after {rendered:.1f} s = "
        f"{len(files) / rendered:.1f} files/s, worker CPU "
        f"{worker_cpu / len(files) * 1000:.1f} ms/file",
        flush=True,
    )


def _shapes() -> list[dict]:
    """Three boxes and a box with its mask."""
    mask = np.zeros((512, 512), dtype=np.uint8)
    mask[200:260, 180:250] = 1
    rle = encode_mask(mask)
    return [{"box": [10 + k * 40, 20, 30, 30]} for k in range(3)] + [
        {"box": [180, 200, 70, 60], "mask": rle}
    ]


@dataclass
class _Saves:
    """Annotation saves on the uploaded images, from one client and from 8 concurrent ones."""

    url: str
    pid: int
    image_ids: list[int]
    label_class: int
    session: requests.Session
    clients: list[requests.Session]
    shapes: list[dict] = field(default_factory=_shapes)

    def new(self, shape: dict) -> dict:
        return {"client_key": str(uuid.uuid4()), "label_class": self.label_class, **shape}

    def save(self, index: int, client: requests.Session) -> float:
        image = self.image_ids[index // 4 % len(self.image_ids)]
        started = time.perf_counter()
        response = client.post(
            f"{self.url}/api/images/{image}/annotations/",
            timeout=10,
            json=self.new(self.shapes[index % 4]),
        )
        assert response.status_code == 201, response.text
        return time.perf_counter() - started

    def one_at_a_time(self, saves: int) -> None:
        """``saves`` shapes cycled over the images, one request each: sequential, then twice as
        many from 8 concurrent clients."""
        cpu = _cpu_seconds(self.pid)
        latencies = [self.save(i, self.session) for i in range(saves)]
        cpu = _cpu_seconds(self.pid) - cpu
        print(
            f"annotation save (3 boxes + 1 mask, cycled), {saves} sequential: "
            f"{_percentiles(latencies)}; server CPU {cpu / saves * 1000:.1f} ms/request"
        )
        total = saves * 2
        cpu, start = _cpu_seconds(self.pid), time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            concurrent = list(pool.map(lambda i: self.save(i, self.clients[i % 8]), range(total)))
        elapsed, cpu = time.perf_counter() - start, _cpu_seconds(self.pid) - cpu
        print(
            f"annotation save, 8 concurrent clients: {total / elapsed:.1f} saves/s, "
            f"{_percentiles(concurrent)}; server CPU {cpu / total * 1000:.1f} ms/request"
        )

    def image_save(self, index: int, client: requests.Session, batch: bool) -> float:
        """An image's four shapes: one batch request, or one request a shape."""
        image = f"{self.url}/api/images/{self.image_ids[index % len(self.image_ids)]}/annotations/"
        started = time.perf_counter()
        if batch:
            response = client.post(
                f"{image}batch/", timeout=10, json={"create": [self.new(s) for s in self.shapes]}
            )
            assert response.status_code == 200, response.text
        else:
            for shape in self.shapes:
                response = client.post(image, timeout=10, json=self.new(shape))
                assert response.status_code == 201, response.text
        return time.perf_counter() - started

    def by_image(self, saves: int) -> None:
        """``saves`` images' four shapes in four requests and in one batch: sequential, and
        twice as many from 8 concurrent clients."""
        for batch, how in ((False, "4 requests"), (True, "1 batch request")):
            cpu = _cpu_seconds(self.pid)
            latencies = [self.image_save(i, self.session, batch) for i in range(saves)]
            cpu = _cpu_seconds(self.pid) - cpu
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(
                    pool.map(
                        lambda i, b=batch: self.image_save(i, self.clients[i % 8], b),
                        range(saves * 2),
                    )
                )
            rate = saves * 2 / (time.perf_counter() - start)
            print(
                f"an image's 4 shapes (3 boxes + 1 mask) in {how}, {saves} sequential: "
                f"{_percentiles(latencies)}; server CPU {cpu / saves * 1000:.1f} ms/image; "
                f"8 concurrent clients: {rate:.1f} images/s"
            )


def pages(url: str, session: requests.Session, pid: int) -> None:
    """The worklist's page of 100 images, 100 times."""

    def page() -> float:
        started = time.perf_counter()
        response = session.get(
            f"{url}/api/projects/bench/images/?page_size=100&ordering=-id", timeout=10
        )
        assert response.status_code == 200 and len(response.json()["results"]) == 100
        return time.perf_counter() - started

    cpu = _cpu_seconds(pid)
    timings = [page() for _ in range(100)]
    cpu = _cpu_seconds(pid) - cpu
    print(
        f"page of 100 images (with annotation facts), 100 requests: {_percentiles(timings)}; "
        f"server CPU {cpu / 100 * 1000:.1f} ms/request"
    )


def exports(url: str, session: requests.Session, pid: int) -> None:
    """Every image exported as COCO (``images: all``), with 8-bit PNGs and without, from the
    request to the finished zip (the cpu worker builds it)."""
    count = session.get(f"{url}/api/projects/bench/images/?page_size=1", timeout=10).json()
    for image_format in ("none", "png8"):
        start = time.perf_counter()
        job = session.post(
            f"{url}/api/projects/bench/exports/",
            json={"images": "all", "image_format": image_format},
            timeout=30,
        )
        assert job.status_code == 202, job.text
        while (state := session.get(f"{url}/api/exports/{job.json()['id']}/", timeout=10).json())[
            "status"
        ] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.05)
        assert state["status"] == "succeeded", state
        elapsed = time.perf_counter() - start
        download = session.get(f"{url}/api/exports/{state['id']}/download/", timeout=60)
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            pngs = sum(name.endswith(".png") for name in archive.namelist())
        print(
            f"COCO export of {count['count']} images ({image_format}): {elapsed:.2f} s from "
            f"the request to the finished zip ({len(download.content) / 2**20:.0f} MiB, "
            f"{pngs} PNGs)",
            flush=True,
        )


if __name__ == "__main__":
    main()
