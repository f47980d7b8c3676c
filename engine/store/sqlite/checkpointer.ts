import { Worker } from "node:worker_threads";

/**
 * Checkpoints the WAL on a thread of its own. A checkpoint copies the WAL's
 * pages into the database file and pays two fsyncs; made by the connection
 * itself (SQLite's auto-checkpoint), it runs inside a commit, on the event
 * loop, which waits for the disk meanwhile: in the 500-run burst those commits
 * were the first entry of the profile. A second connection on a worker thread
 * checkpoints instead, while the loop goes on; the second core does it.
 *
 * Safe by SQLite's design: a PASSIVE checkpoint takes no lock a writer or a
 * reader waits for (only the checkpoint lock, which the connection's own
 * auto-checkpoint, kept as a backstop, tries without waiting), and copies only
 * frames no reader still needs. It weakens nothing: a checkpoint moves only
 * committed pages, and a crash during one is recovered from the WAL.
 * The thread is told to run one every `every` commits; it runs them one after
 * the other, and one with nothing to copy costs next to nothing.
 */
const THREAD = `
const { DatabaseSync } = require("node:sqlite");
const { parentPort, workerData } = require("node:worker_threads");
const db = new DatabaseSync(workerData.path);
db.exec("PRAGMA busy_timeout = 1000");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
parentPort.on("message", (message) => {
  if (message === "stop") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    checkpoint.get();
  } catch {
    // Busy or failing: the next request, or the connection's own auto-checkpoint, does it.
  }
});
`;

export class Checkpointer {
  readonly #path: string;
  readonly #every: number;
  #commits = 0;
  /** Started at the first checkpoint asked for: a short-lived process (`pflow run`) needs none. */
  #thread: { readonly worker: Worker; readonly exited: Promise<void> } | undefined;

  constructor(path: string, every: number) {
    this.#path = path;
    this.#every = every;
  }

  /** A group committed: every `every` commits, a checkpoint is asked for. */
  committed(): void {
    if (++this.#commits < this.#every) return;
    this.#commits = 0;
    this.#thread ??= this.#start();
    this.#thread.worker.postMessage("checkpoint");
  }

  /** Stops the thread, if it started, once it has done what it was asked (it closes its connection). */
  stop(): Promise<void> {
    const thread = this.#thread;
    if (!thread) return Promise.resolve();
    thread.worker.ref(); // a process awaiting the stop stays alive until the thread has gone
    thread.worker.postMessage("stop");
    return thread.exited;
  }

  #start(): { worker: Worker; exited: Promise<void> } {
    const worker = new Worker(THREAD, { eval: true, workerData: { path: this.#path } });
    worker.unref(); // never what keeps a process alive
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.on("error", () => {
      // Without it the connection's own auto-checkpoint still bounds the WAL.
    });
    return { worker, exited };
  }
}
