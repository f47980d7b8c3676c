import { useMemo } from "preact/hooks";
import { layoutPlan, NODE_HEIGHT } from "../graph-layout.ts";
import type { NodeStatus, Plan } from "../types.ts";
import { STATUS_ICON } from "./Status.tsx";

/**
 * A workflow's DAG as SVG. With `statuses` (a run page) each node shows its
 * status by colour, icon and border style; with `onSelect` each node is a
 * button (Tab to it, Enter or Space to open it).
 */
export function Dag(props: {
  plan: Plan;
  statuses?: Readonly<Record<string, NodeStatus>>;
  selected?: string | null;
  onSelect?: (nodeId: string) => void;
  label: string;
}) {
  const { plan, statuses, selected, onSelect } = props;
  const narrow = typeof window !== "undefined" && window.innerWidth < 700;
  const graph = useMemo(() => layoutPlan(plan, narrow ? "TB" : "LR"), [plan, narrow]);
  return (
    <div class="dag">
      {/* biome-ignore lint/a11y/useSemanticElements: an SVG drawing cannot be a <fieldset>; the group names its nodes */}
      <svg
        viewBox={`0 0 ${Math.max(graph.width, 1)} ${Math.max(graph.height, 1)}`}
        width={graph.width}
        style={{ maxWidth: "100%", height: "auto" }}
        role="group"
        aria-label={props.label}
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto"
          >
            <path d="M0,0 L10,5 L0,10 z" class="dag-arrow" />
          </marker>
        </defs>
        {graph.edges.map((edge) => (
          <polyline
            key={`${edge.from}->${edge.to}`}
            class="dag-edge"
            points={edge.points.map((p) => `${p.x},${p.y}`).join(" ")}
            marker-end="url(#arrow)"
          />
        ))}
        {graph.nodes.map((box) => {
          const node = plan.nodes[box.id];
          const status: NodeStatus | undefined = statuses ? (statuses[box.id] ?? "pending") : undefined;
          const kind = node?.type ?? "";
          const detail = node?.type === "model" ? node.model : node?.type === "preprocess" ? node.op : kind;
          const interactive = onSelect !== undefined;
          const name = `${box.id}: ${kind}${status ? `, ${status}` : ""}`;
          return (
            <g
              key={box.id}
              class={`dag-node${status ? ` node-${status}` : ""}${selected === box.id ? " selected" : ""}`}
              transform={`translate(${box.x},${box.y})`}
              data-node={box.id}
              data-status={status}
              {...(interactive
                ? {
                    role: "button",
                    // Lower case: on SVG elements attribute names are case-sensitive.
                    tabindex: 0,
                    "aria-label": name,
                    "aria-pressed": selected === box.id,
                    onClick: () => onSelect(box.id),
                    onKeyDown: (event: KeyboardEvent) => {
                      if (event.key === "Enter" || event.key === " ") {
                        event.preventDefault();
                        onSelect(box.id);
                      }
                    },
                  }
                : { role: "img", "aria-label": name })}
            >
              <title>{name}</title>
              <rect width={box.width} height={box.height} rx="6" />
              {status && (
                <text class="dag-icon" x="14" y={NODE_HEIGHT / 2 + 5} text-anchor="middle">
                  {STATUS_ICON[status]}
                </text>
              )}
              <text class="dag-id" x={status ? 28 : 10} y="21">
                {clip(box.id, status ? 18 : 20)}
              </text>
              <text class="dag-kind" x={status ? 28 : 10} y="39">
                {clip(detail ?? "", status ? 20 : 22)}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
