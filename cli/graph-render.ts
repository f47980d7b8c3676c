import type { ExecutionPlan, PlanNode, TemplateNode } from "../compiler/index.ts";

/** A plan's DAG as Mermaid (for Markdown, GitHub renders it) or Graphviz DOT. */
export type GraphFormat = "mermaid" | "dot";

export function renderGraph(plan: ExecutionPlan, format: GraphFormat): string {
  return format === "dot" ? renderDot(plan) : renderMermaid(plan);
}

function summary(node: PlanNode | TemplateNode): string {
  switch (node.type) {
    case "model":
      return `model: ${node.model}${node.fallback.length ? ` (fallback ${node.fallback.join(", ")})` : ""}`;
    case "preprocess":
      return `preprocess: ${node.op}`;
    case "transform":
      return "transform";
    case "workflow":
      return `workflow: ${node.workflow.name}${node.workflow.version === null ? "" : `@${node.workflow.version}`}`;
    case "map":
      return `map ×${node.concurrency}: ${summary(node.node)}`;
    case "wait":
      if (node.signal !== null) return `wait: signal ${node.signal}`;
      return node.forMs !== null ? `wait: ${node.forMs} ms` : "wait: until a time";
    case "approval":
      return "approval";
  }
}

function labelLines(id: string, node: PlanNode): string[] {
  const lines = [id, summary(node)];
  if (node.when) lines.push("conditional (when)");
  if (node.trigger !== "all_succeeded") lines.push(`trigger: ${node.trigger}`);
  return lines;
}

function renderMermaid(plan: ExecutionPlan): string {
  const out = ["flowchart TD"];
  const ids = new Map(plan.order.map((id, i) => [id, `n${i}`]));
  for (const id of plan.order) {
    const node = plan.nodes[id] as PlanNode;
    const label = labelLines(id, node).map(escapeMermaid).join("<br/>");
    const [open, close] =
      node.type === "model"
        ? ["([", "])"]
        : node.type === "map" || node.type === "workflow"
          ? ["[[", "]]"]
          : ["[", "]"];
    out.push(`  ${ids.get(id)}${open}"${label}"${close}`);
  }
  for (const id of plan.order) {
    const node = plan.nodes[id] as PlanNode;
    const arrow = node.trigger === "all_succeeded" ? "-->" : "-.->";
    for (const dep of node.dependencies) out.push(`  ${ids.get(dep)} ${arrow} ${ids.get(id)}`);
  }
  return `${out.join("\n")}\n`;
}

function escapeMermaid(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll('"', "&quot;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}

function renderDot(plan: ExecutionPlan): string {
  const q = (text: string) => `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  const out = [`digraph ${q(plan.workflow)} {`, "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];'];
  for (const id of plan.order) {
    const node = plan.nodes[id] as PlanNode;
    const shape =
      node.type === "model"
        ? ", shape=ellipse"
        : node.type === "map" || node.type === "workflow"
          ? ", peripheries=2"
          : "";
    const label = labelLines(id, node)
      .map((line) => line.replaceAll("\\", "\\\\").replaceAll('"', '\\"'))
      .join("\\n");
    out.push(`  ${q(id)} [label="${label}"${shape}];`);
  }
  for (const id of plan.order) {
    const node = plan.nodes[id] as PlanNode;
    const style = node.trigger === "all_succeeded" ? "" : " [style=dashed]";
    for (const dep of node.dependencies) out.push(`  ${q(dep)} -> ${q(id)}${style};`);
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}
