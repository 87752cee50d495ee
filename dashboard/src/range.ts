// Date ranges in UTC days, as the API's daily aggregates count them: `from` inclusive, `to` exclusive.

export type RangeKind = "today" | "7d" | "30d" | "custom";

export interface DayRange {
  kind: RangeKind;
  from: string; // YYYY-MM-DD, first day included
  to: string; // YYYY-MM-DD, first day after the range
}

const DAY_MS = 86_400_000;

export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  return isoDay(new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS));
}

export function todayUtc(): string {
  return isoDay(new Date());
}

export function isDay(text: string | null | undefined): text is string {
  return !!text && /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`));
}

export function presetRange(kind: Exclude<RangeKind, "custom">): DayRange {
  const today = todayUtc();
  const span = kind === "today" ? 1 : kind === "7d" ? 7 : 30;
  return { kind, from: addDays(today, 1 - span), to: addDays(today, 1) };
}

/** The range a page's query string asks for: `?range=30d`, or `?from=...&until=...` (both days included). */
export function rangeFromQuery(params: URLSearchParams): DayRange {
  const from = params.get("from");
  const until = params.get("until");
  if (isDay(from) && isDay(until) && from <= until) return { kind: "custom", from, to: addDays(until, 1) };
  const kind = params.get("range");
  return presetRange(kind === "today" || kind === "30d" ? kind : "7d");
}

export function lastDay(range: DayRange): string {
  return addDays(range.to, -1);
}

export function daysOf(range: DayRange): string[] {
  const days: string[] = [];
  for (let day = range.from; day < range.to && days.length < 1000; day = addDays(day, 1)) days.push(day);
  return days;
}
