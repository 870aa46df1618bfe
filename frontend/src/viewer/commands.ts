/** Named commands with their shortcuts; the toolbar, the keyboard and the help overlay all use these. */
export interface NamedCommand {
  id: string;
  label: string;
  group: string;
  keys: string[];
  run(): void;
}

/** "ctrl+shift+z", "shift+a", "delete", "[", "?" — the key as typed, modifiers first. */
export function keyOf(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "shiftKey" | "altKey">): string {
  const key = e.key.toLowerCase();
  const letter = /^[a-z]$/.test(key) || key.length > 1;
  const mods = [
    e.ctrlKey || e.metaKey ? "ctrl" : "",
    e.altKey ? "alt" : "",
    // shift is part of printable symbols ("?", "{"); only name it for letters and named keys
    e.shiftKey && letter ? "shift" : "",
  ].filter(Boolean);
  return [...mods, key].join("+");
}

export class CommandRegistry {
  private commands = new Map<string, NamedCommand>();
  private byKey = new Map<string, NamedCommand>();

  register(...cmds: NamedCommand[]): void {
    for (const c of cmds) {
      this.commands.set(c.id, c);
      for (const k of c.keys) this.byKey.set(k, c);
    }
  }

  run(id: string): void {
    this.commands.get(id)?.run();
  }

  forKey(key: string): NamedCommand | undefined {
    return this.byKey.get(key);
  }

  list(): NamedCommand[] {
    return [...this.commands.values()];
  }
}

const KEY_NAMES: Record<string, string> = {
  ctrl: "Ctrl",
  shift: "Shift",
  alt: "Alt",
  arrowup: "↑",
  arrowdown: "↓",
  pageup: "PageUp",
  pagedown: "PageDown",
  escape: "Esc",
};

export function describeKey(k: string): string {
  return (k === "+" ? ["+"] : k.split("+"))
    .map((p) => KEY_NAMES[p] ?? (p.length === 1 ? p.toUpperCase() : p[0].toUpperCase() + p.slice(1)))
    .join("+");
}
