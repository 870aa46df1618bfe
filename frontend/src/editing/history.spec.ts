import { describe, expect, it } from "vitest";
import { History } from "./history";

describe("History", () => {
  it("undoes in reverse order and redoes in order", () => {
    const h = new History<string>();
    h.push("a");
    h.push("b");
    expect(h.undo()).toBe("b");
    expect(h.undo()).toBe("a");
    expect(h.undo()).toBeNull();
    expect(h.redo()).toBe("a");
    expect(h.redo()).toBe("b");
    expect(h.redo()).toBeNull();
  });

  it("drops the redo side when a new command is pushed", () => {
    const h = new History<string>();
    h.push("a");
    h.push("b");
    h.undo();
    h.push("c");
    expect(h.canRedo).toBe(false);
    expect(h.undo()).toBe("c");
    expect(h.undo()).toBe("a");
  });

  it("forgets the oldest commands past its limit", () => {
    const h = new History<number>(3);
    for (let i = 0; i < 5; i++) h.push(i);
    expect([h.undo(), h.undo(), h.undo(), h.undo()]).toEqual([4, 3, 2, null]);
  });
});
