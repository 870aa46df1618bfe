/**
 * Element builder. Text is always inserted as text nodes (never parsed as
 * HTML), so DICOM text, label names and project names cannot inject markup.
 */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener | Record<string, EventListener>> & {
  on?: Record<string, EventListener>;
};

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "on") {
      for (const [ev, fn] of Object.entries(v as Record<string, EventListener>)) el.addEventListener(ev, fn);
    } else if (v === false || v === null || v === undefined) {
      continue;
    } else if (k === "value" || k === "checked" || k === "disabled" || k === "selected") {
      (el as unknown as Record<string, unknown>)[k] = v;
    } else if (typeof v === "string" || typeof v === "number" || v === true) {
      const text = v === true ? "" : String(v);
      if (k === "class") el.className = text;
      else el.setAttribute(k, text);
    }
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** A page or component: mount into a container, get back its unmount. */
export type Unmount = () => void;
