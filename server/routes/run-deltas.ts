import type { ExecutionPlan } from "../../compiler/index.ts";
import type { NodeDelta } from "../../engine/broker/broker.ts";
import { TERMINAL_EXECUTION } from "../../engine/store/records.ts";

/**
 * The node.delta events of a run's event stream: the text of streaming model
 * nodes as it is written, relayed from the Broker (the worker may be another
 * process). They are glimpses, not state: no event id (a reconnecting client
 * cannot ask for them again, and gets the whole output from node.succeeded),
 * and each is sent only where it makes sense among the state events:
 *
 * - after the node.running of its attempt: a delta that arrives first (the
 *   state is polled, the deltas are pushed) is held, and the state is read
 *   again at once, which reports the running the delta proves;
 * - never after its node ended (node.succeeded carries the whole text), nor
 *   after a later attempt started (a retry starts the text over).
 *
 * Memory stays bounded: at most MAX_HELD_CHARS are held per stream, and
 * deltas for a client that does not read (its socket's buffer is full) are
 * dropped. The `offset` of each delta shows the client any gap.
 */
const MAX_HELD_CHARS = 256 * 1024;

export interface DeltaEventData {
  readonly runId: string;
  readonly nodeId: string;
  /** Map items only: the item's index. */
  readonly item?: number;
  /** The attempt the text belongs to, as node.running's `attempts` counts them. */
  readonly attempts: number;
  readonly offset: number;
  readonly text: string;
}

/** A node as the stream last reported it. */
interface Reported {
  readonly status: string;
  readonly attempts: number;
}

type Verdict = "send" | "hold" | "drop";

/** The statuses an event reports are strings (`node.<status>`). */
const FINISHED: ReadonlySet<string> = TERMINAL_EXECUTION;

export class DeltaRelay {
  readonly #send: (data: DeltaEventData) => void;
  readonly #clientKeepsUp: () => boolean;
  readonly #wake: () => void;
  readonly #nodes = new Map<string, Reported>();
  #held: NodeDelta[] = [];
  #heldChars = 0;

  /**
   * `send` writes one node.delta event; `clientKeepsUp` says whether the
   * client reads what it is sent; `wake` asks for the run's state to be read
   * again now.
   */
  constructor(send: (data: DeltaEventData) => void, clientKeepsUp: () => boolean, wake: () => void) {
    this.#send = send;
    this.#clientKeepsUp = clientKeepsUp;
    this.#wake = wake;
  }

  /** A delta from the Broker. */
  accept(delta: NodeDelta): void {
    this.#judge(delta, new Set(this.#held.map(executionOf)));
  }

  /** The stream reported a node event: later deltas are judged by it. */
  nodeReported(nodeId: string, status: string, attempts: number): void {
    this.#nodes.set(nodeId, { status, attempts });
  }

  /** After the state events of a snapshot: what was held and may go now goes, in the order it came. */
  release(): void {
    const held = this.#held;
    this.#held = [];
    this.#heldChars = 0;
    const waiting = new Set<string>();
    for (const delta of held) this.#judge(delta, waiting);
  }

  /** Sends, holds or drops a delta; `waiting` has the executions with a delta held, which the next ones wait behind. */
  #judge(delta: NodeDelta, waiting: Set<string>): void {
    const execution = executionOf(delta);
    const verdict = waiting.has(execution) ? "hold" : this.#verdict(delta);
    if (verdict === "send") this.#relay(delta);
    else if (verdict === "hold" && this.#hold(delta)) waiting.add(execution);
  }

  #verdict(delta: NodeDelta): Verdict {
    const node = this.#nodes.get(delta.nodeId);
    if (node === undefined) return "hold";
    if (FINISHED.has(node.status)) return "drop";
    // A map's items have attempts of their own, which its node events do not count.
    if (delta.item !== null) return node.status === "running" ? "send" : "hold";
    if (node.attempts > delta.attempt) return "drop";
    if (node.attempts === delta.attempt) return node.status === "running" ? "send" : "drop"; // queued again: that attempt is over
    return "hold";
  }

  /** Holds a delta until the next snapshot; false when the stream holds too much already (it is dropped). */
  #hold(delta: NodeDelta): boolean {
    if (this.#heldChars + delta.text.length > MAX_HELD_CHARS) return false;
    this.#held.push(delta);
    this.#heldChars += delta.text.length;
    this.#wake();
    return true;
  }

  #relay(delta: NodeDelta): void {
    if (!this.#clientKeepsUp()) return;
    const { runId, nodeId, item, attempt, offset, text } = delta;
    this.#send({ runId, nodeId, ...(item === null ? {} : { item }), attempts: attempt, offset, text });
  }
}

function executionOf(delta: NodeDelta): string {
  return delta.item === null ? delta.nodeId : `${delta.nodeId}#${delta.item}`;
}

/** Whether any model node of the plan, or of a map's template, streams: only then is the Broker asked for deltas. */
export function planStreams(plan: ExecutionPlan): boolean {
  return Object.values(plan.nodes).some((node) => {
    const called = node.type === "map" ? node.node : node;
    return called.type === "model" && called.stream === true;
  });
}
