import { useState } from "preact/hooks";
import { api, seg } from "../api.ts";
import { useCan } from "../session.tsx";

/**
 * Approve or reject a waiting approval node (POST …/nodes/{nodeId}/approval),
 * with an optional comment, for a key with runs:approve. The run's live
 * stream shows the decision (node.succeeded) once it is made.
 */
export function ApprovalForm(props: { runId: string; nodeId: string; description: string | null }) {
  const canApprove = useCan("runs:approve");
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!canApprove) return <p class="muted">Waiting for a decision by a key with runs:approve.</p>;
  const decide = async (approved: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await api(`/v1/runs/${seg(props.runId)}/nodes/${seg(props.nodeId)}/approval`, {
        method: "POST",
        json: comment.trim() === "" ? { approved } : { approved, comment: comment.trim() },
      });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="approval" aria-label="Decide this approval" onSubmit={(event) => event.preventDefault()}>
      <h3>Approval</h3>
      {props.description && <p>{props.description}</p>}
      <label>
        Comment (optional)
        <textarea value={comment} onInput={(event) => setComment(event.currentTarget.value)} rows={2} />
      </label>
      <span class="actions">
        <button type="button" class="primary" disabled={busy} onClick={() => void decide(true)}>
          Approve
        </button>
        <button type="button" disabled={busy} onClick={() => void decide(false)}>
          Reject
        </button>
      </span>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
