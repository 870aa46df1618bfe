"""factory_boy factories with default parents: each builds the minimum it needs."""

import uuid

import factory
from django.contrib.auth import get_user_model

from annotator import models


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct-horse-battery")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Project

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.Sequence(lambda n: f"Project {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = models.Role.ANNOTATOR


class LabelClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.LabelClass

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"class-{n}")
    color = "#ff8800"
    kind = models.LabelKind.INSTANCE


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Patient

    project = factory.SubFactory(ProjectFactory)
    pseudonym = factory.Sequence(lambda n: f"P-{n:012x}")
    split = models.Split.TRAIN


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Study

    patient = factory.SubFactory(PatientFactory)
    project = factory.SelfAttribute("patient.project")
    study_uid = factory.Sequence(lambda n: f"2.25.1{n}")


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Series

    study = factory.SubFactory(StudyFactory)
    series_uid = factory.Sequence(lambda n: f"2.25.2{n}")
    modality = "CT"
    series_number = 1


class InstanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Instance

    series = factory.SubFactory(SeriesFactory)
    project = factory.SelfAttribute("series.study.project")
    sop_uid = factory.Sequence(lambda n: f"2.25.3{n}")
    sop_class_uid = "1.2.840.10008.5.1.4.1.1.2"
    transfer_syntax_uid = "1.2.840.10008.1.2.1"
    instance_number = factory.Sequence(lambda n: n)
    file = factory.LazyAttribute(lambda o: f"projects/x/instances/{o.sop_uid}.dcm")
    sha256 = "0" * 64
    size = 1


class ImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Image

    instance = factory.SubFactory(InstanceFactory)
    series = factory.SelfAttribute("instance.series")
    project = factory.SelfAttribute("instance.project")
    rows = 64
    columns = 64
    photometric = "MONOCHROME2"
    window_center = 40.0
    window_width = 400.0
    preview = "projects/x/previews/none.png"


class AnnotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Annotation

    image = factory.SubFactory(ImageFactory)
    project = factory.SelfAttribute("image.project")
    label_class = factory.SubFactory(LabelClassFactory, project=factory.SelfAttribute("..project"))
    client_key = factory.LazyFunction(uuid.uuid4)
    box_x, box_y, box_w, box_h = 4.0, 4.0, 10.0, 12.0
    source = models.Source.MODEL
    status = models.AnnotationStatus.PROPOSED
    score = 0.9


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ModelVersion

    project = factory.SubFactory(ProjectFactory)
    number = factory.Sequence(lambda n: n + 1)
    backbone = "resnet18_fpn"
    weights_file = "projects/x/models/none.pt"
    sha256 = "0" * 64
    score_threshold = 0.5


class TrainingJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TrainingJob

    project = factory.SubFactory(ProjectFactory)


class PreannotationJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PreannotationJob

    project = factory.SubFactory(ProjectFactory)
    model_version = factory.SubFactory(
        ModelVersionFactory, project=factory.SelfAttribute("..project")
    )


def api_project(slug: str, name: str, classes: list[str]):
    """A server admin's API client, and the project (with these instance classes) it created
    through the API."""
    from rest_framework.test import APIClient

    admin = UserFactory(is_superuser=True, is_staff=True)
    client = APIClient()
    client.force_authenticate(admin)
    created = client.post(
        "/api/projects/",
        {
            "slug": slug,
            "name": name,
            "label_classes": [{"name": c, "color": "#ff0000"} for c in classes],
        },
        format="json",
    )
    assert created.status_code == 201, created.data
    return client
