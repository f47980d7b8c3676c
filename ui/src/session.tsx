import { type ComponentChildren, createContext } from "preact";
import { useCallback, useContext, useEffect, useState } from "preact/hooks";
import { ApiError, api, onUnauthorized, storedKey, storeKey } from "./api.ts";

/**
 * Who the console acts as: the key's name and scopes from GET /v1/auth/whoami.
 * On loopback without configured keys the server needs none; otherwise the
 * user gives a key, kept in sessionStorage (gone when the tab closes). The
 * scopes decide which actions the pages offer.
 */
export type Scope = "runs:read" | "runs:write" | "runs:approve" | "definitions:write" | "admin";

export interface Session {
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly signOut: () => void;
}

const SessionContext = createContext<Session>({ name: "", scopes: [], signOut: () => {} });

export function useSession(): Session {
  return useContext(SessionContext);
}

/** admin grants every scope, as on the server. */
export function useCan(scope: Scope): boolean {
  const { scopes } = useSession();
  return scopes.includes("admin") || scopes.includes(scope);
}

type State =
  | { readonly kind: "checking" }
  | { readonly kind: "needs-key"; readonly error: string | null }
  | { readonly kind: "ready"; readonly name: string; readonly scopes: readonly Scope[] }
  | { readonly kind: "offline"; readonly error: string };

export function SessionGate({ children }: { children: ComponentChildren }) {
  const [state, setState] = useState<State>({ kind: "checking" });

  const check = useCallback(async () => {
    const had = storedKey() !== null;
    try {
      const me = await api<{ name: string; scopes: Scope[] }>("/v1/auth/whoami");
      setState({ kind: "ready", name: me.name, scopes: me.scopes });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        storeKey(null);
        setState({ kind: "needs-key", error: had ? "The server did not accept that key." : null });
      } else setState({ kind: "offline", error: (error as Error).message });
    }
  }, []);

  useEffect(() => {
    void check();
    // A 401 while signed in (the key was revoked): ask again. While signing in, check() says why itself.
    return onUnauthorized(() =>
      setState((state) => {
        if (state.kind !== "ready") return state;
        storeKey(null);
        return { kind: "needs-key", error: "The server no longer accepts the key." };
      }),
    );
  }, [check]);

  const signOut = useCallback(() => {
    storeKey(null);
    void check();
  }, [check]);

  if (state.kind === "checking") return <p class="page-message">Connecting…</p>;
  if (state.kind === "offline")
    return (
      <main class="page-message">
        <h1>pflow is not answering</h1>
        <p role="alert">{state.error}</p>
        <button type="button" onClick={() => void check()}>
          Try again
        </button>
      </main>
    );
  if (state.kind === "needs-key")
    return (
      <KeyForm
        error={state.error}
        onKey={(key) => {
          storeKey(key);
          void check();
        }}
      />
    );
  return (
    <SessionContext.Provider value={{ name: state.name, scopes: state.scopes, signOut }}>
      {children}
    </SessionContext.Provider>
  );
}

function KeyForm({ error, onKey }: { error: string | null; onKey: (key: string) => void }) {
  const [key, setKey] = useState("");
  return (
    <main class="key-form">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (key.trim() !== "") onKey(key.trim());
        }}
      >
        <h1>pflow console</h1>
        <p>
          This server needs an API key. It is kept in this tab only (sessionStorage) and sent to this server.
        </p>
        <label>
          API key
          <input
            type="password"
            name="apiKey"
            autoComplete="off"
            required
            minLength={16}
            value={key}
            onInput={(event) => setKey(event.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
