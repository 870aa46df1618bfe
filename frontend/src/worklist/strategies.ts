/** The worklist's order select and Next, from the server's strategies. */
import type { Strategy } from "../api/strategies";

/** The order select's options: each strategy's name and title, in the server's order. */
export function orderOptions(strategies: Strategy[]): [string, string][] {
  return strategies.map((s) => [s.name, s.title]);
}

/** The strategy a worklist query orders by: its `ordering`, else the default. */
export function strategyOf(strategies: Strategy[], query: URLSearchParams): Strategy | undefined {
  const name = query.get("ordering");
  return strategies.find((s) => (name ? s.name === name : s.default));
}
