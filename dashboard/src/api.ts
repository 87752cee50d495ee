// The Codecosts JSON API (shared/API.md): the only thing this dashboard talks to.

import { underBase } from "./base";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  hasMore: boolean;
}

/** Tokens by kind, as a call (or a sum of calls) counts them. */
export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  /** Of the output, the tokens spent on reasoning (Anthropic's `output_tokens_details`). */
  thinking_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_5m_input_tokens: number;
  cache_creation_1h_input_tokens: number;
}

export interface UsageRecord extends TokenCounts {
  id: string;
  model: string | null;
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
  // The Claude Code session, and which of its agents made the call (null: not Claude Code, or not told).
  session_id?: string | null;
  agent?: "main" | "subagent" | null;
  agent_id?: string | null;
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
  byDeveloper?: DeveloperSummary[];
}

/** Spend by Claude Code developer (from its `metadata.user_id`), on servers that record it; calls
 * without a developer are under the Anthropic credential that paid (`developer_id` null). */
export interface DeveloperSummary {
  developer_id: string | null;
  name: string | null;
  api_key_id: string | null;
  api_key_hint: string | null;
  cost: number;
  requests: number;
  tokens: number;
}

/** Claude Code sessions (docs/api.md "Sessions"); money in cents as 6-decimal strings. */
export interface SessionSummary extends TokenCounts {
  session_id: string;
  first_at: string;
  last_at: string;
  requests: number;
  tokens: number;
  cost_cents: string;
  cost_unknown_requests: number;
  cost_without_cache_cents: string;
  cache_savings_cents: string;
  cache_hit_ratio: number;
  models: string[];
  proxy_endpoint_ids: string[];
  subagent_requests: number;
  subagent_cost_cents: string;
  subagent_runs: number;
  // The Claude Code developer who ran it, on servers that record developers.
  developer_id?: string | null;
}

export interface SessionDetail extends SessionSummary {
  unread_1h_cache_writes: number;
  unread_1h_cache_write_tokens: number;
  unread_1h_cache_write_extra_cents: string;
  pending_1h_cache_write_tokens: number;
}

export interface AdminKeyStatus {
  configured: boolean;
  hint: string | null;
  updated_at: string | null;
}

export interface TokenKinds {
  uncached_input_tokens: number;
  cache_creation_5m_input_tokens: number;
  cache_creation_1h_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
  web_search_requests: number;
}

export interface ReconciledCost {
  recordedCostCents: number;
  billedCostCents: number;
  driftCostCents: number;
  recorded: TokenKinds;
  billed: TokenKinds;
}

export interface ReconciledKey {
  anthropic_api_key_id: string | null;
  partial_key_hint: string | null;
  api_key_id: string | null;
  recordedCostCents: number;
  billedCostCents: number;
  unrecorded: boolean;
}

/** The bill check (shared/API.md): money in cents as numbers, `drift = billed - recorded`. */
export interface Reconciliation {
  from: string;
  to: string;
  asOf: string | null;
  stale: boolean;
  error: string | null;
  totals: { recordedCostCents: number; billedCostCents: number; driftCostCents: number; unrecordedCostCents: number };
  byDay: (ReconciledCost & { date: string })[];
  byModel: (ReconciledCost & { model: string })[];
  byKey: ReconciledKey[];
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
  post: <T>(path: string, body: unknown, query?: Query) => request<T>("POST", path, query, body),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, undefined, body),
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

/** Every item of a short paged list (proxy endpoints, API keys, one session's calls). */
export async function allPages<T>(path: string, query: Query = {}): Promise<Page<T>> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let pageCount = 0; pageCount < MAX_PAGES; pageCount++) {
    const page: Page<T> = await api.get<Page<T>>(path, { ...query, limit: 100, cursor });
    items.push(...page.items);
    if (!page.hasMore || !page.nextCursor) return { items, nextCursor: null, hasMore: false };
    cursor = page.nextCursor;
  }
  return { items, nextCursor: cursor, hasMore: true };
}
