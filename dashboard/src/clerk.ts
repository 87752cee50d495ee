// Clerk sign-in for the deployed dashboard, loaded only when the server passes a publishable key.
// Clerk's script comes from the instance's Frontend API, whose host the publishable key encodes.

import { underBase } from "./base";

export interface ClerkBrowser {
  load(options?: Record<string, unknown>): Promise<void>;
  user: { primaryEmailAddress?: { emailAddress: string } | null; fullName?: string | null } | null;
  session: unknown;
  mountSignIn(node: HTMLDivElement, props?: Record<string, unknown>): void;
  unmountSignIn(node: HTMLDivElement): void;
  addListener(listener: (state: { user?: unknown }) => void): () => void;
  signOut(): Promise<void>;
}

declare global {
  interface Window {
    Clerk?: ClerkBrowser;
  }
}

const CLERK_JS_MAJOR = 6;

/** `pk_test_<base64("<frontend api host>$")>` -> the host, or null for a key of another shape. */
export function frontendApiHost(publishableKey: string): string | null {
  const match = /^pk_(test|live)_([A-Za-z0-9+/=_-]+)$/.exec(publishableKey);
  if (!match) return null;
  try {
    const decoded = atob(match[2].replace(/-/g, "+").replace(/_/g, "/"));
    if (!decoded.endsWith("$")) return null;
    const host = decoded.slice(0, -1);
    return /^[a-z0-9.-]+$/i.test(host) ? host : null;
  } catch {
    return null;
  }
}

let loading: Promise<ClerkBrowser> | null = null;

export function loadClerk(publishableKey: string): Promise<ClerkBrowser> {
  if (loading) return loading;
  loading = new Promise<ClerkBrowser>((resolve, reject) => {
    const host = frontendApiHost(publishableKey);
    if (!host) {
      reject(new Error("CLERK_PUBLISHABLE_KEY is not a Clerk publishable key."));
      return;
    }
    const script = document.createElement("script");
    script.src = `https://${host}/npm/@clerk/clerk-js@${CLERK_JS_MAJOR}/dist/clerk.browser.js`;
    script.async = true;
    script.crossOrigin = "anonymous";
    script.dataset.clerkPublishableKey = publishableKey;
    script.addEventListener("error", () => reject(new Error(`Could not load Clerk from ${host}.`)));
    script.addEventListener("load", () => {
      const clerk = window.Clerk;
      if (!clerk) {
        reject(new Error("Clerk's script loaded but did not start."));
        return;
      }
      // Clerk sends a signed-in or signed-out browser to "/" by default: outside the stage in AWS.
      const home = underBase("/");
      clerk
        .load({ signInFallbackRedirectUrl: home, signUpFallbackRedirectUrl: home, afterSignOutUrl: home })
        .then(() => resolve(clerk), reject);
    });
    document.head.appendChild(script);
  });
  return loading;
}
