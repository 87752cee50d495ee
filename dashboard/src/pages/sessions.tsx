// Claude Code sessions: what each cost, its main agent against its subagents, and what caching did.
import {
  allPages,
  api,
  type DeveloperSummary,
  type Page,
  type SessionDetail,
  type SessionSummary,
  type UsageRecord,
  type UsageSummary,
} from "../api";
import {
  Cents,
  Empty,
  ErrorBox,
  Link,
  Loading,
  PagedTable,
  useCursors,
  useEvery,
  useLoad,
} from "../components/common";
import { count, dollars, duration, millis, plural, recordCost, utcTime } from "../format";
import type { DayRange } from "../range";
import { navigate } from "../router";
import { statusClass } from "./calls";
import { RangePicker } from "./overview";

const PAGE_SIZE = 25;

function spanOf(session: SessionSummary): string {
  return duration(Date.parse(session.last_at) - Date.parse(session.first_at));
}

function mainAgentCents(session: SessionSummary): number {
  return Number(session.cost_cents) - Number(session.subagent_cost_cents);
}

export function sessionPath(id: string): string {
  return `/sessions/${encodeURIComponent(id)}`;
}

function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…` : id;
}

/** Who a developer row is: its name, else its fingerprint; calls without one, by the key that paid. */
function developerLabel(row: DeveloperSummary): string {
  const who = row.name ?? row.developer_id;
  if (who) return who;
  return row.api_key_hint ? `No developer (Anthropic key ${row.api_key_hint})` : "No developer";
}

/** Spend by developer, when the server records developers (the summary then has `byDeveloper`). */
function DeveloperSpend(props: { developers: DeveloperSummary[] }) {
  if (props.developers.length === 0) return null;
  return (
    <div class="panel flush">
      <h2 class="inset">Spend by developer</h2>
      <table class="table" data-testid="by-developer">
        <thead>
          <tr>
            <th>Developer</th>
            <th class="num">Calls</th>
            <th class="num">Tokens</th>
            <th class="num">Cost</th>
          </tr>
        </thead>
        <tbody>
          {props.developers.map((row) => (
            <tr key={row.developer_id ?? row.api_key_id ?? ""}>
              <td title={row.developer_id ?? row.api_key_id ?? undefined}>{developerLabel(row)}</td>
              <td class="num">{count(row.requests)}</td>
              <td class="num">{count(row.tokens)}</td>
              <Cents value={row.cost} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SessionsPage(props: { range: DayRange }) {
  const { range } = props;
  const rangeKey = `${range.from}/${range.to}`;
  const cursors = useCursors(rangeKey);
  const cursor = cursors.cursor;
  const sessions = useLoad(`sessions|${rangeKey}|${cursor ?? ""}`, () =>
    api.get<Page<SessionSummary>>("/api/usage/sessions", {
      from: range.from,
      to: range.to,
      limit: PAGE_SIZE,
      cursor,
    }),
  );
  // The first page follows sessions as they go on; older pages stay put.
  useEvery(5, () => cursors.pageNumber === 1 && sessions.reload(true));
  const summary = useLoad(`summary|${rangeKey}`, () =>
    api.get<UsageSummary>("/api/usage/summary", { from: range.from, to: range.to }),
  );
  const developers = summary.data?.byDeveloper ?? [];
  const names = new Map(developers.map((row) => [row.developer_id, developerLabel(row)]));
  const byDeveloper = sessions.data?.items.some((session) => session.developer_id) ?? false;
  return (
    <section>
      <header class="page-header">
        <h1>Sessions</h1>
        <RangePicker key={rangeKey} range={range} path="/sessions" />
      </header>
      <p class="lede">
        Claude Code sessions, the most recently active first: what each cost, how much of it its subagents spent,
        and what prompt caching saved.
      </p>
      <DeveloperSpend developers={developers} />
      <PagedTable
        list={sessions}
        cursors={cursors}
        what="sessions"
        empty={
          <Empty title="No Claude Code sessions in this range">
            <p>
              Claude Code names its session on every call; run <code>claude</code> with{" "}
              <code>ANTHROPIC_BASE_URL</code> set to one of your <Link href="/endpoints">proxy endpoints</Link> and
              its sessions appear here. Calls from the SDKs carry no session: they are under{" "}
              <Link href="/calls">Calls</Link>.
            </p>
          </Empty>
        }
        testid="sessions"
        head={
          <>
            <th>Last active (UTC)</th>
            <th>Session</th>
            <th class="num">Duration</th>
            <th class="num">Calls</th>
            <th class="num">Cost</th>
            <th class="num">Main agent</th>
            <th class="num">Subagents</th>
            <th class="num">Cache savings</th>
            <th>Models</th>
            {byDeveloper && <th>Developer</th>}
          </>
        }
        row={(session) => (
          <tr
            key={session.session_id}
            class="clickable"
            data-session={session.session_id}
            onClick={(event) => {
              if (!(event.target as Element).closest("a")) navigate(sessionPath(session.session_id));
            }}
          >
            <td class="nowrap">
              <Link href={sessionPath(session.session_id)}>{utcTime(session.last_at)}</Link>
            </td>
            <td class="mono" title={session.session_id}>
              {shortId(session.session_id)}
            </td>
            <td class="num">{spanOf(session)}</td>
            <td class="num">{count(session.requests)}</td>
            <Cents value={session.cost_cents} />
            <Cents value={mainAgentCents(session)} />
            <td class="num" data-cents={String(Number(session.subagent_cost_cents))}>
              {dollars(Number(session.subagent_cost_cents))}
              <span class="muted small">
                {" "}
                · {plural(session.subagent_requests, "call")}, {plural(session.subagent_runs, "run")}
              </span>
            </td>
            <Cents value={session.cache_savings_cents} />
            <td>{session.models.join(", ")}</td>
            {byDeveloper && (
              <td title={session.developer_id ?? undefined}>
                {session.developer_id ? (names.get(session.developer_id) ?? session.developer_id) : "—"}
              </td>
            )}
          </tr>
        )}
      />
    </section>
  );
}

interface SessionView {
  session: SessionDetail;
  calls: UsageRecord[]; // oldest first
  truncated: boolean;
}

async function loadSession(id: string): Promise<SessionView> {
  const [session, calls] = await Promise.all([
    api.get<SessionDetail>(`/api/usage/sessions/${encodeURIComponent(id)}`),
    allPages<UsageRecord>("/api/usage", { session_id: id }),
  ]);
  // The list is newest first; a session reads in the order it happened.
  return { session, calls: [...calls.items].reverse(), truncated: calls.hasMore };
}

function Agent(props: { call: UsageRecord }) {
  const { call } = props;
  if (call.agent === "subagent") {
    return (
      <span class="tag subagent" title={call.agent_id ?? undefined}>
        subagent{call.agent_id ? ` ${call.agent_id.slice(0, 6)}` : ""}
      </span>
    );
  }
  return call.agent === "main" ? <span class="tag">main</span> : <span class="muted">—</span>;
}

function Facts(props: { session: SessionDetail }) {
  const { session } = props;
  const savings = Number(session.cache_savings_cents);
  return (
    <dl class="facts words" data-testid="session-facts">
      <div>
        <dt>Cost</dt>
        <dd data-testid="session-cost" data-cents={String(Number(session.cost_cents))}>
          {dollars(Number(session.cost_cents))}
          {session.cost_unknown_requests > 0 && (
            <span class="muted"> ({plural(session.cost_unknown_requests, "call")} of unknown price not counted)</span>
          )}
        </dd>
      </div>
      <div>
        <dt>Calls</dt>
        <dd data-testid="session-calls">{count(session.requests)}</dd>
      </div>
      <div>
        <dt>Duration</dt>
        <dd>
          {spanOf(session)}
          <span class="muted small"> ({utcTime(session.first_at)} – {utcTime(session.last_at)} UTC)</span>
        </dd>
      </div>
      <div>
        <dt>Main agent</dt>
        <dd data-testid="session-main" data-cents={String(mainAgentCents(session))}>
          {dollars(mainAgentCents(session))} · {plural(session.requests - session.subagent_requests, "call")}
        </dd>
      </div>
      <div>
        <dt>Subagents</dt>
        <dd data-testid="session-subagents" data-cents={String(Number(session.subagent_cost_cents))}>
          {dollars(Number(session.subagent_cost_cents))} · {plural(session.subagent_requests, "call")} in{" "}
          {plural(session.subagent_runs, "run")}
        </dd>
      </div>
      <div>
        <dt>Saved by prompt caching</dt>
        <dd data-testid="session-savings" data-cents={String(savings)}>
          <span class={savings >= 0 ? "saving" : undefined}>{dollars(savings)}</span>
          <span class="muted small">
            {" "}
            ({Math.round(session.cache_hit_ratio * 100)}% of input read from cache)
          </span>
        </dd>
      </div>
      <div>
        <dt>1-hour cache writes never read back</dt>
        <dd data-testid="session-unread" data-cents={String(Number(session.unread_1h_cache_write_extra_cents))}>
          {session.unread_1h_cache_write_tokens > 0 ? (
            <>
              {plural(session.unread_1h_cache_write_tokens, "token")} in {plural(session.unread_1h_cache_writes, "call")}:{" "}
              {dollars(Number(session.unread_1h_cache_write_extra_cents))} above plain input
            </>
          ) : (
            "None"
          )}
          {session.pending_1h_cache_write_tokens > 0 && (
            <span class="muted small">
              {" "}
              ({plural(session.pending_1h_cache_write_tokens, "token")} still within their hour)
            </span>
          )}
        </dd>
      </div>
      {session.developer_id && (
        <div>
          <dt>Developer</dt>
          <dd class="mono">{session.developer_id}</dd>
        </div>
      )}
      <div>
        <dt>Models</dt>
        <dd>{session.models.join(", ") || "—"}</dd>
      </div>
    </dl>
  );
}

export function SessionDetailPage(props: { id: string }) {
  const view = useLoad(props.id, () => loadSession(props.id));
  const data = view.data;
  return (
    <section>
      <p>
        <Link href="/sessions">← Sessions</Link>
      </p>
      {view.loading && !data && <Loading what="the session" />}
      {view.error !== null && <ErrorBox error={view.error} retry={() => view.reload()} />}
      {data && (
        <>
          <header class="page-header">
            <h1>
              Session <span class="mono small">{data.session.session_id}</span>
            </h1>
          </header>
          <Facts session={data.session} />
          <div class="panel flush">
            <h2 class="inset">Calls, in the order they were made</h2>
            <table class="table calls" data-testid="session-call-list">
              <thead>
                <tr>
                  <th class="num">#</th>
                  <th>Time (UTC)</th>
                  <th>Agent</th>
                  <th>Model</th>
                  <th>Status</th>
                  <th class="num">Input</th>
                  <th class="num">Output</th>
                  <th class="num">Cache write 5m / 1h</th>
                  <th class="num">Cache read</th>
                  <th class="num">Cost</th>
                  <th class="num">Duration</th>
                </tr>
              </thead>
              <tbody>
                {data.calls.map((call, index) => (
                  <tr
                    key={call.id}
                    class="clickable"
                    data-call={call.id}
                    onClick={(event) => {
                      if (!(event.target as Element).closest("a")) navigate(`/calls/${call.id}`);
                    }}
                  >
                    <td class="num muted">{index + 1}</td>
                    <td class="nowrap">
                      <Link href={`/calls/${call.id}`}>{utcTime(call.requested_at)}</Link>
                    </td>
                    <td class="nowrap">
                      <Agent call={call} />
                    </td>
                    <td class="nowrap">{call.model ?? "—"}</td>
                    <td>
                      <span class={statusClass(call.status_code)}>{call.status_code ?? "—"}</span>
                    </td>
                    <td class="num">{count(call.input_tokens)}</td>
                    <td class="num">{count(call.output_tokens)}</td>
                    <td class="num">
                      {count(call.cache_creation_5m_input_tokens)} / {count(call.cache_creation_1h_input_tokens)}
                    </td>
                    <td class="num">{count(call.cache_read_input_tokens)}</td>
                    <td class="num" data-cents={call.cost_cents ?? ""}>
                      {recordCost(call.cost_cents)}
                    </td>
                    <td class="num">{millis(call.duration_ms)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {data.truncated && (
              <p class="note">The session's latest {count(data.calls.length)} calls are shown.</p>
            )}
          </div>
        </>
      )}
    </section>
  );
}
