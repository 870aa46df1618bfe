"""Write COCO RLE fixtures for the frontend's RLE tests.

Run: /work/main/.venv/bin/python frontend/scripts/make_rle_fixtures.py
Writes frontend/src/viewer/__fixtures__/rle.json: a list of masks, each with
its size, its pixels row-major packed 8 to a byte (most significant bit
first) as hex, and what pycocotools
says about it (compressed `counts`, area, bbox). The Vitest suite decodes and
re-encodes every one and must match these strings byte for byte.
"""

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

OUT = Path(__file__).resolve().parent.parent / "src" / "viewer" / "__fixtures__" / "rle.json"


def disc(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)


def cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(20240611)
    out: list[tuple[str, np.ndarray]] = []
    out.append(("empty 4x5", np.zeros((4, 5), np.uint8)))
    out.append(("full 3x7", np.ones((3, 7), np.uint8)))
    one = np.zeros((6, 6), np.uint8)
    one[0, 0] = 1
    out.append(("first pixel", one))
    last = np.zeros((6, 9), np.uint8)
    last[5, 8] = 1
    out.append(("last pixel", last))
    out.append(("row vector", (rng.random((1, 40)) > 0.5).astype(np.uint8)))
    out.append(("column vector", (rng.random((40, 1)) > 0.5).astype(np.uint8)))
    out.append(("1x1 set", np.ones((1, 1), np.uint8)))
    out.append(("1x1 unset", np.zeros((1, 1), np.uint8)))
    rect = np.zeros((20, 30), np.uint8)
    rect[3:11, 5:25] = 1
    out.append(("rectangle non-square", rect))
    out.append(("disc 64", disc(64, 64, 30.5, 33.2, 17)))
    out.append(("disc 512 CT-sized", disc(512, 512, 260, 190, 41)))
    two = disc(128, 96, 40, 30, 12) | disc(128, 96, 90, 70, 20)
    out.append(("two blobs", two))
    for i, p in enumerate((0.02, 0.5, 0.97)):
        out.append((f"noise p={p}", (rng.random((37, 53)) < p).astype(np.uint8)))
    # long runs exercise multi-character deltas (negative and positive)
    stripes = np.zeros((300, 200), np.uint8)
    stripes[:, 10:11] = 1
    stripes[:, 150:190] = 1
    stripes[299, :] = 1
    out.append(("long runs", stripes))
    big = disc(700, 600, 350, 320, 250)
    big[100:110, :] = 1
    out.append(("disc 700x600", big))
    return out


def main() -> None:
    items = []
    for name, m in cases():
        rle = mask_utils.encode(np.asfortranarray(m))
        items.append(
            {
                "name": name,
                "size": [int(m.shape[0]), int(m.shape[1])],
                "bits_hex": np.packbits(m.reshape(-1).astype(bool)).tobytes().hex(),
                "counts": rle["counts"].decode("ascii"),
                "area": int(mask_utils.area(rle)),
                "bbox": [float(v) for v in mask_utils.toBbox(rle)],
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(items, separators=(",", ":")) + "\n")
    print(f"wrote {len(items)} masks to {OUT}")


if __name__ == "__main__":
    main()
