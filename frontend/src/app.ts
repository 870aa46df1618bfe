/** What every page gets: the signed-in user, the save queue, navigation. */
import type { Me } from "./api/types";
import type { SaveQueue } from "./sync/saveQueue";

export interface AppContext {
  me: Me;
  queue: SaveQueue;
  navigate(path: string, replace?: boolean): void;
  /** Sign in again without leaving the page (session expired); resolves when signed in. */
  relogin(): Promise<void>;
  logout(): Promise<void>;
}
