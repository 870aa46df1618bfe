from annotator.models.annotations import Annotation, AnnotationStatus, ImageActivity, Source
from annotator.models.audit import AuditEvent
from annotator.models.jobs import (
    ACTIVE_JOB_STATUSES,
    DicomWebEndpoint,
    ExportJob,
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    PacsImportJob,
    PreannotationJob,
    TrainingJob,
    WorkerHeartbeat,
)
from annotator.models.projects import LabelClass, LabelKind, Membership, Project, Role
from annotator.models.studies import (
    Image,
    ImageStatus,
    Instance,
    Patient,
    Series,
    Split,
    Study,
)

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "DicomWebEndpoint",
    "ExportJob",
    "JobStatus",
    "ModelVersion",
    "ModelVersionStatus",
    "PacsImportJob",
    "PreannotationJob",
    "TrainingJob",
    "WorkerHeartbeat",
    "Annotation",
    "AnnotationStatus",
    "AuditEvent",
    "Image",
    "ImageActivity",
    "ImageStatus",
    "Instance",
    "LabelClass",
    "LabelKind",
    "Membership",
    "Patient",
    "Project",
    "Role",
    "Series",
    "Source",
    "Split",
    "Study",
]
