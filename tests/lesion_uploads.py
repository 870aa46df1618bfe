"""The demo's lesion slices through the API: uploaded to a project, each lesion a label."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.core.files.uploadedfile import SimpleUploadedFile

from annotator import coco
from radlabel.demo.dicom import LesionSlice


def slices_upload(client, slug: str, slices: Sequence[LesionSlice]) -> list[int]:
    """Each slice uploaded to project ``slug`` in one request; their image ids, in order."""
    response = client.post(
        f"/api/projects/{slug}/uploads/",
        {"files": [SimpleUploadedFile(f"{i}.dcm", s.data) for i, s in enumerate(slices)]},
        format="multipart",
    )
    assert response.status_code == 201, response.data
    return [entry["image_ids"][0] for entry in response.data["files"]]


def lesions_label(client, image_id: int, lesion: LesionSlice, classes: int | Sequence[int]) -> None:
    """Each of the slice's lesions a label of the image: of ``classes`` (one id for every
    lesion, or one per lesion class, in ``CLASS_NAMES`` order)."""
    for mask, label in zip(lesion.masks, lesion.labels, strict=True):
        created = client.post(
            f"/api/images/{image_id}/annotations/",
            {
                "client_key": str(uuid.uuid4()),
                "label_class": classes if isinstance(classes, int) else classes[label - 1],
                **coco.box_and_mask(mask),
            },
            format="json",
        )
        assert created.status_code == 201, created.data
