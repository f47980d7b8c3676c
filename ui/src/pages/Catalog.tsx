import { Dag } from "../components/Dag.tsx";
import { Loading } from "../components/Loading.tsx";
import { time } from "../format.ts";
import type { WorkflowDetail, WorkflowSummary } from "../types.ts";
import { useApi } from "../use-api.ts";

/** Workflows: every registered workflow with its DAG, newest version. */
export function Catalog() {
  const list = useApi<{ items: WorkflowSummary[] }>("/v1/workflows");
  return (
    <section>
      <h1 tabIndex={-1}>Workflows</h1>
      <Loading state={list}>
        {(data) =>
          data.items.length === 0 ? (
            <p>
              No workflow is registered yet. Register one with <code>PUT /v1/workflows/&#123;name&#125;</code>{" "}
              or start the server with <code>--definitions DIR</code>.
            </p>
          ) : (
            <ul class="cards">
              {data.items.map((workflow) => (
                <WorkflowCard key={workflow.name} workflow={workflow} />
              ))}
            </ul>
          )
        }
      </Loading>
    </section>
  );
}

function WorkflowCard({ workflow }: { workflow: WorkflowSummary }) {
  const detail = useApi<WorkflowDetail>(`/v1/workflows/${encodeURIComponent(workflow.name)}?plan=true`);
  return (
    <li class="card" data-workflow={workflow.name}>
      <h2>
        <a href={`/ui/workflows/${encodeURIComponent(workflow.name)}`}>{workflow.name}</a>
      </h2>
      <p class="meta">
        version {workflow.version} · {time(workflow.createdAt)}
        {Object.entries(workflow.labels).map(([key, value]) => (
          <span class="label" key={key}>
            {key}: {value}
          </span>
        ))}
      </p>
      {workflow.description && <p>{workflow.description}</p>}
      <div class="thumb">
        {detail.data?.plan ? (
          <Dag plan={detail.data.plan} label={`The nodes of ${workflow.name}`} />
        ) : detail.error ? (
          <p class="error">{detail.error.message}</p>
        ) : (
          <p class="muted">Drawing…</p>
        )}
      </div>
    </li>
  );
}
