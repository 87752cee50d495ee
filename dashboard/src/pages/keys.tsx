import { useState } from "preact/hooks";
import { allPages, api, ApiError, type ApiKey, type CreatedApiKey, type KeyScope } from "../api";
import { CopyButton, DeleteButton, Empty, ErrorBox, Loading, useLoad } from "../components/common";
import { utcTime } from "../format";
import { CreateForm } from "./endpoints";

const SCOPES: { scope: KeyScope; can: string }[] = [
  { scope: "read", can: "read usage" },
  { scope: "write", can: "also change endpoints and the profile" },
  { scope: "admin", can: "also manage API keys" },
];

export function KeysPage() {
  const keys = useLoad("api-keys", () => allPages<ApiKey>("/api/api-keys"));
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [deleteError, setDeleteError] = useState<unknown>(null);
  // Least privilege by default: a key for a reporting script only reads.
  const [scope, setScope] = useState<KeyScope>("read");
  const create = async (name: string) => {
    setCreated(await api.post<CreatedApiKey>("/api/api-keys", { name, scope }));
    setScope("read");
    keys.reload(true);
  };
  const remove = async (key: ApiKey) => {
    setDeleteError(null);
    try {
      await api.delete(`/api/api-keys/${key.id}`);
      if (created?.id === key.id) setCreated(null);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) setDeleteError(error);
    }
    keys.reload(true);
  };
  const items = keys.data?.items ?? [];
  return (
    <section>
      <header class="page-header">
        <h1>API keys</h1>
      </header>
      <p class="lede">
        Codecosts API keys let scripts and this dashboard read your usage (<code>Authorization: Bearer sk_…</code>
        ). They are not Anthropic keys.
      </p>
      <div class="panel">
        <div class="create">
          <label>
            Scope
            <select value={scope} onChange={(event) => setScope(event.currentTarget.value as KeyScope)}>
              {SCOPES.map((choice) => (
                <option key={choice.scope} value={choice.scope}>
                  {choice.scope}: {choice.can}
                </option>
              ))}
            </select>
          </label>
          <CreateForm label="New key name" placeholder="reporting script" button="Create key" onCreate={create} />
        </div>
        {created && (
          <div class="created" data-testid="created-key">
            <strong>
              Key “{created.name}” ({created.scope}) created. Copy it now: it is shown this once only.
            </strong>
            <div class="command">
              <code>{created.key}</code>
              <CopyButton text={created.key} />
            </div>
            <button type="button" class="secondary small" onClick={() => setCreated(null)}>
              I have copied it
            </button>
          </div>
        )}
      </div>
      {deleteError !== null && <ErrorBox error={deleteError} />}
      {keys.error !== null && <ErrorBox error={keys.error} retry={() => keys.reload()} />}
      {keys.loading && !keys.data && <Loading what="API keys" />}
      {keys.data && items.length === 0 && (
        <Empty title="No API keys">
          <p>Create one above to read your usage from scripts: <code>curl -H "Authorization: Bearer sk_…" …/api/usage</code>.</p>
        </Empty>
      )}
      {items.length > 0 && (
        <div class="panel flush">
          <table class="table" data-testid="api-keys">
            <thead>
              <tr>
                <th>Name</th>
                <th>Key</th>
                <th>Scope</th>
                <th>Last used (UTC)</th>
                <th>Created (UTC)</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((key) => (
                <tr key={key.id}>
                  <td>{key.name}</td>
                  <td class="mono">{key.key_prefix}</td>
                  <td>{key.scope}</td>
                  <td class="nowrap">{key.last_used_at ? utcTime(key.last_used_at) : "never"}</td>
                  <td class="nowrap">{utcTime(key.created_at)}</td>
                  <td class="num">
                    <DeleteButton what={`“${key.name}”`} onDelete={() => remove(key)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="note">A deleted key stops working within seconds, this dashboard's own included.</p>
        </div>
      )}
    </section>
  );
}
