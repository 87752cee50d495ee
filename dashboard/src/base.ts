// Where the dashboard and its API live: "" at the root (`make dev`), "/v1" under the REST API's stage
// in AWS. The server writes it into the page's <base href>; the app's own paths ("/calls",
// "/api/usage") are resolved against it, never against the origin's root.
export const basePath = new URL(document.baseURI).pathname.replace(/\/+$/, "");

/** "/calls" -> "/v1/calls" under the stage, "/calls" at the root. */
export function underBase(path: string): string {
  return `${basePath}${path}`;
}

/** The app's path of a location's path: "/v1/calls" -> "/calls", "/v1" -> "/". */
export function withoutBase(pathname: string): string {
  const inside = pathname.startsWith(basePath) ? pathname.slice(basePath.length) : pathname;
  return inside.startsWith("/") ? inside : `/${inside}`;
}
