import { getJsonOnce } from "./http";

/** A worklist strategy: an order the worklist lists images in and Next follows. */
export interface Strategy {
  /** the image list's `ordering` value */
  name: string;
  title: string;
  description: string;
  /** the order without an `ordering` value */
  default: boolean;
  /** images not yet done come first: one done since it was listed has left that part */
  not_done_first: boolean;
}

/** The strategies, asked for once per page load (they change only with the server). */
export function listStrategies(): Promise<Strategy[]> {
  return getJsonOnce<Strategy[]>("/api/strategies/");
}
