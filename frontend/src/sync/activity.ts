/**
 * Active time on an image: counts only while the tab is visible and the
 * user has done something in the last `idleMs`.
 */
export class ActivityTracker {
  private accumulated = 0;
  private lastTick: number;
  private lastInput: number;
  private timer: ReturnType<typeof setInterval>;
  private readonly onInput = () => {
    this.lastInput = this.now();
  };

  constructor(
    private readonly idleMs = 60_000,
    private readonly now: () => number = () => performance.now(),
    private readonly isVisible: () => boolean = () => document.visibilityState === "visible",
    target: EventTarget | null = typeof window !== "undefined" ? window : null,
  ) {
    this.lastTick = this.now();
    this.lastInput = this.lastTick;
    this.timer = setInterval(() => this.tick(), 1000);
    for (const ev of ["pointerdown", "pointermove", "keydown", "wheel"]) target?.addEventListener(ev, this.onInput, { passive: true });
    this.target = target;
  }

  private target: EventTarget | null;

  tick(): void {
    const t = this.now();
    const since = Math.min(t - this.lastTick, 5000);
    if (this.isVisible() && t - this.lastInput <= this.idleMs) this.accumulated += since;
    this.lastTick = t;
  }

  input(): void {
    this.onInput();
  }

  /** Seconds counted since the last take. */
  take(): number {
    this.tick();
    const s = this.accumulated / 1000;
    this.accumulated = 0;
    return Math.round(s * 1000) / 1000;
  }

  stop(): void {
    clearInterval(this.timer);
    for (const ev of ["pointerdown", "pointermove", "keydown", "wheel"]) this.target?.removeEventListener(ev, this.onInput);
  }
}
