// The bill check: what Codecosts recorded against what Anthropic bills, from the organization's Admin API.
import type { ChartConfiguration } from "chart.js";
import { useState } from "preact/hooks";
import {
  type AdminKeyStatus,
  api,
  ApiError,
  type ReconciledKey,
  type Reconciliation,
  type TokenKinds,
} from "../api";
import { BarChart } from "../components/chart";
import { DeleteButton, Empty, ErrorBox, Link, Loading, useLoad } from "../components/common";
import { axisDollars, count, dollars, signedDollars, utcTime } from "../format";
import type { DayRange } from "../range";
import { href } from "../router";
import { RangePicker } from "./overview";

const KINDS: [keyof TokenKinds, string][] = [
  ["uncached_input_tokens", "input"],
  ["cache_creation_5m_input_tokens", "cache write 5 min"],
  ["cache_creation_1h_input_tokens", "cache write 1 hour"],
  ["cache_read_input_tokens", "cache read"],
  ["output_tokens", "output"],
  ["web_search_requests", "web searches"],
];
const BILLED_MORE = "#b91c1c";
const BILLED_LESS = "#b45309";

const NO_KEY: AdminKeyStatus = { configured: false, hint: null, updated_at: null };

/** The report, or null when the admin key went away meanwhile (the API's 409). */
async function loadReport(range: DayRange): Promise<Reconciliation | null> {
  try {
    return await api.get<Reconciliation>("/api/reconciliation", { from: range.from, to: range.to });
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) return null;
    throw error;
  }
}

function driftChart(report: Reconciliation): ChartConfiguration<"bar"> {
  const drifts = report.byDay.map((day) => day.driftCostCents / 100);
  return {
    type: "bar",
    data: {
      labels: report.byDay.map((day) => day.date),
      datasets: [
        {
          label: "Drift (billed − recorded)",
          data: drifts,
          backgroundColor: drifts.map((value) => (value >= 0 ? BILLED_MORE : BILLED_LESS)),
          maxBarThickness: 64,
        },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        x: { grid: { display: false } },
        y: { ticks: { callback: (value) => axisDollars(Number(value)) } },
      },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => signedDollars(Number(item.raw) * 100) } },
      },
    },
  };
}

/** Where billed and recorded tokens differ, kind by kind: `output +120 billed`. */
function tokenDifferences(recorded: TokenKinds, billed: TokenKinds): string {
  const differences = KINDS.filter(([kind]) => billed[kind] !== recorded[kind]).map(([kind, label]) => {
    const difference = billed[kind] - recorded[kind];
    return `${label} ${difference > 0 ? "+" : ""}${count(difference)}`;
  });
  return differences.length ? `${differences.join(", ")} billed` : "none";
}

function AdminKeyForm(props: { onSaved: (status: AdminKeyStatus) => void; onCancel?: () => void }) {
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onSaved(await api.put<AdminKeyStatus>("/api/anthropic-admin-key", { admin_key: value.trim() }));
      setValue("");
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="create" onSubmit={save}>
      <label>
        Anthropic admin key
        <input
          name="admin_key"
          type="password"
          autoComplete="off"
          placeholder="sk-ant-admin…"
          value={value}
          onInput={(event) => setValue(event.currentTarget.value)}
          required
        />
      </label>
      <button type="submit" disabled={busy || !value.trim()}>
        {busy ? "Checking with Anthropic…" : "Save key"}
      </button>
      {props.onCancel && (
        <button type="button" class="secondary" disabled={busy} onClick={props.onCancel}>
          Cancel
        </button>
      )}
      {error !== null && <ErrorBox error={error} />}
    </form>
  );
}

function AdminKeyPanel(props: { status: AdminKeyStatus; onChange: (status: AdminKeyStatus) => void }) {
  const { status } = props;
  const [replacing, setReplacing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const saved = (next: AdminKeyStatus) => {
    setReplacing(false);
    props.onChange(next);
  };
  const remove = async () => {
    setError(null);
    try {
      await api.delete("/api/anthropic-admin-key");
      props.onChange(NO_KEY);
    } catch (failure) {
      setError(failure);
    }
  };
  if (!status.configured) {
    return (
      <div class="panel" data-testid="admin-key">
        <h2>Connect your Anthropic organization</h2>
        <p class="muted">
          The bill check reads Anthropic's usage and cost reports with an <strong>admin key</strong> (
          <code>sk-ant-admin…</code>, made by an organization admin in the Claude Console under Settings → Admin
          keys). Codecosts checks it with Anthropic, stores it encrypted and never shows it again.
        </p>
        <AdminKeyForm onSaved={saved} />
      </div>
    );
  }
  return (
    <div class="panel" data-testid="admin-key">
      <div class="key-status">
        <span>
          Admin key <code data-testid="admin-key-hint">{status.hint}</code>
          {status.updated_at && <span class="muted"> · set {utcTime(status.updated_at)} UTC</span>}
        </span>
        {!replacing && (
          <span class="confirm">
            <button type="button" class="secondary small" onClick={() => setReplacing(true)}>
              Replace
            </button>
            <DeleteButton what="the admin key" onDelete={remove} />
          </span>
        )}
      </div>
      {replacing && <AdminKeyForm onSaved={saved} onCancel={() => setReplacing(false)} />}
      {error !== null && <ErrorBox error={error} />}
    </div>
  );
}

function KeyStatus(props: { row: ReconciledKey }) {
  const { row } = props;
  if (row.unrecorded) return <span class="tag bad">Unrecorded: never through Codecosts</span>;
  if (row.anthropic_api_key_id === null) return <span class="tag">Not billed to this organization</span>;
  return <span class="tag ok">Through Codecosts</span>;
}

function Money(props: { cents: number; signed?: boolean }) {
  return (
    <td class="num" data-cents={String(props.cents)}>
      {props.signed ? signedDollars(props.cents) : dollars(props.cents)}
    </td>
  );
}

function SyncState(props: { report: Reconciliation }) {
  const { report } = props;
  if (report.stale) {
    return (
      <div class="warning" role="alert" data-testid="stale">
        <strong>The last sync with Anthropic failed:</strong> {report.error ?? "no reason given"}.{" "}
        {report.asOf
          ? `Showing what was synced ${utcTime(report.asOf)} UTC.`
          : "Nothing has been synced yet, so billed amounts are missing."}
      </div>
    );
  }
  return (
    <p class="muted small" data-testid="as-of">
      {report.asOf
        ? `Anthropic's reports as synced ${utcTime(report.asOf)} UTC (synced daily; Refresh syncs now).`
        : "Not synced with Anthropic yet: Refresh reads its reports now (this also happens daily)."}
    </p>
  );
}

/** What drift is left once the keys that never went through Codecosts are set aside, to the micro-cent. */
function proxiedDrift(totals: Reconciliation["totals"]): number {
  return Math.round((totals.driftCostCents - totals.unrecordedCostCents) * 1e6) / 1e6;
}

function Report(props: { report: Reconciliation }) {
  const { report } = props;
  const { totals } = report;
  const unrecorded = report.byKey.filter((row) => row.unrecorded);
  // Never synced: Anthropic's side is unknown, and zeros would read as "billed nothing".
  if (report.asOf === null) return <SyncState report={report} />;
  if (report.byModel.length === 0 && report.byKey.length === 0) {
    return (
      <>
        <SyncState report={report} />
        <Empty title="Nothing recorded or billed in these days">
          <p>Anthropic's reports show no spend for this organization between these days, and neither does Codecosts.</p>
        </Empty>
      </>
    );
  }
  return (
    <>
      <SyncState report={report} />
      <div class="cards">
        <div class="card" data-testid="recorded" data-cents={String(totals.recordedCostCents)}>
          <span class="card-label">Recorded by Codecosts</span>
          <span class="card-value">{dollars(totals.recordedCostCents)}</span>
        </div>
        <div class="card" data-testid="billed" data-cents={String(totals.billedCostCents)}>
          <span class="card-label">Billed by Anthropic</span>
          <span class="card-value">{dollars(totals.billedCostCents)}</span>
        </div>
        <div class="card" data-testid="drift" data-cents={String(totals.driftCostCents)}>
          <span class="card-label">Drift (billed − recorded)</span>
          <span class={totals.driftCostCents === 0 ? "card-value saving" : "card-value"}>
            {signedDollars(totals.driftCostCents)}
          </span>
          {totals.unrecordedCostCents > 0 && (
            <span class="card-note" data-testid="proxied-drift">
              {signedDollars(proxiedDrift(totals))} on keys that went through Codecosts
            </span>
          )}
        </div>
        <div class="card" data-testid="unrecorded-total" data-cents={String(totals.unrecordedCostCents)}>
          <span class="card-label">Spent around Codecosts</span>
          <span class={totals.unrecordedCostCents > 0 ? "card-value alarm" : "card-value"}>
            {dollars(totals.unrecordedCostCents)}
          </span>
          <span class="card-note">on Anthropic keys never seen through the proxy</span>
        </div>
      </div>
      {unrecorded.length > 0 && (
        <div class="warning" role="alert" data-testid="unrecorded">
          <strong>
            {dollars(totals.unrecordedCostCents)} billed on {unrecorded.length} Anthropic key
            {unrecorded.length === 1 ? "" : "s"} that never went through Codecosts:
          </strong>{" "}
          {unrecorded.map((row, index) => (
            <span key={row.anthropic_api_key_id}>
              {index > 0 && ", "}
              <code>{row.partial_key_hint ?? row.anthropic_api_key_id}</code> ({dollars(row.billedCostCents)})
            </span>
          ))}
          . Point those clients at a proxy endpoint, or retire the keys.
        </div>
      )}
      <div class="panel">
        <h2>Drift by day</h2>
        <BarChart
          label="Drift by day"
          config={driftChart(report)}
          height={240}
          format={(value) => signedDollars(value * 100)}
        />
      </div>
      <div class="panel flush">
        <h2 class="inset">By model</h2>
        <table class="table" data-testid="by-model">
          <thead>
            <tr>
              <th>Model</th>
              <th class="num">Recorded</th>
              <th class="num">Billed</th>
              <th class="num">Drift</th>
              <th>Token differences</th>
            </tr>
          </thead>
          <tbody>
            {report.byModel.map((row) => (
              <tr key={row.model}>
                <td>{row.model}</td>
                <Money cents={row.recordedCostCents} />
                <Money cents={row.billedCostCents} />
                <Money cents={row.driftCostCents} signed />
                <td class="muted">{tokenDifferences(row.recorded, row.billed)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="panel flush">
        <h2 class="inset">By Anthropic key</h2>
        <table class="table" data-testid="by-key">
          <thead>
            <tr>
              <th>Anthropic key</th>
              <th>Calls through Codecosts</th>
              <th class="num">Recorded</th>
              <th class="num">Billed</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            {report.byKey.map((row) => (
              <tr
                key={`${row.anthropic_api_key_id}|${row.api_key_id}`}
                data-key={row.anthropic_api_key_id ?? row.api_key_id ?? ""}
                class={row.unrecorded ? "alarm" : undefined}
              >
                <td class="mono">{row.partial_key_hint ?? "—"}</td>
                <td>
                  {row.api_key_id ? <Link href={href("/calls", { key: row.api_key_id })}>See the calls</Link> : "none"}
                </td>
                <Money cents={row.recordedCostCents} />
                <Money cents={row.billedCostCents} />
                <td>
                  <KeyStatus row={row} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function BillCheckPage(props: { range: DayRange }) {
  const { range } = props;
  const [keyVersion, setKeyVersion] = useState(0);
  const adminKey = useLoad(`admin-key|${keyVersion}`, () => api.get<AdminKeyStatus>("/api/anthropic-admin-key"));
  const rangeKey = `${range.from}/${range.to}`;
  const configured = adminKey.data?.configured ?? false;
  // Asked only once a key is set: without one the API can only answer 409.
  const report = useLoad(`${rangeKey}|${keyVersion}|${configured}`, () =>
    configured ? loadReport(range) : Promise.resolve(null),
  );
  const [refreshing, setRefreshing] = useState(false);
  const [refreshError, setRefreshError] = useState<unknown>(null);
  const keyChanged = () => {
    setRefreshError(null);
    setKeyVersion(keyVersion + 1);
  };
  const refresh = async () => {
    setRefreshing(true);
    setRefreshError(null);
    try {
      await api.post<Reconciliation>("/api/reconciliation/refresh", undefined, { from: range.from, to: range.to });
      report.reload(true);
    } catch (error) {
      setRefreshError(error);
      // 409: the key went away (another tab, another person): show the form again.
      if (error instanceof ApiError && error.status === 409) setKeyVersion(keyVersion + 1);
    } finally {
      setRefreshing(false);
    }
  };
  const status = adminKey.data;
  return (
    <section>
      <header class="page-header">
        <h1>Bill check</h1>
        <RangePicker key={rangeKey} range={range} path="/bill-check" />
      </header>
      <p class="lede">
        Does what Codecosts recorded match what Anthropic bills? Day by day, model by model and key by key, from
        your organization's own usage and cost reports.
      </p>
      {adminKey.error !== null && <ErrorBox error={adminKey.error} retry={() => adminKey.reload()} />}
      {adminKey.loading && !status && <Loading what="the admin key" />}
      {status && <AdminKeyPanel status={status} onChange={keyChanged} />}
      <div class="toolbar">
        {status?.configured && (
          <button type="button" onClick={() => void refresh()} disabled={refreshing}>
            {refreshing ? "Reading Anthropic's reports…" : "Refresh from Anthropic"}
          </button>
        )}
        {refreshError !== null && <ErrorBox error={refreshError} />}
      </div>
      {report.error !== null && <ErrorBox error={report.error} retry={() => report.reload()} />}
      {status?.configured && report.loading && !report.data && <Loading what="the bill check" />}
      {status?.configured && report.data && <Report report={report.data} />}
    </section>
  );
}
