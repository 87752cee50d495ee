import { useState } from "preact/hooks";
import { allPages, api, ApiError, type ProxyEndpoint } from "../api";
import { Command, DeleteButton, Empty, ErrorBox, Link, Loading, useLoad } from "../components/common";
import { utcTime } from "../format";
import { href } from "../router";

/** A name, a button, and the error the API gave (if any): the create form of endpoints and keys. */
export function CreateForm(props: {
  label: string;
  placeholder: string;
  button: string;
  onCreate: (name: string) => Promise<void>;
}) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await props.onCreate(name.trim());
      setName("");
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="create" onSubmit={submit}>
      <label>
        {props.label}
        <input
          value={name}
          placeholder={props.placeholder}
          maxLength={100}
          required
          onInput={(event) => setName(event.currentTarget.value)}
        />
      </label>
      <button type="submit" disabled={busy || !name.trim()}>
        {busy ? "Creating…" : props.button}
      </button>
      {error !== null && <ErrorBox error={error} />}
    </form>
  );
}

export function EndpointsPage() {
  const endpoints = useLoad("endpoints", () => allPages<ProxyEndpoint>("/api/proxy-endpoints"));
  const [created, setCreated] = useState<ProxyEndpoint | null>(null);
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const create = async (name: string) => {
    const endpoint = await api.post<ProxyEndpoint>("/api/proxy-endpoints", { name });
    setCreated(endpoint);
    endpoints.reload(true);
  };
  const remove = async (endpoint: ProxyEndpoint) => {
    setDeleteError(null);
    try {
      await api.delete(`/api/proxy-endpoints/${endpoint.id}`);
      if (created?.id === endpoint.id) setCreated(null);
    } catch (error) {
      // Already gone (another tab): the list below catches up either way.
      if (!(error instanceof ApiError && error.status === 404)) setDeleteError(error);
    }
    endpoints.reload(true);
  };
  const items = endpoints.data?.items ?? [];
  return (
    <section>
      <header class="page-header">
        <h1>Proxy endpoints</h1>
      </header>
      <p class="lede">
        A proxy endpoint is the URL Claude Code or an Anthropic SDK sends its calls to. Calls pass through to
        Anthropic untouched, with your own Anthropic key; Codecosts records their tokens and cost.
      </p>
      <div class="panel">
        <CreateForm label="New endpoint name" placeholder="laptop" button="Create endpoint" onCreate={create} />
        {created && (
          <div class="created" data-testid="created-endpoint">
            <strong>Endpoint “{created.name}” created.</strong> Run this where you use Claude Code, then start{" "}
            <code>claude</code>:
            <Command text={`export ANTHROPIC_BASE_URL=${created.url}`} />
          </div>
        )}
      </div>
      {deleteError !== null && <ErrorBox error={deleteError} />}
      {endpoints.error !== null && <ErrorBox error={endpoints.error} retry={() => endpoints.reload()} />}
      {endpoints.loading && !endpoints.data && <Loading what="endpoints" />}
      {endpoints.data && items.length === 0 && (
        <Empty title="No proxy endpoint yet">
          <p>
            Create one above (a name such as “laptop” or “ci”), copy the <code>export ANTHROPIC_BASE_URL=…</code>{" "}
            line it shows into your shell, and run <code>claude</code>: its calls appear on the overview within
            seconds.
          </p>
        </Empty>
      )}
      {items.length > 0 && (
        <div class="panel flush">
          <table class="table" data-testid="endpoints">
            <thead>
              <tr>
                <th>Name</th>
                <th>Set in your shell</th>
                <th>Created (UTC)</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((endpoint) => (
                <tr key={endpoint.id} data-endpoint-id={endpoint.id}>
                  <td>
                    <Link href={href("/calls", { endpoint: endpoint.id })} title="Calls through this endpoint">
                      {endpoint.name}
                    </Link>
                  </td>
                  <td>
                    <Command text={`export ANTHROPIC_BASE_URL=${endpoint.url}`} />
                  </td>
                  <td class="nowrap">{utcTime(endpoint.created_at)}</td>
                  <td class="num">
                    <DeleteButton what={`“${endpoint.name}”`} onDelete={() => remove(endpoint)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="note">Deleting an endpoint stops its URL within seconds; the calls it recorded stay.</p>
        </div>
      )}
    </section>
  );
}
