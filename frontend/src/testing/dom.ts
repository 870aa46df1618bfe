/**
 * A small stand-in for the browser's document, enough for components built with `h()` to
 * render under Node: elements (SVG too), text, attributes, dataset, classes, listeners, and lookup by
 * `tag[attr="value"]` selectors.
 */
type Listener = (e: { target: FakeNode; stopPropagation(): void; preventDefault(): void }) => void;

class FakeNode {
  parentNode: FakeElement | null = null;
  constructor(public data = "") {}
  get textContent(): string {
    return this.data;
  }
}

class FakeElement extends FakeNode {
  readonly childNodes: FakeNode[] = [];
  readonly attributes = new Map<string, string>();
  readonly style: Record<string, string> = {};
  readonly dataset: Record<string, string> = {};
  readonly classList = {
    toggle: (name: string, on?: boolean) => {
      const names = new Set(this.className.split(" ").filter(Boolean));
      if (on ?? !names.has(name)) names.add(name);
      else names.delete(name);
      this.className = [...names].join(" ");
    },
    contains: (name: string) => this.className.split(" ").includes(name),
  };
  private listeners = new Map<string, Listener[]>();
  className = "";
  constructor(readonly tagName: string) {
    super();
  }
  get firstChild(): FakeNode | null {
    return this.childNodes[0] ?? null;
  }
  override get textContent(): string {
    return this.childNodes.map((c) => c.textContent).join("");
  }
  set textContent(text: string) {
    this.replaceChildren(new FakeNode(text));
  }
  setAttribute(k: string, v: string) {
    this.attributes.set(k, v);
    if (k.startsWith("data-")) this.dataset[k.slice(5).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  }
  getAttribute(k: string): string | null {
    if (k === "class") return this.className;
    if (k.startsWith("data-")) return this.dataset[k.slice(5).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] ?? null;
    return this.attributes.get(k) ?? null;
  }
  appendChild(c: FakeNode) {
    c.parentNode?.removeChild(c);
    c.parentNode = this;
    this.childNodes.push(c);
    return c;
  }
  append(...cs: FakeNode[]) {
    for (const c of cs) this.appendChild(c);
  }
  removeChild(c: FakeNode) {
    this.childNodes.splice(this.childNodes.indexOf(c), 1);
    c.parentNode = null;
    return c;
  }
  replaceChildren(...cs: FakeNode[]) {
    while (this.firstChild) this.removeChild(this.firstChild);
    this.append(...cs);
  }
  addEventListener(type: string, fn: Listener) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  click() {
    this.dispatchEvent({ type: "click" });
  }
  dispatchEvent(e: { type: string }) {
    for (const fn of this.listeners.get(e.type) ?? []) fn({ target: this, stopPropagation() {}, preventDefault() {} });
    return true;
  }
  querySelectorAll(selector: string): FakeElement[] {
    const m = /^([a-z0-9]*)(?:\[([\w-]+)(?:="([^"]*)")?\])?$/.exec(selector);
    if (!m) throw new Error(`unsupported selector ${selector}`);
    const [, tag, attr, value] = m;
    const found: FakeElement[] = [];
    const walk = (e: FakeElement) => {
      for (const c of e.childNodes) {
        if (!(c instanceof FakeElement)) continue;
        const v = attr ? c.getAttribute(attr) : "";
        if ((!tag || c.tagName === tag) && v !== null && (value === undefined || v === value)) found.push(c);
        walk(c);
      }
    };
    walk(this);
    return found;
  }
  querySelector(selector: string): FakeElement | null {
    return this.querySelectorAll(selector)[0] ?? null;
  }
}

/** Install the stand-in as `document` (call in `beforeAll`); elements come back typed as the DOM's. */
export function installFakeDocument(): void {
  (globalThis as { document?: unknown }).document = {
    createElement: (tag: string) => new FakeElement(tag),
    createElementNS: (_ns: string, tag: string) => new FakeElement(tag),
    createTextNode: (text: string) => new FakeNode(text),
    activeElement: null,
  };
}
