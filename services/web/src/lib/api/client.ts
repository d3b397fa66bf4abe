// Calls to /api/v1 with the session cookie (HttpOnly: this code never sees the token). Every
// state-changing request carries the CSRF token the API set beside the cookie, and every
// refusal comes back as the API's problem+json, thrown as a `Problem`.
import { Outbox } from "./offline";
import type { components } from "./schema";

export type ProblemBody = components["schemas"]["Problem"];

export class Problem extends Error {
  readonly status: number;
  readonly body: ProblemBody;
  constructor(status: number, body: ProblemBody) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const CSRF_COOKIE = "taskboard_csrf";

function csrfToken(): string {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(value.join("="));
  }
  return "";
}

export interface RequestOptions {
  body?: unknown;
  file?: Blob; // sent as the raw body (uploads)
  idempotencyKey?: string;
  ifMatch?: number;
}

let refreshing: Promise<boolean> | null = null;

/** A new access cookie from the refresh cookie (HttpOnly too); one at a time, shared by every
 * caller that met an expired session meanwhile. False: the session is over. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
    credentials: "same-origin",
  })
    .then((response) => response.ok)
    .catch(() => false)
    .finally(() => (refreshing = null));
  return refreshing;
}

/** Changes made offline, sent in order when the browser is back online. */
export const outbox = new Outbox();

/** A fetch that never reached the server (no network), as opposed to an answer. */
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError || (error instanceof Problem && error.status === 0);
}

if (typeof window !== "undefined") {
  window.addEventListener("online", () => void outbox.drain(isNetworkError));
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  // Reads, and signing in or out, are answered now or fail: only changes wait.
  if (method === "GET" || path.startsWith("/auth/")) return withRenewal<T>(method, path, options);
  // A change goes through the outbox whenever something already waits there (order is
  // kept) or the network is known to be down; otherwise it is sent, and queued if the
  // network turns out to be gone.
  if (outbox.size > 0 || !navigator.onLine) {
    return outbox.hold(() => withRenewal<T>(method, path, options));
  }
  try {
    return await withRenewal<T>(method, path, options);
  } catch (error) {
    if (!isNetworkError(error)) throw error;
    return outbox.hold(() => withRenewal<T>(method, path, options));
  }
}

async function withRenewal<T>(method: string, path: string, options: RequestOptions): Promise<T> {
  try {
    return await send<T>(method, path, options);
  } catch (error) {
    // The access cookie lives minutes, the refresh cookie days: renew once, then ask again.
    const expired = error instanceof Problem && error.status === 401;
    if (!expired || path.startsWith("/auth/") || !(await refreshSession())) throw error;
    return send<T>(method, path, options);
  }
}

/** Send a file's bytes as the body (no JSON, no offline queue: a file is sent now or fails). */
export function upload<T>(path: string, file: Blob): Promise<T> {
  return withRenewal<T>("POST", path, { file });
}

async function send<T>(method: string, path: string, options: RequestOptions): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.file !== undefined) headers["Content-Type"] = "application/octet-stream";
  if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
  if (options.ifMatch !== undefined) headers["If-Match"] = `"${options.ifMatch}"`;
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: options.file ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  if (response.status === 204) return undefined as T;
  const payload = await response.json().catch(() => ({ title: response.statusText }));
  if (!response.ok) throw new Problem(response.status, payload as ProblemBody);
  return payload as T;
}

/** The first field error's message, else the problem's detail: what a person reads. */
export function explain(error: unknown): string {
  if (error instanceof Problem) {
    const field = error.body.errors?.[0];
    if (field) return `${field.field}: ${field.message}`;
    return error.message;
  }
  return "The server could not be reached. Check your connection and try again.";
}
