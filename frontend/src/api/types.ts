export type Role = "admin" | "annotator" | "reviewer";
export type ImageStatus = "unlabelled" | "proposed" | "in_progress" | "done" | "reviewed";
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

export interface ProjectSummary {
  slug: string;
  name: string;
  description: string;
  role: Role;
}

export interface LabelClass {
  id: number;
  name: string;
  color: string;
  kind: "instance" | "tag";
}

export interface Project extends ProjectSummary {
  split_ratios: { train: number; val: number; test: number };
  label_classes: LabelClass[];
  counts: { images: number; by_status: Record<ImageStatus, number> };
}

export interface ImageListItem {
  id: number;
  study_id: number;
  series_id: number;
  patient: string;
  split: Split;
  modality: string;
  status: ImageStatus;
  instance_number: number | null;
  frame_number: number;
  rows: number;
  columns: number;
  uncertainty: number | null;
  max_score: number | null;
  classes: number[];
  proposed_count: number;
  accepted_count: number;
}

export interface ImageDetail extends ImageListItem {
  window_center: number | null;
  window_width: number | null;
  pixel_spacing: [number, number] | null;
  photometric: string;
  series: { id: number; modality: string; series_number: number | null; image_ids: number[] };
  dicom_url: string;
  preview_url: string;
  tags: number[];
  active_seconds: number;
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
  source: "model" | "human";
  status: AnnotationStatus;
  model_version: number | null;
  version: number;
  updated_at: string;
}

/** The fields a client may write. */
export interface AnnotationFields {
  label_class: number;
  box: Box;
  mask: RleJson | null;
  status: AnnotationStatus;
}

export interface WorklistQuery {
  status?: string;
  split?: string;
  modality?: string;
  label_class?: string;
  /** the backend's series filter: used to learn the frame numbers of a stack */
  series?: string;
  ordering?: string;
  page?: string;
  page_size?: string;
}
