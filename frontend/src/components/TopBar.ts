import type { AppContext } from "../app";
import { h } from "./dom";

export function topBar(ctx: AppContext, ...middle: (Node | string)[]): HTMLElement {
  const home = h("a", { href: "/", class: "brand", "data-link": true }, "RadLabel");
  const user = h("span", { class: "user" }, ctx.me.username);
  const out = h("button", { type: "button", class: "link", on: { click: () => void ctx.logout() } }, "Sign out");
  return h("header", { class: "topbar" }, home, h("div", { class: "topbar-middle" }, ...middle), user, out);
}
