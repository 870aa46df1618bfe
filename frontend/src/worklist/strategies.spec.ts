import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Strategy } from "../api/strategies";
import { worklistFilters } from "../pages/worklist/Filters";
import { installFakeDocument } from "../testing/dom";
import { orderOptions, strategyOf } from "./strategies";

beforeAll(installFakeDocument);

function strategy(name: string, title: string, extra: Partial<Strategy> = {}): Strategy {
  return { name, title, description: `${title}.`, default: false, not_done_first: false, ...extra };
}

const strategies = [
  strategy("id", "Oldest first", { default: true }),
  strategy("unlabelled_first", "First unlabelled", { not_done_first: true }),
  strategy("-uncertainty", "Most uncertain first"),
  strategy("random", "Random"),
];

describe("orderOptions", () => {
  it("offers every strategy by its title, in the server's order", () => {
    expect(orderOptions(strategies)).toEqual([
      ["id", "Oldest first"],
      ["unlabelled_first", "First unlabelled"],
      ["-uncertainty", "Most uncertain first"],
      ["random", "Random"],
    ]);
  });
});

describe("strategyOf", () => {
  it("is the query's ordering, else the default", () => {
    expect(strategyOf(strategies, new URLSearchParams("ordering=random&status=proposed"))?.title).toBe("Random");
    expect(strategyOf(strategies, new URLSearchParams("status=proposed"))?.name).toBe("id");
    expect(strategyOf(strategies, new URLSearchParams("ordering=unlabelled_first"))?.not_done_first).toBe(true);
  });

  it("is none for an ordering the server does not know", () => {
    expect(strategyOf(strategies, new URLSearchParams("ordering=nonsense"))).toBeUndefined();
  });
});

describe("the worklist's order select", () => {
  const options = (query: string) => {
    const f = worklistFilters(vi.fn());
    f.update({ query: new URLSearchParams(query), classes: [], strategies });
    const order = f.el.querySelectorAll('select[name="ordering"]')[0];
    return [...order.querySelectorAll("option")].map((o) => [o.value, o.textContent, Boolean(o.selected)]);
  };

  it("shows the strategies' titles, the query's chosen", () => {
    expect(options("ordering=-uncertainty")).toEqual([
      ["id", "Oldest first", false],
      ["unlabelled_first", "First unlabelled", false],
      ["-uncertainty", "Most uncertain first", true],
      ["random", "Random", false],
    ]);
  });

  it("chooses the default strategy when the query names none", () => {
    expect(options("status=done").filter(([, , selected]) => selected)).toEqual([["id", "Oldest first", true]]);
  });
});
