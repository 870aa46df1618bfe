"""Django admin for the people who run the server (superusers only)."""

from django.contrib import admin

from annotator import models


class SuperuserOnly(admin.ModelAdmin):
    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)


@admin.register(models.Project)
class ProjectAdmin(SuperuserOnly):
    list_display = ["slug", "name", "split_train", "split_val", "split_test", "created_at"]
    search_fields = ["slug", "name"]


@admin.register(models.Membership)
class MembershipAdmin(SuperuserOnly):
    list_display = ["project", "user", "role"]
    list_filter = ["role", "project"]


@admin.register(models.LabelClass)
class LabelClassAdmin(SuperuserOnly):
    list_display = ["project", "name", "kind", "color", "is_active"]
    list_filter = ["project", "kind", "is_active"]


@admin.register(models.Patient)
class PatientAdmin(SuperuserOnly):
    list_display = ["pseudonym", "project", "split", "split_manual"]
    list_filter = ["project", "split"]
    readonly_fields = ["pseudonym", "split"]


@admin.register(models.Study)
class StudyAdmin(SuperuserOnly):
    list_display = ["study_uid", "project", "patient"]
    list_filter = ["project"]
    raw_id_fields = ["patient"]


@admin.register(models.Series)
class SeriesAdmin(SuperuserOnly):
    list_display = ["series_uid", "modality", "series_number", "study"]
    list_filter = ["modality"]
    raw_id_fields = ["study"]


@admin.register(models.SegRevision)
class SegRevisionAdmin(SuperuserOnly):
    """The DICOM-SEG instances issued: a record, not for editing (a PACS may hold them)."""

    list_display = ["series", "instance_number", "sop_instance_uid", "created_at"]
    readonly_fields = ["series", "digest", "sop_instance_uid", "instance_number", "previous"]


@admin.register(models.Instance)
class InstanceAdmin(SuperuserOnly):
    list_display = ["sop_uid", "project", "number_of_frames", "transfer_syntax_uid", "size"]
    list_filter = ["project"]
    raw_id_fields = ["series"]
    readonly_fields = ["file", "sha256", "size"]


@admin.register(models.Image)
class ImageAdmin(SuperuserOnly):
    list_display = ["id", "project", "status", "modality", "quarantined", "uncertainty"]
    list_filter = ["project", "status", "quarantined"]
    raw_id_fields = ["series", "instance"]

    @admin.display(ordering="series__modality")
    def modality(self, image: models.Image) -> str:
        return image.series.modality


@admin.register(models.Annotation)
class AnnotationAdmin(SuperuserOnly):
    list_display = ["id", "image", "label_class", "source", "status", "score", "version"]
    list_filter = ["project", "source", "status"]
    raw_id_fields = ["image", "label_class", "created_by", "updated_by"]
    readonly_fields = ["version"]


@admin.register(models.ImageActivity)
class ImageActivityAdmin(SuperuserOnly):
    list_display = ["image", "user", "seconds", "updated_at"]
    raw_id_fields = ["image"]


@admin.register(models.ProposalOutcome)
class ProposalOutcomeAdmin(SuperuserOnly):
    """What each proposal proposed, beside its annotation: the record its fate is read from."""

    list_display = ["id", "image", "source", "model_version", "label_class", "created_at"]
    list_filter = ["project", "source"]
    raw_id_fields = ["image", "annotation", "label_class"]
    readonly_fields = ["box", "mask", "deleted_as"]


@admin.register(models.ImagePreannotation)
class ImagePreannotationAdmin(SuperuserOnly):
    list_display = ["image", "model_version"]
    raw_id_fields = ["image"]


@admin.register(models.TagSuggestion)
class TagSuggestionAdmin(SuperuserOnly):
    list_display = ["image", "label_class", "probability", "threshold", "decision", "model_version"]
    list_filter = ["decision"]
    raw_id_fields = ["image", "label_class", "decided_by"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(SuperuserOnly):
    """Read-only: the audit trail is append-only."""

    list_display = ["created_at", "actor", "action", "object_type", "object_id", "project"]
    list_filter = ["action", "project"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.ModelVersion)
class ModelVersionAdmin(SuperuserOnly):
    list_display = ["project", "number", "status", "backbone", "created_at", "promoted_at"]
    list_filter = ["project", "status"]
    readonly_fields = ["weights_file", "sha256", "metrics", "training_data"]


@admin.register(models.TrainingJob, models.PreannotationJob, models.ExportJob, models.PacsImportJob)
class JobAdmin(SuperuserOnly):
    list_display = ["id", "project", "status", "progress", "attempts", "created_at"]
    list_filter = ["project", "status"]


@admin.register(models.DicomWebEndpoint)
class DicomWebEndpointAdmin(SuperuserOnly):
    list_display = ["name", "project", "url", "auth"]
    exclude = ["secret"]


@admin.register(models.WorkerHeartbeat)
class WorkerHeartbeatAdmin(SuperuserOnly):
    list_display = ["hostname", "queues", "accelerator", "last_seen"]


@admin.register(models.ReviewComment)
class ReviewCommentAdmin(SuperuserOnly):
    list_display = ["image", "annotation", "author", "created_at"]
    readonly_fields = ["image", "annotation", "author", "created_at"]


@admin.register(models.Read)
class ReadAdmin(SuperuserOnly):
    """What a reader submitted: a record, not edited here."""

    list_display = ["image", "reader", "submitted_at"]
    readonly_fields = ["image", "reader", "submitted_at", "annotations", "tags"]
