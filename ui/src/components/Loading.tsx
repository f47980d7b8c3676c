import type { ComponentChildren } from "preact";
import type { Loaded } from "../use-api.ts";

/** A loaded resource's three states: loading, failed (with the server's words, and a retry), and there. */
export function Loading<T>({
  state,
  children,
}: {
  state: Loaded<T>;
  children: (data: T) => ComponentChildren;
}) {
  if (state.data !== undefined) return <>{children(state.data)}</>;
  if (state.error)
    return (
      <div class="error" role="alert">
        <p>{state.error.message}</p>
        <button type="button" onClick={state.reload}>
          Try again
        </button>
      </div>
    );
  return <p class="muted">Loading…</p>;
}
