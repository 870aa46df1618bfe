import { describe, expect, it, vi } from "vitest";
import { CommandRegistry, describeKey, keyOf } from "./commands";

const ev = (key: string, mods: Partial<Record<"ctrlKey" | "metaKey" | "shiftKey" | "altKey", boolean>> = {}) => ({
  key,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  ...mods,
});

describe("keyboard commands", () => {
  it("names keys with modifiers", () => {
    expect(keyOf(ev("A", { shiftKey: true }))).toBe("shift+a");
    expect(keyOf(ev("a"))).toBe("a");
    expect(keyOf(ev("Z", { ctrlKey: true, shiftKey: true }))).toBe("ctrl+shift+z");
    expect(keyOf(ev("z", { metaKey: true }))).toBe("ctrl+z");
    expect(keyOf(ev("?", { shiftKey: true }))).toBe("?");
    expect(keyOf(ev("Delete"))).toBe("delete");
    expect(describeKey("ctrl+shift+z")).toBe("Ctrl+Shift+Z");
    expect(describeKey("+")).toBe("+");
    expect(describeKey("arrowup")).toBe("↑");
    expect(describeKey("delete")).toBe("Delete");
  });

  it("runs the command bound to a key", () => {
    const reg = new CommandRegistry();
    const run = vi.fn();
    reg.register({ id: "accept", label: "Accept", group: "Labels", keys: ["a"], run });
    reg.forKey("a")?.run();
    reg.run("accept");
    expect(run).toHaveBeenCalledTimes(2);
    expect(reg.forKey("b")).toBeUndefined();
  });
});
