"""Per-file cost of the DICOM ingest core on a 512 x 512 CT slice.

Measures each step the upload service runs for one file (strict validation, Basic
Profile de-identification, frame decode, default window, PNG preview, Part-10 write)
and the whole chain, single process, and prints the figures with the command that
reproduced them.

    .venv/bin/python bench/ingest_core.py [--file 693_UNCI.dcm] [--runs 300]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotator.dicom import (
    dataset_to_bytes,
    default_window,
    deidentify,
    frame_pixels,
    read_validated,
    render_preview,
)

SECRET = b"bench-project-secret"


def data_file(name: str) -> Path:
    spec = importlib.util.find_spec("data_store")
    if spec is None or spec.origin is None:
        raise SystemExit("pydicom-data is not installed")
    return Path(spec.origin).parent / "data" / name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default="693_UNCI.dcm", help="a file from pydicom-data")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    data = data_file(args.file).read_bytes()

    steps: dict[str, list[float]] = {
        k: [] for k in ("validate", "deidentify", "decode", "window", "preview", "write", "total")
    }
    png_bytes = 0
    for run in range(args.runs + 10):
        t0 = time.perf_counter()
        ds = read_validated(data=data, filename=args.file)
        t1 = time.perf_counter()
        result = deidentify(ds, project_secret=SECRET)
        t2 = time.perf_counter()
        pixels = frame_pixels(ds, 0)
        t3 = time.perf_counter()
        window = default_window(ds, pixels)
        t4 = time.perf_counter()
        png = render_preview(pixels, window)
        t5 = time.perf_counter()
        dataset_to_bytes(result.dataset)
        t6 = time.perf_counter()
        if run < 10:
            continue  # warm-up
        png_bytes = len(png)
        for key, value in zip(
            steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0), strict=True
        ):
            value_ms = value * 1000
            steps[key].append(value_ms)

    print(
        f"file: {args.file} ({len(data)} bytes, {ds.Rows}x{ds.Columns}, "
        f"{ds.file_meta.TransferSyntaxUID.name}); preview PNG {png_bytes} bytes"
    )
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{args.runs} runs after 10 warm-up runs, one process"
    )
    print(f"{'step':<12}{'median ms':>10}{'p95 ms':>10}")
    for key, values in steps.items():
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        print(f"{key:<12}{statistics.median(values):>10.2f}{p95:>10.2f}")
    total = statistics.median(steps["total"])
    print(f"=> {1000 / total:.0f} files/s per core for the core steps (no DB, no storage I/O)")
    print(f"reproduce: .venv/bin/python bench/ingest_core.py --file {args.file} --runs {args.runs}")


if __name__ == "__main__":
    main()
