/** A bounded undo/redo stack. Pushing a new command clears the redo side. */
export class History<C> {
  private done: C[] = [];
  private undone: C[] = [];

  constructor(private readonly limit = 500) {}

  push(cmd: C): void {
    this.done.push(cmd);
    if (this.done.length > this.limit) this.done.shift();
    this.undone = [];
  }

  /** The command to revert, moved to the redo side. */
  undo(): C | null {
    const cmd = this.done.pop();
    if (cmd === undefined) return null;
    this.undone.push(cmd);
    return cmd;
  }

  /** The command to re-apply, moved back to the undo side. */
  redo(): C | null {
    const cmd = this.undone.pop();
    if (cmd === undefined) return null;
    this.done.push(cmd);
    return cmd;
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }

  get canRedo(): boolean {
    return this.undone.length > 0;
  }

  clear(): void {
    this.done = [];
    this.undone = [];
  }
}
