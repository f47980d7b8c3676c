import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { api, seg } from "../api.ts";
import { Loading } from "../components/Loading.tsx";
import { shortId, time } from "../format.ts";
import { useCan } from "../session.tsx";
import type { DeadLetter } from "../types.ts";
import { useApi } from "../use-api.ts";

/**
 * Dead letters: node executions the broker gave up on. Each can be inspected
 * (its run, node, reason, deliveries) and, with runs:write, replayed: its run
 * reruns from its failed nodes and the letter is taken off the list.
 */
export function DeadLettersPage() {
  const letters = useApi<{ items: DeadLetter[] }>("/v1/dead-letters?limit=200");
  const canReplay = useCan("runs:write");
  const [open, setOpen] = useState<string | null>(null);
  const [message, setMessage] = useState<{ text: string; error: boolean; runId?: string } | null>(null);

  const replay = async (letter: DeadLetter) => {
    setMessage(null);
    try {
      const answer = await api<{ runId: string; status: string }>(
        `/v1/dead-letters/${seg(letter.id)}/replay`,
        {
          method: "POST",
        },
      );
      setMessage({
        text: `Replayed: run ${answer.runId} is ${answer.status} again.`,
        error: false,
        runId: answer.runId,
      });
      letters.reload();
    } catch (e) {
      setMessage({ text: (e as Error).message, error: true });
    }
  };

  return (
    <section>
      <h1 tabIndex={-1}>Dead letters</h1>
      <p class="muted">
        Node executions whose delivery failed too many times. Their nodes failed with{" "}
        <code>dead-lettered</code>; replaying one reruns its run from the failed nodes.
      </p>
      {message && (
        <p class={message.error ? "error" : "notice"} role="status">
          {message.text} {message.runId && <a href={`/ui/runs/${seg(message.runId)}`}>Open the run</a>}
        </p>
      )}
      <Loading state={letters}>
        {(data) =>
          data.items.length === 0 ? (
            <p>No dead letters.</p>
          ) : (
            <div class="table-wrap">
              <table class="list">
                <thead>
                  <tr>
                    <th scope="col">when</th>
                    <th scope="col">run</th>
                    <th scope="col">node</th>
                    <th scope="col">deliveries</th>
                    <th scope="col">reason</th>
                    <th scope="col">
                      <span class="visually-hidden">actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((letter) => (
                    <Fragment key={letter.id}>
                      <tr data-letter={letter.id}>
                        <td>{time(letter.createdAt)}</td>
                        {letter.kind === "event" ? (
                          <>
                            <td title="an event trigger's message: it started no run">
                              <code>{letter.trigger}</code>
                            </td>
                            <td>{letter.routingKey}</td>
                          </>
                        ) : (
                          <>
                            <td>
                              <a
                                href={`/ui/runs/${seg(letter.runId)}?node=${seg(letter.nodeId)}`}
                                title={letter.runId}
                              >
                                <code>{shortId(letter.runId)}</code>
                              </a>
                            </td>
                            <td>{letter.nodeId}</td>
                          </>
                        )}
                        <td>{letter.deliveries}</td>
                        <td class="clip">{letter.reason}</td>
                        <td class="row-actions">
                          <button
                            type="button"
                            aria-expanded={open === letter.id}
                            onClick={() => setOpen(open === letter.id ? null : letter.id)}
                          >
                            Inspect
                          </button>
                          {canReplay && letter.kind !== "event" && (
                            <button type="button" class="primary" onClick={() => void replay(letter)}>
                              Replay
                            </button>
                          )}
                        </td>
                      </tr>
                      {open === letter.id && (
                        <tr class="detail-row">
                          <td colSpan={6}>
                            <dl class="facts">
                              <dt>id</dt>
                              <dd>
                                <code>{letter.id}</code>
                              </dd>
                              {letter.kind === "event" ? (
                                <>
                                  <dt>message id</dt>
                                  <dd>
                                    <code>{letter.messageId ?? "none"}</code>
                                  </dd>
                                  <dt>body</dt>
                                  <dd>
                                    <code>{letter.body}</code>
                                  </dd>
                                </>
                              ) : (
                                <>
                                  <dt>execution</dt>
                                  <dd>
                                    <code>{letter.executionKey}</code>
                                  </dd>
                                </>
                              )}
                              <dt>reason</dt>
                              <dd>{letter.reason}</dd>
                            </dl>
                          </td>
                        </tr>
                      )}
                    </Fragment>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loading>
    </section>
  );
}
