export type Role = "admin" | "annotator" | "reviewer";
export type ImageStatus = "unlabelled" | "proposed" | "in_progress" | "returned" | "done" | "reviewed";
export type Split = "train" | "val" | "test";
export type AnnotationStatus = "proposed" | "accepted" | "rejected";
export type Box = [number, number, number, number];

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface User {
  id: number;
  username: string;
  is_superuser: boolean;
}

export interface Me extends User {
  projects: { slug: string; name: string; role: Role }[];
}

export interface ProjectCounts {
  images: number;
  by_status: Partial<Record<ImageStatus, number>>;
}

export interface ProjectSummary {
  slug: string;
  name: string;
  description: string;
  role: Role;
  counts: ProjectCounts;
}

export interface LabelClass {
  id: number;
  name: string;
  color: string;
  kind: "instance" | "tag";
}

export interface Project extends ProjectSummary {
  split_ratios: { train: number; val: number; test: number };
  /** independent reads of each image (1-3), each by another annotator, blinded */
  reads_per_image: number;
  /** annotators see no model proposals or tag suggestions */
  unassisted_reads: boolean;
  label_classes: LabelClass[];
  counts: ProjectCounts;
}

export interface ImageListItem {
  id: number;
  study_id: number;
  series_id: number;
  instance_id: number;
  patient: string;
  split: Split;
  modality: string;
  status: ImageStatus;
  instance_number: number | null;
  series_number: number | null;
  frame_number: number;
  /** frames of the instance this image is one of (1 for single-frame files) */
  frames: number;
  rows: number;
  columns: number;
  uncertainty: number | null;
  max_score: number | null;
  classes: number[];
  proposed_count: number;
  accepted_count: number;
  /** the most probable pending tag suggestion at or above its threshold */
  top_suggestion: { label_class: number; probability: number } | null;
  /** rows of a grouped listing (`group=instance`) only: the instance's frames done or reviewed */
  frames_done?: number;
  /** the DICOM instance holding this image (frames of one instance share it) */
  dicom_url: string;
}

export interface ImageDetail extends ImageListItem {
  window_center: number | null;
  window_width: number | null;
  pixel_spacing: [number, number] | null;
  photometric: string;
  series: { id: number; modality: string; series_number: number | null; image_ids: number[] };
  preview_url: string;
  tags: number[];
  /** the classifier's tag probabilities, most probable first */
  tag_suggestions: TagSuggestion[];
  active_seconds: number;
  review: ImageReview;
}

/** A reviewer's comment on an image, or on one of its annotations. */
export interface ReviewComment {
  id: number;
  annotation: number | null;
  author: string | null;
  body: string;
  created_at: string;
}

/** One reader's latest read of an image: what they submitted, for the reviewer who adjudicates. */
export interface ImageRead {
  id: number;
  reader: string | null;
  submitted_at: string;
  annotations: { label_class: number; box: Box; mask: { size: [number, number]; counts: string } | null }[];
  tags: number[];
}

/** Who submitted and reviewed the image, who reads it now (while their lease runs), what was said. */
export interface ImageReview {
  submitted_by: string | null;
  reviewed_by: string | null;
  leased_to: string | null;
  lease_expires_at: string | null;
  comments: ReviewComment[];
}

/** A model version's probability that the image has a tag; suggested at or above its threshold. */
export interface TagSuggestion {
  label_class: number;
  probability: number;
  threshold: number;
  suggested: boolean;
  decision: "pending" | "accepted" | "rejected";
  model_version: number | null;
}

export interface RleJson {
  size: [number, number];
  counts: string;
}

export interface Annotation {
  id: number;
  image: number;
  client_key: string;
  label_class: number;
  box: Box;
  mask: RleJson | null;
  score: number | null;
  /** other classes the model saw on the same finding, best first */
  alternatives: { label_class: number; score: number }[];
  /** "assist": a person's box made into a mask by the box → mask assist */
  source: "model" | "human" | "import" | "assist";
  status: AnnotationStatus;
  model_version: number | null;
  version: number;
  updated_at: string;
  /** who wrote this version; null for the model's untouched proposals */
  updated_by: string | null;
}

/** The fields a client may write (`source` only on create, and only "assist"). */
export interface AnnotationFields {
  label_class: number;
  box: Box;
  mask: RleJson | null;
  status: AnnotationStatus;
  source?: "assist";
}

/** POST /api/images/{id}/segment/: a mask fitted inside a box; nothing is stored. */
export interface SegmentRequest {
  /** [x1, y1, x2, y2] in image pixels */
  box: [number, number, number, number];
  label_class: number;
  /** [center, width] of the window the person sees */
  window?: [number, number];
}

export interface SegmentResult {
  mask: RleJson;
  box: Box;
  engine: "model" | "classical";
  model_version: number | null;
  score: number | null;
  ms: number;
  /** why the classical engine answered when a model might have */
  note?: string;
}

export interface WorklistQuery {
  status?: string;
  split?: string;
  modality?: string;
  label_class?: string;
  /** images with a pending suggestion of this tag class at or above its threshold */
  suggested_tag?: string;
  /** the backend's series filter: used to learn the frame numbers of a stack */
  series?: string;
  ordering?: string;
  /** "instance": one row per instance, so a multi-frame file is one row */
  group?: string;
  page?: string;
  page_size?: string;
}

// ---- the model loop (admins) ----
export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export type TrainingInit = "scratch" | "active";

export interface JobBase {
  id: number;
  status: JobStatus;
  progress: number;
  error: string;
  attempts: number;
  cancel_requested: boolean;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface TrainingOptions {
  /** null: no epoch count, the time budget alone decides */
  epochs?: number | null;
  time_budget_s?: number | null;
  image_size?: number;
  /** one of GET /api/backbones/ */
  backbone?: string;
  init?: TrainingInit;
}

export interface TrainingJob extends JobBase {
  options: TrainingOptions & Record<string, unknown>;
  epoch: number;
  step: number;
  total_steps: number;
  eta_seconds: number | null;
  loss_curve: [number, number][];
  model_version: number | null;
}

export interface PreannotationJob extends JobBase {
  model_version: number;
  done: number;
  total: number;
}

/** A figure with its 95 % bootstrap interval; null where undefined (e.g. no detection). */
export interface Estimate {
  value: number | null;
  low: number | null;
  high: number | null;
}

/** Lesion-level figures of one split at the version's score threshold. */
export interface AtThreshold {
  threshold: number;
  images: number;
  lesions: number;
  found: number;
  false_marks: number;
  precision: Estimate;
  recall: Estimate;
  f1: Estimate;
  all_found: Estimate;
  fp_per_image: Estimate;
  bootstrap: { samples: number; confidence: number; unit: "image" | "patient"; units: number };
}

/**
 * One split: COCO figures (any may be null), and, for versions that record them, the images and
 * lesions behind them, AP intervals and the figures at the operating point; or why the split
 * was not measured.
 */
export type SplitMetrics = Record<string, unknown> & {
  not_measured?: string;
  images?: number;
  lesions?: number;
  ap_interval?: Record<string, [number, number] | null>;
  at_threshold?: AtThreshold;
};

export interface OperatingPoint {
  threshold: number;
  rule: string;
  iou: number;
}

/** Why a version was or was not made active by the promotion rule (and who activated it). */
export interface Promotion {
  automatic?: boolean;
  reason?: string;
  compared_with?: number | null;
  activated_by?: string | null;
  activation_reason?: string;
}

export interface ModelVersion {
  id: number;
  number: number;
  status: "candidate" | "active" | "retired";
  backbone: string;
  config: Record<string, unknown>;
  score_threshold: number;
  metrics: { val?: SplitMetrics | null; test?: SplitMetrics | null; operating_point?: OperatingPoint } & Record<string, unknown>;
  promotion: Promotion;
  training_data: Record<string, unknown>;
  /** the tag classifier trained with it; {} when none was, {not_trained} when train could not teach it */
  classifier: TagClassifier;
  sha256: string;
  training_job: number | null;
  created_at: string;
  promoted_at: string | null;
}

/** How close a project is to its next automatic retrain. */
export interface RetrainStatus {
  accepted_since_last_version: number;
  threshold: number;
  due: boolean;
}

export interface WorkerInfo {
  hostname: string;
  queues: string[];
  accelerator: string;
  alive: boolean;
  last_seen: string;
  started_at: string;
}

export interface WorkerStatus {
  workers: WorkerInfo[];
  queues: Record<string, { workers: number; gpu: boolean }>;
  queued_jobs: { training: number; preannotation: number };
}

/** A figure of a model's value and what it rests on (proposals or images); null: not measured. */
export interface ValueFigure {
  value: number | null;
  n: number;
}

export type ProposalFate = "proposed" | "accepted_unchanged" | "accepted_edited" | "class_changed" | "rejected" | "deleted";

/** What became of a set of proposals: counts by fate, each decided fate's share, the median edit IoU. */
export interface FateFigures {
  proposals: number;
  counts: Record<ProposalFate, number>;
  accepted_unchanged: ValueFigure;
  accepted_edited: ValueFigure;
  class_changed: ValueFigure;
  rejected: ValueFigure;
  deleted: ValueFigure;
  median_edit_iou: ValueFigure;
}

export interface ModelVersionValue extends FateFigures {
  number: number;
  status: ModelVersion["status"];
  images: number;
  proposals_per_image: ValueFigure;
  misses_per_image: ValueFigure;
  seconds_per_image_with_proposals: ValueFigure;
  seconds_per_image_without_proposals: ValueFigure;
}

/** How much each model version helps (newest first), the box → mask assist, and time without a model. */
export interface ModelValue {
  versions: ModelVersionValue[];
  assist: FateFigures;
  without_model: { seconds_per_image: ValueFigure };
}

// ---- augmentation (admins) ----

/** One augmentation op's settings; an op or field left out takes its default. */
export interface AugmentationOp {
  enabled: boolean;
  strength: number;
  probability: number;
}

export type AugmentationSettings = Record<string, AugmentationOp>;

/** What an op is: its title, what its strength means ("none": it has none), its range. */
export interface AugmentationOpSpec {
  name: string;
  title: string;
  strength: string;
  low: number;
  high: number;
  default: AugmentationOp;
}

export interface AugmentationConfig {
  settings: AugmentationSettings;
  ops: AugmentationOpSpec[];
}

export interface AugmentationPreview {
  /** base64 PNGs, labels drawn */
  samples: string[];
  size: number;
  settings: AugmentationSettings;
}

// ---- the tag classifier of a model version ----

/** One tag's figures on one split, at the threshold chosen on val. */
export interface TagFigures {
  threshold: number;
  images: number;
  positives: number;
  negatives: number;
  confusion: { tp: number; fp: number; fn: number; tn: number };
  bootstrap: { samples: number; confidence: number; unit: string; units: number };
  auroc: Estimate;
  average_precision: Estimate;
  f1: Estimate;
  accuracy: Estimate;
}

export interface TagSplitMetrics {
  images: number;
  mean_auroc: number | null;
  tags: Record<string, TagFigures | { not_measured: string; images: 0 }>;
}

export interface TagClassifier {
  not_trained?: string;
  sha256?: string;
  class_map?: Record<string, number>;
  thresholds?: number[];
  exclusive?: boolean;
  config?: { size: number; epochs: number; time_budget_s: number | null };
  steps?: number;
  feature_seconds?: number;
  train_seconds?: number;
  metrics?: { val?: TagSplitMetrics; test?: TagSplitMetrics; train?: { images: number } };
  comparison?: { candidate: number; active: number; difference: number; low: number; high: number; images: number } | null;
}

// ---- reader agreement (reviewers and admins) ----

/** Lesions of side a (a reader) and side b (the final set, or a pair's second reader), matched at mask IoU ≥ 0.5. */
export interface LesionAgreement {
  images: number;
  lesions_a: number;
  lesions_b: number;
  matched: number;
  /** null when neither side marked a lesion */
  f1: number | null;
  /** null when nothing matched */
  mean_dice: number | null;
}

/** Cohen's κ of one tag over the images both sides read; null when there is none or chance agreement is 1. */
export interface TagKappa {
  kappa: number | null;
  images: number;
}

export interface AgreementFigures {
  images: number;
  lesions: LesionAgreement;
  tags: Record<string, TagKappa>;
}

export interface ReaderAgreement {
  reader: string;
  /** images the reader submitted */
  reads: number;
  /** over those of their images accepted in review */
  against_final: AgreementFigures;
}

/** Two readers over the images both submitted. */
export interface PairAgreement extends AgreementFigures {
  readers: [string, string];
}

/** Fleiss' κ per tag over the images read by the most readers (three or more). */
export type FleissAgreement = { not_measured: string; images: 0 } | { readers_per_image: number; images: number; tags: Record<string, number | null> };

export interface ProjectAgreement {
  readers: ReaderAgreement[];
  pairs: PairAgreement[];
  fleiss: FleissAgreement;
  /** images of the reads accepted in review */
  final_images: number;
  /** how lesions are matched, in words */
  matching: string;
}

/** `reader` a username, `label_class` an instance class id, `from` / `to` ISO dates or date-times of submission. */
export type AgreementFilters = Partial<Record<"reader" | "label_class" | "from" | "to", string>>;
