import { api, type AuditLogEntry, type Page } from "../api";
import { Empty, PagedTable, useCursors, useLoad } from "../components/common";
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
  return (
    <section>
      <header class="page-header">
        <h1>Audit log</h1>
      </header>
      <p class="lede">Who created or deleted endpoints and keys, newest first.</p>
      <PagedTable
        list={entries}
        cursors={cursors}
        what="the audit log"
        empty={
          <Empty title="Nothing recorded yet">
            <p>Creating or deleting a proxy endpoint or an API key adds an entry here.</p>
          </Empty>
        }
        testid="audit-log"
        head={
          <>
            <th>Time (UTC)</th>
            <th>Action</th>
            <th>By</th>
            <th>Resource</th>
            <th>Details</th>
          </>
        }
        row={(entry) => (
          <tr key={entry.id}>
            <td class="nowrap">{utcTime(entry.created_at)}</td>
            <td>{ACTIONS[entry.action] ?? entry.action}</td>
            <td>{entry.user_id}</td>
            <td class="mono">{entry.resource_id}</td>
            <td>
              <Metadata text={entry.metadata} />
            </td>
          </tr>
        )}
      />
    </section>
  );
}
