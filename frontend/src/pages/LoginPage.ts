import { login } from "../api/auth";
import { ApiError } from "../api/http";
import { h, type Unmount } from "../components/dom";

export interface LoginOptions {
  title?: string;
  username?: string;
  onSuccess(userId: number): void;
}

/** The sign-in form; also used in place as the re-login dialog. */
export function loginForm(opts: LoginOptions): HTMLFormElement {
  const user = h("input", { name: "username", autocomplete: "username", required: true, value: opts.username ?? "" });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "login-form" },
    h("h1", {}, opts.title ?? "RadLabel"),
    h("label", {}, "Username", user),
    h("label", {}, "Password", pass),
    error,
    submit,
  );
  form.addEventListener("submit", (e) => void submitted(e));
  async function submitted(e: SubmitEvent) {
    e.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      const u = await login(user.value.trim(), pass.value);
      opts.onSuccess(u.id);
    } catch (err) {
      error.textContent =
        err instanceof ApiError && err.status === 400 ? "Wrong username or password." : "Could not sign in. Try again.";
    } finally {
      submit.disabled = false;
    }
  }
  queueMicrotask(() => (opts.username ? pass : user).focus());
  return form;
}

export function mountLoginPage(root: HTMLElement, next: string | null, onLoggedIn: (next: string) => void): Unmount {
  const page = h("div", { class: "login-page" }, loginForm({ onSuccess: () => onLoggedIn(next ?? "/") }));
  root.appendChild(page);
  return () => page.remove();
}
