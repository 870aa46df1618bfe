import { getJsonOnce } from "./http";

/** A backbone a training can name (GET /api/backbones/), in the order the server offers them. */
export interface Backbone {
  /** a training's `backbone` option */
  name: string;
  title: string;
  /** ImageNet weights ship with the worker */
  pretrained: boolean;
}

/** The backbones, asked for once per page load (they change only with the server). */
export function listBackbones(): Promise<Backbone[]> {
  return getJsonOnce<Backbone[]>("/api/backbones/");
}
