// How numbers, money and times read on screen. Money arrives in US cents.

const DOLLARS = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
const SMALL_DOLLARS = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  minimumFractionDigits: 4,
  maximumFractionDigits: 4,
});
const TINY_DOLLARS = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  maximumSignificantDigits: 2,
});
const COUNT = new Intl.NumberFormat("en-US");

/**
 * Cents as dollars: two decimals from $1 up, four below (a call often costs a fraction of a cent), and
 * two significant digits below a hundredth of a cent, so a cheap call never reads as $0.0000.
 */
export function dollars(cents: number): string {
  const value = cents / 100;
  const size = Math.abs(value);
  if (size >= 1 || value === 0) return DOLLARS.format(value);
  return size >= 0.0001 ? SMALL_DOLLARS.format(value) : TINY_DOLLARS.format(value);
}

/** Dollars on a chart axis: as short as the scale allows. */
export function axisDollars(value: number): string {
  const size = Math.abs(value);
  return size >= 0.01 || value === 0 ? DOLLARS.format(value) : TINY_DOLLARS.format(value);
}

/** A record's `cost_cents` (a decimal string, or null when the model's price is unknown). */
export function recordCost(cents: string | null): string {
  return cents === null ? "unknown" : dollars(Number(cents));
}

export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : COUNT.format(value);
}

/** `2026-03-17T01:19:55.123Z` as `2026-03-17 01:19:55` (UTC, like the daily totals). */
export function utcTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "");
}

export function millis(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
}

/** A difference in cents with its sign: `+$0.12`, `-$0.12`, `$0.00`. */
export function signedDollars(cents: number): string {
  return cents > 0 ? `+${dollars(cents)}` : dollars(cents);
}

/** A span of time as people say it: `42 s`, `3 min 05 s`, `2 h 07 min`. */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** `1 call`, `3 calls`. */
export function plural(value: number, word: string): string {
  return `${count(value)} ${word}${value === 1 ? "" : "s"}`;
}
