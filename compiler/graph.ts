import { alg, Graph } from "@dagrejs/graphlib";

/**
 * The dependency graph of a workflow's nodes: an edge `a → b` means b waits for a.
 * Order is Kahn's algorithm, iterative (a 50,000-node chain does not recurse) and
 * stable: among ready nodes, definition order wins. It runs on plain adjacency
 * lists, the hot path of compiling a large workflow. Only when nodes are left
 * over is there a cycle: graphlib's Tarjan finds the strongly connected
 * components among them and each is reported as one concrete path.
 */
export interface DependencyEdge {
  readonly from: string;
  readonly to: string;
  /** Where the dependency is written (a needs entry or an expression), for findings. */
  readonly pointer: string;
}

export interface Cycle {
  /** The nodes around the cycle, first repeated at the end: a -> b -> a. */
  readonly path: readonly string[];
  /** Where the edge that closes the cycle is written. */
  readonly pointer: string;
}

export type GraphResult =
  | {
      readonly ok: true;
      readonly order: readonly string[];
      readonly dependencies: ReadonlyMap<string, readonly string[]>;
      readonly dependents: ReadonlyMap<string, readonly string[]>;
    }
  | { readonly ok: false; readonly cycles: readonly Cycle[] };

export function analyseGraph(nodeIds: readonly string[], edges: readonly DependencyEdge[]): GraphResult {
  const rank = new Map(nodeIds.map((id, i) => [id, i]));
  const dependencies = new Map<string, string[]>(nodeIds.map((id) => [id, []]));
  const dependents = new Map<string, string[]>(nodeIds.map((id) => [id, []]));
  const seen = new Set<string>();
  for (const { from, to } of edges) {
    const key = `${from}\u0000${to}`;
    if (seen.has(key)) continue;
    seen.add(key);
    dependencies.get(to)?.push(from);
    dependents.get(from)?.push(to);
  }
  const waiting = new Map<string, number>();
  for (const id of nodeIds) {
    sortByRank(dependencies.get(id) as string[], rank);
    sortByRank(dependents.get(id) as string[], rank);
    waiting.set(id, (dependencies.get(id) as string[]).length);
  }

  const order: string[] = [];
  let ready = nodeIds.filter((id) => waiting.get(id) === 0);
  while (ready.length > 0) {
    const next: string[] = [];
    for (const id of ready) {
      order.push(id);
      for (const dependent of dependents.get(id) ?? []) {
        const left = (waiting.get(dependent) ?? 0) - 1;
        waiting.set(dependent, left);
        if (left === 0) next.push(dependent);
      }
    }
    ready = sortByRank(next, rank);
  }
  if (order.length === nodeIds.length) return { ok: true, order, dependencies, dependents };
  return { ok: false, cycles: findCycles(nodeIds, edges, new Set(order), rank) };
}

/** The nodes Kahn's algorithm could not place hold every cycle; graphlib finds them. */
function findCycles(
  nodeIds: readonly string[],
  edges: readonly DependencyEdge[],
  placed: ReadonlySet<string>,
  rank: ReadonlyMap<string, number>,
): Cycle[] {
  const graph = new Graph({ directed: true });
  for (const id of nodeIds) if (!placed.has(id)) graph.setNode(id);
  for (const edge of edges) {
    if (graph.hasNode(edge.from) && graph.hasNode(edge.to) && !graph.hasEdge(edge.from, edge.to)) {
      graph.setEdge(edge.from, edge.to, edge.pointer);
    }
  }
  return alg
    .findCycles(graph)
    .map((component) => cycleThrough(sortByRank(component, rank), graph))
    .sort((a, b) => (rank.get(a.path[0] as string) ?? 0) - (rank.get(b.path[0] as string) ?? 0));
}

/** A shortest path from the component's first node back to itself (breadth-first). */
function cycleThrough(component: readonly string[], graph: Graph): Cycle {
  const start = component[0] as string;
  const members = new Set(component);
  const previous = new Map<string, string>();
  let frontier = [start];
  let closing: string | undefined;
  while (frontier.length > 0 && closing === undefined) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const successor of graph.successors(id) ?? []) {
        if (successor === start) {
          closing = id;
          break;
        }
        if (members.has(successor) && !previous.has(successor)) {
          previous.set(successor, id);
          next.push(successor);
        }
      }
      if (closing !== undefined) break;
    }
    frontier = next;
  }
  const path = [start];
  for (let id = closing; id !== undefined && id !== start; id = previous.get(id)) path.splice(1, 0, id);
  path.push(start);
  const last = path[path.length - 2] as string;
  return { path, pointer: String(graph.edge(last, start) ?? "") };
}

/** Sorts in place by definition order, and returns the array. */
function sortByRank(ids: string[], rank: ReadonlyMap<string, number>): string[] {
  return ids.length < 2 ? ids : ids.sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
}
