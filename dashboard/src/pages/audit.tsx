import { api, type AuditLogEntry, type Page } from "../api";
import { Empty, ErrorBox, Loading, Pager, useCursors, useLoad } from "../components/common";
import { utcTime } from "../format";

const PAGE_SIZE = 50;

const ACTIONS: Record<string, string> = {
  "api_key.created": "API key created",
  "api_key.deleted": "API key deleted",
  "proxy_endpoint.created": "Endpoint created",
  "proxy_endpoint.deleted": "Endpoint deleted",
  "profile.updated": "Profile updated",
};

function Metadata(props: { text: string | null }) {
  if (!props.text) return <span class="muted">—</span>;
  let parsed: unknown;
  try {
    parsed = JSON.parse(props.text);
  } catch {
    return <span>{props.text}</span>;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return <span>{props.text}</span>;
  return (
    <span class="metadata">
      {Object.entries(parsed as Record<string, unknown>).map(([name, value]) => (
        <span key={name} class="tag">
          {name}: {typeof value === "string" ? value : JSON.stringify(value)}
        </span>
      ))}
    </span>
  );
}

export function AuditPage() {
  const cursors = useCursors("audit");
  const cursor = cursors.cursor;
  const entries = useLoad(`audit|${cursor ?? ""}`, () =>
    api.get<Page<AuditLogEntry>>("/api/audit-logs", { limit: PAGE_SIZE, cursor }),
  );
  const page = entries.data;
  return (
    <section>
      <header class="page-header">
        <h1>Audit log</h1>
      </header>
      <p class="lede">Who created or deleted endpoints and keys, newest first.</p>
      {entries.error !== null && <ErrorBox error={entries.error} retry={() => entries.reload()} />}
      {entries.loading && !page && <Loading what="the audit log" />}
      {page && page.items.length === 0 && cursors.pageNumber === 1 && (
        <Empty title="Nothing recorded yet">
          <p>Creating or deleting a proxy endpoint or an API key adds an entry here.</p>
        </Empty>
      )}
      {page && page.items.length > 0 && (
        <div class="panel flush">
          <table class="table" data-testid="audit-log">
            <thead>
              <tr>
                <th>Time (UTC)</th>
                <th>Action</th>
                <th>By</th>
                <th>Resource</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((entry) => (
                <tr key={entry.id}>
                  <td class="nowrap">{utcTime(entry.created_at)}</td>
                  <td>{ACTIONS[entry.action] ?? entry.action}</td>
                  <td>{entry.user_id}</td>
                  <td class="mono">{entry.resource_id}</td>
                  <td>
                    <Metadata text={entry.metadata} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && <Pager cursors={cursors} page={page} />}
    </section>
  );
}
