import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type Page } from "../api";
import { underBase } from "../base";
import { dollars } from "../format";
import { followLink } from "../router";

export function Link(props: { href: string; class?: string; children: ComponentChildren; title?: string }) {
  return (
    <a href={underBase(props.href)} class={props.class} title={props.title} onClick={followLink}>
      {props.children}
    </a>
  );
}

export function Loading(props: { what: string }) {
  return (
    <div class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> Loading {props.what}…
    </div>
  );
}

export function ErrorBox(props: { error: unknown; retry?: () => void }) {
  const error = props.error;
  const message = error instanceof Error ? error.message : String(error);
  const title = error instanceof ApiError && error.status === 0 ? "API unreachable" : "Something went wrong";
  const problems = error instanceof ApiError ? error.fieldProblems : [];
  // A sentence of details (Anthropic's own message when it refused an admin key) reads under the error.
  const details = error instanceof ApiError && typeof error.details === "string" ? error.details : null;
  return (
    <div class="error" role="alert">
      <strong>{title}</strong>
      <p>{message}</p>
      {details && <p>{details}</p>}
      {problems.length > 0 && (
        <ul>
          {problems.map((problem) => (
            <li key={problem.field}>
              <code>{problem.field}</code>: {problem.message}
            </li>
          ))}
        </ul>
      )}
      {props.retry && (
        <button type="button" class="secondary" onClick={props.retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty(props: { title: string; children: ComponentChildren }) {
  return (
    <div class="empty">
      <h3>{props.title}</h3>
      {props.children}
    </div>
  );
}

/** A table cell of money: dollars shown, the exact cents in `data-cents`. */
export function Cents(props: { value: string | number; testid?: string }) {
  const cents = Number(props.value);
  return (
    <td class="num" data-cents={String(cents)} data-testid={props.testid}>
      {dollars(cents)}
    </td>
  );
}

export function CopyButton(props: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.text);
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1500);
    } catch {
      window.prompt("Copy this:", props.text);
    }
  };
  return (
    <button type="button" class="secondary small" onClick={copy}>
      {copied ? "Copied" : (props.label ?? "Copy")}
    </button>
  );
}

/** A command line to paste, with its copy button. */
export function Command(props: { text: string }) {
  return (
    <div class="command">
      <code>{props.text}</code>
      <CopyButton text={props.text} />
    </div>
  );
}

/** Delete in two clicks, the second one explicit; no browser dialog. */
export function DeleteButton(props: { what: string; onDelete: () => Promise<void> }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger small" onClick={() => setAsking(true)}>
        Delete
      </button>
    );
  }
  const confirm = async () => {
    setBusy(true);
    try {
      await props.onDelete();
    } finally {
      setBusy(false);
      setAsking(false);
    }
  };
  return (
    <span class="confirm">
      <button type="button" class="danger small" disabled={busy} onClick={confirm}>
        {busy ? "Deleting…" : `Delete ${props.what}`}
      </button>
      <button type="button" class="secondary small" disabled={busy} onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export interface Loaded<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: (quiet?: boolean) => void;
}

/**
 * Runs `load` whenever `key` changes; `reload(true)` refreshes without showing the loading state,
 * and a late answer for an older key is dropped.
 */
export function useLoad<T>(key: string, load: () => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ key: string; data: T | null; error: unknown; loading: boolean }>({
    key,
    data: null,
    error: null,
    loading: true,
  });
  const generation = useRef(0);
  const loader = useRef(load);
  loader.current = load;
  const run = (quiet: boolean) => {
    const mine = ++generation.current;
    if (!quiet) setState((previous) => ({ ...previous, key, loading: true, error: null }));
    loader.current().then(
      (data) => mine === generation.current && setState({ key, data, error: null, loading: false }),
      // A failed refresh keeps what was shown, under the error: the next success clears it.
      (error: unknown) =>
        mine === generation.current && setState((previous) => ({ ...previous, key, error, loading: false })),
    );
  };
  useEffect(() => run(false), [key]);
  const keyMatches = state.key === key;
  return {
    data: keyMatches ? state.data : null,
    error: keyMatches ? state.error : null,
    loading: !keyMatches || state.loading,
    reload: (quiet = false) => run(quiet),
  };
}

/** Calls `tick` every `seconds` while the tab is visible: new calls show up without a reload. */
export function useEvery(seconds: number, tick: () => void): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") latest.current();
    }, seconds * 1000);
    return () => window.clearInterval(timer);
  }, [seconds]);
}

export interface Cursors {
  cursor: string | null;
  pageNumber: number;
  newer: () => void;
  older: (next: string) => void;
}

/** Where a paged list is: the cursors of the pages read so far, for one `key` (the list's filters);
 * another key starts again at the first page. */
export function useCursors(key: string): Cursors {
  const [cursors, setCursors] = useState<{ key: string; stack: (string | null)[] }>({ key, stack: [null] });
  const stack = cursors.key === key ? cursors.stack : [null];
  return {
    cursor: stack[stack.length - 1],
    pageNumber: stack.length,
    newer: () => setCursors({ key, stack: stack.slice(0, -1) }),
    older: (next) => setCursors({ key, stack: [...stack, next] }),
  };
}

/** Newer/older buttons under a paged list, when it has more than one page. */
export function Pager(props: { cursors: Cursors; page: Page<unknown> }) {
  const { cursors, page } = props;
  if (cursors.pageNumber === 1 && !page.hasMore) return null;
  const next = page.hasMore ? page.nextCursor : null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="secondary" disabled={cursors.pageNumber === 1} onClick={cursors.newer}>
        ← Newer
      </button>
      <span class="muted">Page {cursors.pageNumber}</span>
      <button type="button" class="secondary" disabled={!next} onClick={() => next && cursors.older(next)}>
        Older →
      </button>
    </nav>
  );
}

/**
 * A paged list in all its states: the error with its retry, loading the first page, what an empty
 * first page says, the rows in their table, and the pager under them.
 */
export function PagedTable<T>(props: {
  list: Loaded<Page<T>>;
  cursors: Cursors;
  what: string;
  empty: ComponentChildren;
  tableClass?: string;
  testid: string;
  head: ComponentChildren;
  row: (item: T) => ComponentChildren;
}) {
  const { list, cursors } = props;
  const page = list.data;
  return (
    <>
      {list.error !== null && <ErrorBox error={list.error} retry={() => list.reload()} />}
      {list.loading && !page && <Loading what={props.what} />}
      {page && page.items.length === 0 && cursors.pageNumber === 1 && props.empty}
      {page && page.items.length > 0 && (
        <div class="panel flush">
          <table class={props.tableClass ?? "table"} data-testid={props.testid}>
            <thead>
              <tr>{props.head}</tr>
            </thead>
            <tbody>{page.items.map((item) => props.row(item))}</tbody>
          </table>
        </div>
      )}
      {page && <Pager cursors={cursors} page={page} />}
    </>
  );
}
