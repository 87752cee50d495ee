import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, type Profile, setApiKey } from "../api";
import type { ClerkBrowser } from "../clerk";
import { ErrorBox } from "../components/common";

/** Local sign-in: paste a Codecosts API key; it is checked against the API, then kept for this tab only. */
export function KeySignIn(props: { message: string | null; onSignedIn: (profile: Profile) => void }) {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = key.trim();
    setProblem(null);
    if (candidate.startsWith("sk-ant-")) {
      setProblem(
        new Error("That is an Anthropic key: it stays in your shell. Paste a Codecosts API key (sk_…) here."),
      );
      return;
    }
    if (!candidate.startsWith("sk_")) {
      setProblem(new Error("A Codecosts API key starts with sk_."));
      return;
    }
    setBusy(true);
    setApiKey(candidate);
    try {
      const profile = await api.get<Profile>("/api/profile");
      props.onSignedIn(profile);
    } catch (error) {
      setApiKey(null);
      // A 401 comes back as the page's message (props.message); anything else is shown here.
      if (!(error instanceof ApiError && error.status === 401)) setProblem(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="signin-form" onSubmit={submit}>
      <label>
        Codecosts API key
        <input
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="sk_…"
          value={key}
          onInput={(event) => setKey(event.currentTarget.value)}
          required
        />
      </label>
      <button type="submit" disabled={busy || !key.trim()}>
        {busy ? "Checking…" : "Sign in"}
      </button>
      {props.message && !busy && (
        <div class="error" role="alert">
          <p>{props.message}</p>
        </div>
      )}
      {problem !== null && <ErrorBox error={problem} />}
      <p class="muted small">
        Running locally? <code>make dev</code> prints a key (also in <code>.codecosts/dev.json</code>). The key
        stays in this browser tab's session storage and is forgotten when the tab closes.
      </p>
    </form>
  );
}

function ClerkSignIn(props: { clerk: ClerkBrowser }) {
  const node = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const target = node.current;
    if (!target) return;
    props.clerk.mountSignIn(target);
    return () => props.clerk.unmountSignIn(target);
  }, [props.clerk]);
  return <div ref={node} class="clerk-signin" />;
}

export function SignInPage(props: {
  message: string | null;
  clerk: ClerkBrowser | null;
  clerkError: string | null;
  onSignedIn: (profile: Profile) => void;
}) {
  const [useKey, setUseKey] = useState(!props.clerk);
  return (
    <main class="signin">
      <div class="signin-card">
        <h1>
          <span class="logo" aria-hidden="true" /> Codecosts
        </h1>
        <p class="muted">See what your Claude calls cost.</p>
        {props.clerkError && (
          <div class="error" role="alert">
            <p>{props.clerkError}</p>
          </div>
        )}
        {props.clerk && !useKey ? (
          <>
            <ClerkSignIn clerk={props.clerk} />
            {props.message && (
              <div class="error" role="alert">
                <p>{props.message}</p>
              </div>
            )}
            <button type="button" class="link" onClick={() => setUseKey(true)}>
              Sign in with a Codecosts API key instead
            </button>
          </>
        ) : (
          <KeySignIn message={props.message} onSignedIn={props.onSignedIn} />
        )}
      </div>
    </main>
  );
}
