from django.urls import path

from annotator.apis import (
    annotations,
    assist,
    augmentation,
    auth,
    backbones,
    models,
    projects,
    review,
    studies,
    system,
)
from annotator.apis import exports as export_apis
from annotator.apis import pacs as pacs_apis

urlpatterns = [
    path("health/", system.HealthApi.as_view(), name="health"),
    path("auth/csrf/", auth.CsrfApi.as_view(), name="auth-csrf"),
    path("auth/login/", auth.LoginApi.as_view(), name="auth-login"),
    path("auth/logout/", auth.LogoutApi.as_view(), name="auth-logout"),
    path("auth/me/", auth.MeApi.as_view(), name="auth-me"),
    path("auth/token/", auth.TokenApi.as_view(), name="auth-token"),
    path("auth/token/revoke/", auth.TokenRevokeApi.as_view(), name="auth-token-revoke"),
    path("projects/", projects.ProjectListApi.as_view(), name="project-list"),
    path("projects/<slug:slug>/", projects.ProjectDetailApi.as_view(), name="project-detail"),
    path(
        "projects/<slug:slug>/label-classes/",
        projects.LabelClassListApi.as_view(),
        name="label-class-list",
    ),
    path(
        "projects/<slug:slug>/label-classes/<int:pk>/",
        projects.LabelClassDetailApi.as_view(),
        name="label-class-detail",
    ),
    path("projects/<slug:slug>/members/", projects.MemberListApi.as_view(), name="member-list"),
    path(
        "projects/<slug:slug>/members/<int:pk>/",
        projects.MemberDetailApi.as_view(),
        name="member-detail",
    ),
    path(
        "projects/<slug:slug>/splits/rebalance/",
        projects.SplitRebalanceApi.as_view(),
        name="split-rebalance",
    ),
    path("projects/<slug:slug>/uploads/", projects.UploadApi.as_view(), name="upload"),
    path("projects/<slug:slug>/audit/", projects.AuditListApi.as_view(), name="audit-list"),
    path("projects/<slug:slug>/patients/", studies.PatientListApi.as_view(), name="patient-list"),
    path("projects/<slug:slug>/studies/", studies.StudyListApi.as_view(), name="study-list"),
    path("projects/<slug:slug>/images/", studies.ImageListApi.as_view(), name="image-list"),
    path("strategies/", studies.StrategyListApi.as_view(), name="strategy-list"),
    path("backbones/", backbones.BackboneListApi.as_view(), name="backbone-list"),
    path("patients/<int:pk>/", studies.PatientDetailApi.as_view(), name="patient-detail"),
    path("studies/<int:pk>/", studies.StudyDetailApi.as_view(), name="study-detail"),
    path("images/<int:pk>/", studies.ImageDetailApi.as_view(), name="image-detail"),
    path("images/<int:pk>/dicom/", studies.ImageDicomApi.as_view(), name="image-dicom"),
    path("images/<int:pk>/preview.png", studies.ImagePreviewApi.as_view(), name="image-preview"),
    path("images/<int:pk>/tags/", studies.ImageTagsApi.as_view(), name="image-tags"),
    path(
        "images/<int:pk>/tag-suggestions/",
        studies.ImageTagSuggestionApi.as_view(),
        name="image-tag-suggestions",
    ),
    path("images/<int:pk>/review/", review.ImageReviewApi.as_view(), name="image-review"),
    path("images/<int:pk>/comments/", review.ImageCommentListApi.as_view(), name="image-comments"),
    path("images/<int:pk>/lease/", review.ImageLeaseApi.as_view(), name="image-lease"),
    path("images/<int:pk>/reads/", review.ImageReadsApi.as_view(), name="image-reads"),
    path(
        "images/<int:pk>/adjudicate/",
        review.ImageAdjudicateApi.as_view(),
        name="image-adjudicate",
    ),
    path("projects/<slug:slug>/next/", review.ProjectNextApi.as_view(), name="project-next"),
    path(
        "projects/<slug:slug>/agreement/",
        review.ProjectAgreementApi.as_view(),
        name="project-agreement",
    ),
    path("images/<int:pk>/activity/", studies.ImageActivityApi.as_view(), name="image-activity"),
    path("images/<int:pk>/release/", studies.ImageReleaseApi.as_view(), name="image-release"),
    path("images/<int:pk>/segment/", assist.ImageSegmentApi.as_view(), name="image-segment"),
    path(
        "images/<int:pk>/annotations/",
        annotations.AnnotationListApi.as_view(),
        name="annotation-list",
    ),
    path(
        "images/<int:pk>/annotations/bulk/",
        annotations.AnnotationBulkApi.as_view(),
        name="annotation-bulk",
    ),
    path(
        "images/<int:pk>/annotations/batch/",
        annotations.AnnotationBatchApi.as_view(),
        name="annotation-batch",
    ),
    path(
        "projects/<slug:slug>/training-jobs/",
        models.TrainingJobListApi.as_view(),
        name="training-job-list",
    ),
    path(
        "projects/<slug:slug>/retrain/",
        models.RetrainStatusApi.as_view(),
        name="retrain-status",
    ),
    path(
        "projects/<slug:slug>/model-versions/",
        models.ModelVersionListApi.as_view(),
        name="model-version-list",
    ),
    path(
        "projects/<slug:slug>/model-versions/value/",
        models.ModelValueApi.as_view(),
        name="model-value",
    ),
    path(
        "projects/<slug:slug>/model-versions/<int:number>/value/",
        models.ModelVersionValueApi.as_view(),
        name="model-version-value",
    ),
    path(
        "projects/<slug:slug>/augmentation/",
        augmentation.AugmentationApi.as_view(),
        name="augmentation",
    ),
    path(
        "projects/<slug:slug>/augmentation/preview/",
        augmentation.AugmentationPreviewApi.as_view(),
        name="augmentation-preview",
    ),
    path("projects/<slug:slug>/preannotate/", models.PreannotateApi.as_view(), name="preannotate"),
    path(
        "projects/<slug:slug>/preannotation-jobs/",
        models.PreannotationJobListApi.as_view(),
        name="preannotation-job-list",
    ),
    path("projects/<slug:slug>/workers/", models.WorkerStatusApi.as_view(), name="worker-status"),
    path(
        "training-jobs/<int:pk>/", models.TrainingJobDetailApi.as_view(), name="training-job-detail"
    ),
    path(
        "preannotation-jobs/<int:pk>/",
        models.PreannotationJobDetailApi.as_view(),
        name="preannotation-job-detail",
    ),
    path(
        "training-jobs/<int:pk>/cancel/",
        models.JobCancelApi.as_view(),
        {"kind": "training-jobs"},
        name="training-job-cancel",
    ),
    path(
        "preannotation-jobs/<int:pk>/cancel/",
        models.JobCancelApi.as_view(),
        {"kind": "preannotation-jobs"},
        name="preannotation-job-cancel",
    ),
    path(
        "model-versions/<int:pk>/activate/",
        models.ModelVersionActivateApi.as_view(),
        name="model-version-activate",
    ),
    path(
        "annotations/<int:pk>/", annotations.AnnotationDetailApi.as_view(), name="annotation-detail"
    ),
    path(
        "projects/<slug:slug>/exports/",
        export_apis.ExportListApi.as_view(),
        name="project-export-list",
    ),
    path("exports/<int:pk>/", export_apis.ExportDetailApi.as_view(), name="export-detail"),
    path(
        "exports/<int:pk>/download/",
        export_apis.ExportDownloadApi.as_view(),
        name="export-download",
    ),
    path(
        "projects/<slug:slug>/imports/coco/",
        export_apis.CocoImportApi.as_view(),
        name="project-coco-import",
    ),
    path("series/<int:pk>/seg/", export_apis.SeriesSegApi.as_view(), name="series-seg"),
    path(
        "projects/<slug:slug>/pacs/endpoints/",
        pacs_apis.PacsEndpointListApi.as_view(),
        name="project-pacs-endpoint-list",
    ),
    path(
        "projects/<slug:slug>/pacs/endpoints/<int:pk>/",
        pacs_apis.PacsEndpointDetailApi.as_view(),
        name="project-pacs-endpoint-detail",
    ),
    path(
        "projects/<slug:slug>/pacs/endpoints/<int:pk>/search/",
        pacs_apis.PacsSearchApi.as_view(),
        name="project-pacs-search",
    ),
    path(
        "projects/<slug:slug>/pacs/endpoints/<int:pk>/imports/",
        pacs_apis.PacsImportApi.as_view(),
        name="project-pacs-import",
    ),
    path(
        "projects/<slug:slug>/pacs/endpoints/<int:pk>/stow/",
        pacs_apis.PacsPushApi.as_view(),
        name="project-pacs-push",
    ),
    path(
        "projects/<slug:slug>/pacs/imports/",
        pacs_apis.PacsImportListApi.as_view(),
        name="project-pacs-import-list",
    ),
    path(
        "projects/<slug:slug>/pacs/imports/<int:pk>/",
        pacs_apis.PacsImportDetailApi.as_view(),
        name="project-pacs-import-detail",
    ),
]
