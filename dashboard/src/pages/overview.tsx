import type { ChartConfiguration } from "chart.js";
import { useState } from "preact/hooks";
import { allPages, api, type ProxyEndpoint, type UsageSummary } from "../api";
import { BarChart, PALETTE } from "../components/chart";
import { Cents, Command, Empty, ErrorBox, Link, Loading, useEvery, useLoad } from "../components/common";
import { axisDollars, count, dollars } from "../format";
import { type DayRange, daysOf, isDay, lastDay, type RangeKind } from "../range";
import { href, navigate } from "../router";

// Past this many models, the smallest share one series ("Other models") so the chart stays legible.
const MAX_MODEL_SERIES = 8;

interface EndpointCost {
  id: string;
  name: string;
  cost: number;
  requests: number;
}

interface Overview {
  summary: UsageSummary;
  endpoints: ProxyEndpoint[];
  byEndpoint: EndpointCost[];
}

function totalTokens(summary: UsageSummary): number {
  return (
    summary.totalInputTokens +
    summary.totalOutputTokens +
    summary.totalCacheCreationInputTokens +
    summary.totalCacheReadInputTokens
  );
}

async function loadOverview(range: DayRange): Promise<Overview> {
  const [summary, endpointPage] = await Promise.all([
    api.get<UsageSummary>("/api/usage/summary", { from: range.from, to: range.to }),
    allPages<ProxyEndpoint>("/api/proxy-endpoints"),
  ]);
  const names = new Map(endpointPage.items.map((endpoint) => [endpoint.id, endpoint.name]));
  return {
    summary,
    endpoints: endpointPage.items,
    byEndpoint: summary.byEndpoint.map((row) => ({
      id: row.proxy_endpoint_id,
      name: names.get(row.proxy_endpoint_id) ?? "Deleted endpoint",
      cost: row.cost,
      requests: row.requests,
    })),
  };
}

function moneyTicks(value: number | string): string {
  return axisDollars(Number(value));
}

function dailyChart(summary: UsageSummary, range: DayRange): ChartConfiguration<"bar"> {
  const days = daysOf(range);
  const ranked = summary.byModel.map((row) => row.model);
  const shown = new Set(ranked.slice(0, MAX_MODEL_SERIES));
  const series = new Map<string, number[]>();
  for (const model of ranked) {
    const name = shown.has(model) ? model : "Other models";
    if (!series.has(name)) series.set(name, days.map(() => 0));
  }
  for (const cell of summary.byDayModel) {
    const index = days.indexOf(cell.date);
    const values = series.get(shown.has(cell.model) ? cell.model : "Other models");
    if (index >= 0 && values) values[index] += cell.cost / 100;
  }
  return {
    type: "bar",
    data: {
      labels: days,
      datasets: [...series.entries()].map(([model, values], index) => ({
        label: model,
        data: values,
        backgroundColor: PALETTE[index % PALETTE.length],
        stack: "cost",
        maxBarThickness: 64,
      })),
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { callback: moneyTicks } },
      },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: { label: (item) => `${item.dataset.label}: ${dollars(Number(item.raw) * 100)}` },
        },
      },
    },
  };
}

function horizontalBars(labels: string[], values: number[], money: boolean): ChartConfiguration<"bar"> {
  return {
    type: "bar",
    data: {
      labels,
      datasets: [
        {
          label: money ? "Cost" : "Tokens",
          data: values,
          backgroundColor: labels.map((_, index) => PALETTE[index % PALETTE.length]),
        },
      ],
    },
    options: {
      indexAxis: "y",
      maintainAspectRatio: false,
      scales: {
        x: {
          beginAtZero: true,
          ticks: { maxTicksLimit: 6, callback: (value) => (money ? moneyTicks(value) : count(Number(value))) },
        },
        y: { grid: { display: false } },
      },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item) => (money ? dollars(Number(item.raw) * 100) : `${count(Number(item.raw))} tokens`),
          },
        },
      },
    },
  };
}

/** The day range of a page (`path`) in its address: presets, or custom days. */
export function RangePicker(props: { range: DayRange; path: string }) {
  const { range, path } = props;
  const [from, setFrom] = useState(range.from);
  const [until, setUntil] = useState(lastDay(range));
  const [custom, setCustom] = useState(range.kind === "custom");
  const presets: [RangeKind, string][] = [
    ["today", "Today"],
    ["7d", "7 days"],
    ["30d", "30 days"],
  ];
  const apply = (event: Event) => {
    event.preventDefault();
    if (isDay(from) && isDay(until) && from <= until) navigate(href(path, { from, until }));
  };
  return (
    <div class="range">
      <div class="segmented" role="group" aria-label="Date range">
        {presets.map(([kind, label]) => (
          <button
            type="button"
            key={kind}
            class={range.kind === kind && !custom ? "active" : ""}
            aria-pressed={range.kind === kind && !custom}
            onClick={() => {
              setCustom(false);
              navigate(href(path, { range: kind === "7d" ? null : kind }));
            }}
          >
            {label}
          </button>
        ))}
        <button
          type="button"
          class={custom ? "active" : ""}
          aria-pressed={custom}
          onClick={() => setCustom(true)}
        >
          Custom
        </button>
      </div>
      {custom && (
        <form class="custom-range" onSubmit={apply}>
          <label>
            From <input type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} required />
          </label>
          <label>
            To <input type="date" value={until} onInput={(e) => setUntil(e.currentTarget.value)} required />
          </label>
          <button type="submit" disabled={!(isDay(from) && isDay(until) && from <= until)}>
            Apply
          </button>
        </form>
      )}
      <span class="muted range-label">
        {range.from === lastDay(range) ? range.from : `${range.from} – ${lastDay(range)}`} (UTC days)
      </span>
    </div>
  );
}

export function NoEndpointYet() {
  return (
    <Empty title="No proxy endpoint yet">
      <p>Codecosts sees the calls that go through one of your proxy endpoints. To start:</p>
      <ol>
        <li>
          <Link href="/endpoints">Create a proxy endpoint</Link> (give it a name such as “laptop”).
        </li>
        <li>
          Copy the line it shows, <code>export ANTHROPIC_BASE_URL=…</code>, and run it in the shell where
          you use Claude Code.
        </li>
        <li>
          Run <code>claude</code> (or any Anthropic SDK) as usual: each call appears here within seconds.
        </li>
      </ol>
    </Empty>
  );
}

function NoCallsInRange(props: { endpoints: ProxyEndpoint[]; range: DayRange }) {
  const endpoint = props.endpoints[0];
  return (
    <Empty title="No calls in this range">
      <p>Point Claude Code or an Anthropic SDK at your proxy endpoint, then use it as usual:</p>
      <Command text={`export ANTHROPIC_BASE_URL=${endpoint.url}`} />
      <p>
        Calls show up here within seconds of finishing.
        {props.range.kind !== "30d" && (
          <>
            {" "}
            Older calls? <Link href="/?range=30d">Look at the last 30 days</Link>.
          </>
        )}
      </p>
    </Empty>
  );
}

export function OverviewPage(props: { range: DayRange }) {
  const { range } = props;
  const key = `${range.from}/${range.to}`;
  const overview = useLoad(key, () => loadOverview(range));
  useEvery(5, () => overview.reload(true));
  return (
    <section>
      <header class="page-header">
        <h1>Overview</h1>
        <RangePicker key={key} range={range} path="/" />
      </header>
      {overview.loading && !overview.data && <Loading what="spend" />}
      {overview.error !== null && <ErrorBox error={overview.error} retry={() => overview.reload()} />}
      {overview.data && <OverviewBody overview={overview.data} range={range} />}
    </section>
  );
}

function SavingsCard(props: { summary: UsageSummary }) {
  const { summary } = props;
  const saved = summary.cacheSavingsCents;
  return (
    <div class="card" data-testid="cache-savings" data-cents={String(saved)}>
      <span class="card-label">Saved by prompt caching</span>
      <span class={saved >= 0 ? "card-value saving" : "card-value"}>{dollars(saved)}</span>
      <span class="card-note">
        {saved >= 0
          ? `${dollars(summary.totalCostWithoutCacheCents)} without caching`
          : "Cache writes not yet paid back by cache reads"}
        {" · "}
        {Math.round(summary.cacheHitRatio * 100)}% of input read from cache
      </span>
    </div>
  );
}

function OverviewBody(props: { overview: Overview; range: DayRange }) {
  const { overview, range } = props;
  const { summary } = overview;
  const cards = (
    <div class="cards">
      <div class="card" data-testid="total-cost" data-cents={String(summary.totalCostCents)}>
        <span class="card-label">Total cost</span>
        <span class="card-value">{dollars(summary.totalCostCents)}</span>
        {summary.costUnknownRequests > 0 && (
          <span class="card-note">
            {count(summary.costUnknownRequests)} call{summary.costUnknownRequests === 1 ? "" : "s"} on a model
            without a known price, counted as $0
          </span>
        )}
      </div>
      <div class="card" data-testid="total-requests">
        <span class="card-label">Calls</span>
        <span class="card-value">{count(summary.totalRequests)}</span>
      </div>
      <div class="card" data-testid="total-tokens">
        <span class="card-label">Tokens</span>
        <span class="card-value">{count(totalTokens(summary))}</span>
      </div>
      <SavingsCard summary={summary} />
    </div>
  );
  if (overview.endpoints.length === 0 && summary.totalRequests === 0) {
    return (
      <>
        {cards}
        <NoEndpointYet />
      </>
    );
  }
  if (summary.totalRequests === 0) {
    return (
      <>
        {cards}
        <NoCallsInRange endpoints={overview.endpoints} range={range} />
      </>
    );
  }
  const tokenKinds: [string, number][] = [
    ["Input", summary.totalInputTokens],
    ["Output", summary.totalOutputTokens],
    ["Cache write (5 min)", summary.totalCacheCreation5mInputTokens],
    ["Cache write (1 hour)", summary.totalCacheCreation1hInputTokens],
    ["Cache read", summary.totalCacheReadInputTokens],
  ];
  const days = { from: range.from, until: lastDay(range) };
  return (
    <>
      {cards}
      <div class="panel">
        <h2>Cost by day and model</h2>
        <BarChart
          label="Cost by day, stacked by model"
          config={dailyChart(summary, range)}
          format={(value) => dollars(value * 100)}
        />
      </div>
      <div class="grid-2">
        <div class="panel">
          <h2>Cost by model</h2>
          <table class="table" data-testid="by-model">
            <thead>
              <tr>
                <th>Model</th>
                <th class="num">Calls</th>
                <th class="num">Tokens</th>
                <th class="num">Cost</th>
              </tr>
            </thead>
            <tbody>
              {summary.byModel.map((row) => (
                <tr key={row.model}>
                  <td>
                    <Link href={href("/calls", { model: row.model, ...days })}>{row.model}</Link>
                  </td>
                  <td class="num">{count(row.requests)}</td>
                  <td class="num">{count(row.tokens)}</td>
                  <Cents value={row.cost} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="panel">
          <h2>Cost by proxy endpoint</h2>
          <BarChart
            label="Cost by proxy endpoint"
            format={(value) => dollars(value * 100)}
            height={Math.max(90, 36 * overview.byEndpoint.length + 40)}
            config={horizontalBars(
              overview.byEndpoint.map((row) => row.name),
              overview.byEndpoint.map((row) => row.cost / 100),
              true,
            )}
          />
          <table class="table" data-testid="by-endpoint">
            <tbody>
              {overview.byEndpoint.map((row) => (
                <tr key={row.id}>
                  <td>
                    <Link href={href("/calls", { endpoint: row.id, ...days })}>{row.name}</Link>
                  </td>
                  <td class="num">{count(row.requests)} calls</td>
                  <Cents value={row.cost} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <div class="panel">
        <h2>Tokens by kind</h2>
        <div class="grid-2 tight">
          <BarChart
            label="Tokens by kind"
            format={count}
            height={200}
            config={horizontalBars(
              tokenKinds.map(([name]) => name),
              tokenKinds.map(([, value]) => value),
              false,
            )}
          />
          <table class="table" data-testid="tokens-by-kind">
            <tbody>
              {tokenKinds.map(([name, value]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td class="num">{count(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </>
  );
}
