"""Labels the tests make through the service, as a person would draw them."""

import uuid

from annotator import coco
from annotator.services import annotations


def accepted_label(world, image, mask, label_class=None):
    """``mask`` (a COCO RLE) as a label the world's admin drew and accepted, boxed by its mask,
    of the world's instance class unless another is given."""
    annotation, _ = annotations.annotation_create(
        image=image,
        actor=world.admin,
        client_key=uuid.uuid4(),
        label_class=(label_class or world.instance_class).pk,
        box=coco.bbox_of_mask(mask),
        mask=mask,
    )
    return annotation
