import { useState } from "preact/hooks";
import { allPages, api, type Page, type ProxyEndpoint, type UsageRecord } from "../api";
import { Empty, Link, PagedTable, useCursors, useEvery, useLoad } from "../components/common";
import { count, millis, recordCost, utcTime } from "../format";
import { addDays, isDay } from "../range";
import { href, navigate } from "../router";
import { NoEndpointYet } from "./overview";

const PAGE_SIZE = 25;

export interface CallFilters {
  model: string;
  endpoint: string;
  from: string;
  until: string;
  key: string;
}

export function filtersFromQuery(query: URLSearchParams): CallFilters {
  return {
    model: query.get("model") ?? "",
    endpoint: query.get("endpoint") ?? "",
    from: query.get("from") ?? "",
    until: query.get("until") ?? "",
    key: query.get("key") ?? "",
  };
}

function apiQuery(filters: CallFilters) {
  return {
    model: filters.model.trim(),
    proxy_endpoint_id: filters.endpoint,
    from: filters.from,
    // The page asks for whole days, both included; the API's `to` is exclusive.
    to: isDay(filters.until) ? addDays(filters.until, 1) : filters.until,
    api_key_id: filters.key.trim(),
  };
}

export function statusClass(status: number | null): string {
  if (status === null) return "status";
  return status < 300 ? "status ok" : status < 500 ? "status warn" : "status bad";
}

function FilterBar(props: { filters: CallFilters; endpoints: ProxyEndpoint[] }) {
  const [draft, setDraft] = useState(props.filters);
  const set = (name: keyof CallFilters) => (event: Event) =>
    setDraft({ ...draft, [name]: (event.currentTarget as HTMLInputElement).value });
  const field = (name: keyof CallFilters) => ({ name, value: draft[name], onInput: set(name) });
  const apply = (event: Event) => {
    event.preventDefault();
    navigate(href("/calls", { ...draft }));
  };
  const active = Object.values(props.filters).some(Boolean);
  return (
    <form class="filters" onSubmit={apply} aria-label="Filter calls">
      <label>
        Model
        <input {...field("model")} placeholder="claude-opus (prefix)" maxLength={200} />
      </label>
      <label>
        Endpoint
        <select name="endpoint" value={draft.endpoint} onChange={set("endpoint")}>
          <option value="">All endpoints</option>
          {props.endpoints.map((endpoint) => (
            <option key={endpoint.id} value={endpoint.id}>
              {endpoint.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        From (UTC)
        <input {...field("from")} type="date" />
      </label>
      <label>
        To (UTC, included)
        <input {...field("until")} type="date" />
      </label>
      <label>
        Anthropic key id
        <input {...field("key")} placeholder="16 hex characters" maxLength={16} />
      </label>
      <div class="filter-actions">
        <button type="submit">Filter</button>
        {active && (
          <button type="button" class="secondary" onClick={() => navigate("/calls")}>
            Clear
          </button>
        )}
      </div>
    </form>
  );
}

export function CallsPage(props: { query: URLSearchParams }) {
  const filters = filtersFromQuery(props.query);
  const filterKey = JSON.stringify(filters);
  const cursors = useCursors(filterKey);
  const cursor = cursors.cursor;
  const endpoints = useLoad("endpoints", () => allPages<ProxyEndpoint>("/api/proxy-endpoints"));
  const calls = useLoad(`${filterKey}|${cursor ?? ""}`, () =>
    api.get<Page<UsageRecord>>("/api/usage", { ...apiQuery(filters), limit: PAGE_SIZE, cursor }),
  );
  // The first page follows new calls as they are recorded; older pages stay put.
  useEvery(5, () => cursors.pageNumber === 1 && calls.reload(true));
  const names = new Map((endpoints.data?.items ?? []).map((endpoint) => [endpoint.id, endpoint.name]));
  const filtered = Object.values(filters).some(Boolean);
  return (
    <section>
      <header class="page-header">
        <h1>Calls</h1>
      </header>
      <FilterBar key={filterKey} filters={filters} endpoints={endpoints.data?.items ?? []} />
      <PagedTable
        list={calls}
        cursors={cursors}
        what="calls"
        empty={
          filtered ? (
            <Empty title="No calls match these filters">
              <p>
                The model filter matches the start of a model name (<code>claude-opus</code> matches{" "}
                <code>claude-opus-4-6</code>). <Link href="/calls">Clear the filters</Link> to see every call.
              </p>
            </Empty>
          ) : endpoints.data && endpoints.data.items.length === 0 ? (
            <NoEndpointYet />
          ) : (
            <Empty title="No calls yet">
              <p>
                Point Claude Code at one of your <Link href="/endpoints">proxy endpoints</Link> with{" "}
                <code>export ANTHROPIC_BASE_URL=…</code> and use it as usual: calls appear here within seconds.
              </p>
            </Empty>
          )
        }
        tableClass="table calls"
        testid="calls"
        head={
          <>
            <th>Time (UTC)</th>
            <th>Model</th>
            <th>Endpoint</th>
            <th>Status</th>
            <th class="num">Input</th>
            <th class="num">Output</th>
            <th class="num">Cache write</th>
            <th class="num">Cache read</th>
            <th class="num">Cost</th>
            <th class="num">Duration</th>
          </>
        }
        row={(call) => (
          <tr
            key={call.id}
            class="clickable"
            onClick={(event) => {
              // The time is a real link; a click anywhere else on the row opens the call too.
              if (!(event.target as Element).closest("a")) navigate(`/calls/${call.id}`);
            }}
          >
            <td class="nowrap">
              <Link href={`/calls/${call.id}`}>{utcTime(call.requested_at)}</Link>
            </td>
            <td>{call.model ?? "—"}</td>
            <td>{call.proxy_endpoint_id ? (names.get(call.proxy_endpoint_id) ?? "deleted") : "—"}</td>
            <td>
              <span class={statusClass(call.status_code)}>{call.status_code ?? "—"}</span>
              {call.stream && <span class="tag">stream</span>}
            </td>
            <td class="num">{count(call.input_tokens)}</td>
            <td class="num">{count(call.output_tokens)}</td>
            <td class="num">{count(call.cache_creation_input_tokens)}</td>
            <td class="num">{count(call.cache_read_input_tokens)}</td>
            <td class="num">{recordCost(call.cost_cents)}</td>
            <td class="num">{millis(call.duration_ms)}</td>
          </tr>
        )}
      />
    </section>
  );
}
