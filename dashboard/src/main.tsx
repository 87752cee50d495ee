import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, type Profile, setApiKey, storedApiKey, whenUnauthorized } from "./api";
import { type ClerkBrowser, loadClerk } from "./clerk";
import { ErrorBox, Link, Loading } from "./components/common";
import { AuditPage } from "./pages/audit";
import { BillCheckPage } from "./pages/bill-check";
import { CallDetailPage } from "./pages/call-detail";
import { CallsPage } from "./pages/calls";
import { EndpointsPage } from "./pages/endpoints";
import { KeysPage } from "./pages/keys";
import { OverviewPage } from "./pages/overview";
import { SessionDetailPage, SessionsPage } from "./pages/sessions";
import { SignInPage } from "./pages/signin";
import { rangeFromQuery } from "./range";
import { type Location, useLocation } from "./router";
import "./styles.css";

interface DashboardConfig {
  clerkPublishableKey: string | null;
}

function readConfig(): DashboardConfig {
  try {
    const text = document.getElementById("codecosts-config")?.textContent ?? "{}";
    const config = JSON.parse(text) as Partial<DashboardConfig>;
    return { clerkPublishableKey: config.clerkPublishableKey || null };
  } catch {
    return { clerkPublishableKey: null };
  }
}

const NAV: [string, string][] = [
  ["/", "Overview"],
  ["/calls", "Calls"],
  ["/sessions", "Sessions"],
  ["/bill-check", "Bill check"],
  ["/endpoints", "Endpoints"],
  ["/keys", "API keys"],
  ["/audit", "Audit log"],
];

function Page(props: { location: Location }) {
  const { path, query } = props.location;
  if (path === "/") return <OverviewPage range={rangeFromQuery(query)} />;
  if (path === "/calls") return <CallsPage query={query} />;
  const call = /^\/calls\/([^/]+)$/.exec(path);
  if (call) return <CallDetailPage id={decodeURIComponent(call[1])} />;
  if (path === "/sessions") return <SessionsPage range={rangeFromQuery(query)} />;
  const session = /^\/sessions\/([^/]+)$/.exec(path);
  if (session) return <SessionDetailPage id={decodeURIComponent(session[1])} />;
  if (path === "/bill-check") return <BillCheckPage range={rangeFromQuery(query)} />;
  if (path === "/endpoints") return <EndpointsPage />;
  if (path === "/keys") return <KeysPage />;
  if (path === "/audit") return <AuditPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{path}</code>. <Link href="/">Go to the overview</Link>.
      </p>
    </section>
  );
}

function Shell(props: { profile: Profile; onSignOut: () => void }) {
  const location = useLocation();
  const section = (link: string) =>
    link === "/" ? location.path === "/" : location.path === link || location.path.startsWith(`${link}/`);
  return (
    <div class="shell">
      <nav class="sidebar" aria-label="Sections">
        <Link href="/" class="brand">
          <span class="logo" aria-hidden="true" /> Codecosts
        </Link>
        {NAV.map(([link, label]) => (
          <Link key={link} href={link} class={section(link) ? "nav active" : "nav"}>
            {label}
          </Link>
        ))}
        <div class="account">
          <span class="muted small" title={props.profile.id}>
            {props.profile.email ?? props.profile.name ?? props.profile.id}
          </span>
          <button type="button" class="secondary small" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </nav>
      <main class="content">
        <Page location={location} />
      </main>
    </div>
  );
}

type Session =
  | { state: "starting" }
  | { state: "signed-out"; message: string | null }
  | { state: "signed-in"; profile: Profile }
  | { state: "unreachable"; error: unknown };

function App() {
  const config = readConfig();
  const [session, setSession] = useState<Session>({ state: "starting" });
  const current = useRef(session);
  current.current = session;
  const [clerk, setClerk] = useState<ClerkBrowser | null>(null);
  const [clerkError, setClerkError] = useState<string | null>(null);

  const resume = async () => {
    setSession({ state: "starting" });
    let clerkSignedIn = false;
    if (config.clerkPublishableKey) {
      try {
        const loaded = await loadClerk(config.clerkPublishableKey);
        setClerk(loaded);
        clerkSignedIn = !!loaded.user;
      } catch (error) {
        setClerkError(`${(error as Error).message} Sign in with a Codecosts API key instead.`);
      }
    }
    try {
      if (storedApiKey() || clerkSignedIn) {
        setSession({ state: "signed-in", profile: await api.get<Profile>("/api/profile") });
        return;
      }
      // No key pasted in this tab: a session cookie may still sign the browser in.
      const profile = await api.sessionProfile();
      setSession(profile ? { state: "signed-in", profile } : { state: "signed-out", message: null });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // whenUnauthorized has signed out
      setSession({ state: "unreachable", error });
    }
  };

  useEffect(() => {
    whenUnauthorized((message) => {
      setApiKey(null);
      setSession({ state: "signed-out", message });
    });
    void resume();
  }, []);

  useEffect(() => {
    if (!clerk) return;
    // Clerk's own sign-in component finished: Clerk calls listeners on every change, token refreshes too.
    return clerk.addListener(({ user }) => {
      if (user && current.current.state === "signed-out") void resume();
    });
  }, [clerk]);

  const signOut = async () => {
    setApiKey(null);
    if (clerk?.user) await clerk.signOut();
    setSession({ state: "signed-out", message: null });
  };

  if (session.state === "starting") return <Loading what="Codecosts" />;
  if (session.state === "unreachable") {
    return (
      <main class="signin">
        <div class="signin-card">
          <ErrorBox error={session.error} retry={() => void resume()} />
        </div>
      </main>
    );
  }
  if (session.state === "signed-out") {
    return (
      <SignInPage
        message={session.message}
        clerk={clerk}
        clerkError={clerkError}
        onSignedIn={(profile) => setSession({ state: "signed-in", profile })}
      />
    );
  }
  return <Shell profile={session.profile} onSignOut={() => void signOut()} />;
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
