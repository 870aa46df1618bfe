import { getJson, query } from "./http";
import type { Page, Project, ProjectSummary } from "./types";

export function listProjects(page = 1): Promise<Page<ProjectSummary>> {
  return getJson(`/api/projects/${query({ page: page > 1 ? page : undefined })}`);
}

export function getProject(slug: string): Promise<Project> {
  return getJson(`/api/projects/${encodeURIComponent(slug)}/`);
}
