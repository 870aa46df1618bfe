import { afterEach, describe, expect, it, vi } from "vitest";
import { ActivityTracker } from "./activity";

afterEach(() => vi.useRealTimers());

describe("ActivityTracker", () => {
  it("counts visible, recently active time and pauses when idle or hidden", () => {
    vi.useFakeTimers();
    let now = 0;
    let visible = true;
    const t = new ActivityTracker(60_000, () => now, () => visible, null);
    for (let i = 0; i < 30; i++) {
      now += 1000;
      t.tick();
    }
    expect(t.take()).toBe(30);
    // idle for two minutes: only the first minute counts
    for (let i = 0; i < 120; i++) {
      now += 1000;
      t.tick();
    }
    expect(t.take()).toBe(30);
    t.input();
    visible = false;
    for (let i = 0; i < 10; i++) {
      now += 1000;
      t.tick();
    }
    expect(t.take()).toBe(0);
    t.stop();
  });
});
