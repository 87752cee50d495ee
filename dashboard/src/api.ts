// The Codecosts JSON API (shared/API.md): the only thing this dashboard talks to.

import { underBase } from "./base";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  hasMore: boolean;
}

export interface UsageRecord {
  id: string;
  model: string | null;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_5m_input_tokens: number;
  cache_creation_1h_input_tokens: number;
  cost_cents: string | null;
  cost_without_cache_cents: string | null;
  cost_unknown: boolean;
  duration_ms: number | null;
  ttfb_ms: number | null;
  status_code: number | null;
  stream: boolean;
  stop_reason: string | null;
  request_id: string | null;
  proxy_endpoint_id: string | null;
  api_key_id: string | null;
  api_key_hint: string | null;
  requested_at: string;
  complete?: boolean;
  // The stream ended before Anthropic's final count: output tokens (and cost) estimated from what was relayed.
  output_tokens_estimated?: boolean;
}

export interface UsageDetail extends UsageRecord {
  request_body: string | null;
  response_body: string | null;
}

export interface ModelSummary {
  model: string;
  cost: number;
  requests: number;
  tokens: number;
}

export interface DaySummary {
  date: string;
  cost: number;
  requests: number;
  tokens: number;
}

export interface DayModelSummary extends ModelSummary {
  date: string;
}

export interface EndpointSummary {
  proxy_endpoint_id: string;
  cost: number;
  requests: number;
  tokens: number;
}

/** Money in cents; this project's additions to the contract's summary are documented in docs/api.md. */
export interface UsageSummary {
  totalCostCents: number;
  totalRequests: number;
  totalInputTokens: number;
  totalOutputTokens: number;
  totalCacheCreationInputTokens: number;
  totalCacheReadInputTokens: number;
  byModel: ModelSummary[];
  byDay: DaySummary[];
  totalCacheCreation5mInputTokens: number;
  totalCacheCreation1hInputTokens: number;
  totalCostWithoutCacheCents: number;
  cacheSavingsCents: number;
  cacheHitRatio: number;
  costUnknownRequests: number;
  byDayModel: DayModelSummary[];
  byEndpoint: EndpointSummary[];
}

export interface ProxyEndpoint {
  id: string;
  name: string;
  slug: string;
  url: string;
  created_at: string;
}

// What a key may do: `read` reads usage, `write` also changes endpoints and the profile, `admin` also keys.
export type KeyScope = "read" | "write" | "admin";

export interface ApiKey {
  id: string;
  name: string;
  key_prefix: string;
  scope: KeyScope;
  last_used_at: string | null;
  created_at: string;
}

export interface CreatedApiKey extends ApiKey {
  key: string;
}

export interface Profile {
  id: string;
  email: string | null;
  name: string | null;
}

export interface AuditLogEntry {
  id: string;
  user_id: string;
  org_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string;
  metadata: string | null;
  created_at: string;
}

export interface FieldProblem {
  field: string;
  in: string;
  message: string;
}

/** A failed call, with the message a person should read. `status` 0: the API could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }

  get fieldProblems(): FieldProblem[] {
    return Array.isArray(this.details) ? (this.details as FieldProblem[]) : [];
  }
}

const API_KEY_STORAGE = "codecosts.apiKey";

let apiKey: string | null = sessionStorage.getItem(API_KEY_STORAGE);
let onUnauthorized: (message: string) => void = () => undefined;

export function storedApiKey(): string | null {
  return apiKey;
}

/** The pasted key lives in this tab's session storage only: never in a URL, a cookie or local storage. */
export function setApiKey(key: string | null): void {
  apiKey = key;
  if (key) sessionStorage.setItem(API_KEY_STORAGE, key);
  else sessionStorage.removeItem(API_KEY_STORAGE);
}

export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

type Query = Record<string, string | number | null | undefined>;

function withQuery(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function request<T>(
  method: string,
  path: string,
  query?: Query,
  body?: unknown,
  signOutOn401 = true,
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  // With Clerk there is no key: the `__session` cookie (same origin) carries the session.
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(underBase(withQuery(path, query)), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(
      0,
      "Can't reach the Codecosts API. Is it running? Locally, start it with make dev, then retry.",
    );
  }
  let payload: unknown = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.ok) return payload as T;
  const error = payload as { error?: string; details?: unknown; retryAfter?: number } | null;
  if (response.status === 401 && !signOutOn401) throw new ApiError(401, "Not signed in");
  if (response.status === 401) {
    const message = apiKey
      ? "The API key was not accepted: it may have been deleted or mistyped. Sign in with a valid key."
      : "Your session has expired. Sign in again.";
    onUnauthorized(message);
    throw new ApiError(401, message);
  }
  if (response.status === 429) {
    const wait = error?.retryAfter ?? response.headers.get("Retry-After");
    throw new ApiError(429, `Too many requests: try again in ${wait ?? "a few"} seconds.`);
  }
  if (response.status >= 500 || !error?.error) {
    throw new ApiError(
      response.status,
      `The API answered ${response.status}${error?.error ? `: ${error.error}` : ""}. Try again in a moment.`,
    );
  }
  throw new ApiError(response.status, error.error, error.details ?? null);
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>("GET", path, query),
  post: <T>(path: string, body: unknown) => request<T>("POST", path, undefined, body),
  delete: <T>(path: string) => request<T>("DELETE", path),
  /** Who the browser is signed in as without a pasted key (a `__session` cookie), or null. */
  sessionProfile: async (): Promise<Profile | null> => {
    try {
      return await request<Profile>("GET", "/api/profile", undefined, undefined, false);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }
  },
};

// Lists read whole (endpoints, keys) stop here: 2,000 items.
const MAX_PAGES = 20;

/** Every item of a short paged list (proxy endpoints, API keys). */
export async function allPages<T>(path: string): Promise<Page<T>> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let pageCount = 0; pageCount < MAX_PAGES; pageCount++) {
    const page: Page<T> = await api.get<Page<T>>(path, { limit: 100, cursor });
    items.push(...page.items);
    if (!page.hasMore || !page.nextCursor) return { items, nextCursor: null, hasMore: false };
    cursor = page.nextCursor;
  }
  return { items, nextCursor: cursor, hasMore: true };
}
