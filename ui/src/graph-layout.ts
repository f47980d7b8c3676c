import { Graph, layout } from "@dagrejs/dagre";
import type { Plan } from "./types.ts";

/**
 * A workflow's DAG laid out by dagre (ranked, crossing-reduced), left to right
 * on wide screens and top to bottom on narrow ones: node boxes and edge
 * polylines in SVG user units.
 */
export interface LaidOutNode {
  readonly id: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}
export interface LaidOutEdge {
  readonly from: string;
  readonly to: string;
  readonly points: readonly { x: number; y: number }[];
}
export interface GraphLayout {
  readonly nodes: readonly LaidOutNode[];
  readonly edges: readonly LaidOutEdge[];
  readonly width: number;
  readonly height: number;
}

export const NODE_WIDTH = 176;
export const NODE_HEIGHT = 52;

export function layoutPlan(plan: Plan, direction: "LR" | "TB" = "LR"): GraphLayout {
  const graph = new Graph();
  graph.setGraph({ rankdir: direction, nodesep: 24, ranksep: 48, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const id of plan.order) graph.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const id of plan.order) {
    for (const dependency of plan.nodes[id]?.dependencies ?? []) graph.setEdge(dependency, id);
  }
  layout(graph);
  const nodes = plan.order.map((id) => {
    const n = graph.node(id) as { x: number; y: number; width: number; height: number };
    return { id, x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height };
  });
  const edges = graph.edges().map((e) => ({
    from: e.v,
    to: e.w,
    points: (graph.edge(e) as { points: { x: number; y: number }[] }).points,
  }));
  const size = graph.graph() as { width?: number; height?: number };
  return { nodes, edges, width: size.width ?? 0, height: size.height ?? 0 };
}
