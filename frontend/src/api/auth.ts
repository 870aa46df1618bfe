import { getJson, request } from "./http";
import type { Me, User } from "./types";

/** Makes the server set the `csrftoken` cookie. */
export async function ensureCsrf(): Promise<void> {
  await request("/api/auth/csrf/");
}

export async function login(username: string, password: string): Promise<User> {
  await ensureCsrf();
  const { data } = await request<User>("/api/auth/login/", { method: "POST", body: { username, password } });
  // Django rotates the CSRF token on login; fetch the new one.
  await ensureCsrf();
  return data;
}

export async function logout(): Promise<void> {
  await request("/api/auth/logout/", { method: "POST" });
}

export function me(): Promise<Me> {
  return getJson<Me>("/api/auth/me/");
}
