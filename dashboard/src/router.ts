// Client-side routes on real paths (/calls, /calls/<id>, ...); the server answers each with index.html.
// Routes are the app's paths; the address bar shows them under the page's base (`/v1/calls` in AWS).
import { useEffect, useState } from "preact/hooks";
import { basePath, underBase, withoutBase } from "./base";

export interface Location {
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  return { path: withoutBase(window.location.pathname), query: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();
window.addEventListener("popstate", () => listeners.forEach((listener) => listener()));

export function navigate(href: string, replace = false): void {
  if (replace) window.history.replaceState(null, "", underBase(href));
  else window.history.pushState(null, "", underBase(href));
  listeners.forEach((listener) => listener());
  if (!replace) window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const listener = () => setLocation(current());
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return location;
}

/** `/calls` + `{model: "x", from: ""}` -> `/calls?model=x` (empty values left out). */
export function href(path: string, query: Record<string, string | null | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value) params.set(name, value);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** For `<a href={underBase(path)} onClick>`: same-tab clicks become client navigation; modified
 * clicks keep browser behaviour (the href is a real address under the base). */
export function followLink(event: MouseEvent): void {
  const anchor = (event.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!anchor || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(withoutBase(anchor.getAttribute("href") ?? basePath));
}
