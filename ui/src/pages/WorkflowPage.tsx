import { useEffect, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { ApiError, api, seg } from "../api.ts";
import { CodeView } from "../components/CodeView.tsx";
import { Dag } from "../components/Dag.tsx";
import { Loading } from "../components/Loading.tsx";
import { initialValue, SchemaForm, type Value } from "../components/SchemaForm.tsx";
import { time } from "../format.ts";
import { useCan } from "../session.tsx";
import type { Finding, Validation, WorkflowDetail } from "../types.ts";
import { useApi } from "../use-api.ts";

/**
 * One workflow: its DAG, versions, the YAML of the latest with line numbers,
 * the findings of validating it now (POST /v1/validate, against what is
 * registered), and a form to start a run (with runs:write).
 */
export function WorkflowPage() {
  const { params } = useRoute();
  const name = params.name ?? "";
  const workflow = useApi<WorkflowDetail>(`/v1/workflows/${seg(name)}?plan=true`);
  return (
    <section>
      <p class="crumbs">
        <a href="/ui/">Workflows</a> /
      </p>
      <h1 tabIndex={-1}>{name}</h1>
      <Loading state={workflow}>{(data) => <WorkflowBody workflow={data} />}</Loading>
    </section>
  );
}

function WorkflowBody({ workflow }: { workflow: WorkflowDetail }) {
  const canStart = useCan("runs:write");
  const [selected, setSelected] = useState<string | null>(null);
  const node = selected ? workflow.plan?.nodes[selected] : undefined;
  return (
    <>
      {workflow.description && <p>{workflow.description}</p>}
      <p class="meta">
        latest version {workflow.latest} · <a href={`/ui/runs?workflow=${seg(workflow.name)}`}>its runs</a>
      </p>
      <div class="two-columns">
        <div>
          <h2>Graph</h2>
          {workflow.plan && (
            <Dag
              plan={workflow.plan}
              label={`The nodes of ${workflow.name}`}
              selected={selected}
              onSelect={setSelected}
            />
          )}
          {node && (
            <dl class="facts" aria-live="polite">
              <dt>node</dt>
              <dd>{node.id}</dd>
              <dt>type</dt>
              <dd>{node.type}</dd>
              {node.model && (
                <>
                  <dt>model</dt>
                  <dd>{node.model}</dd>
                </>
              )}
              {node.op && (
                <>
                  <dt>op</dt>
                  <dd>{node.op}</dd>
                </>
              )}
              <dt>needs</dt>
              <dd>{node.dependencies.join(", ") || "–"}</dd>
              {node.description && (
                <>
                  <dt>about</dt>
                  <dd>{node.description}</dd>
                </>
              )}
            </dl>
          )}
        </div>
        <div>
          {canStart ? (
            <StartRun workflow={workflow} />
          ) : (
            <p class="muted">Starting runs needs a key with the runs:write scope.</p>
          )}
        </div>
      </div>
      <ValidationAndSource workflow={workflow} />
      <h2>Versions</h2>
      <table class="list">
        <thead>
          <tr>
            <th scope="col">version</th>
            <th scope="col">registered</th>
            <th scope="col">hash</th>
          </tr>
        </thead>
        <tbody>
          {[...workflow.versions].reverse().map((v) => (
            <tr key={v.version}>
              <td>{v.version}</td>
              <td>{time(v.createdAt)}</td>
              <td>
                <code>{v.hash.slice(0, 12)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function ValidationAndSource({ workflow }: { workflow: WorkflowDetail }) {
  const [validation, setValidation] = useState<{ result?: Validation; error?: string; at?: Date }>({});
  const validate = () =>
    api<Validation>("/v1/validate", { method: "POST", yaml: workflow.definition }).then(
      (result) => setValidation({ result, at: new Date() }),
      (error: Error) => setValidation({ error: error.message }),
    );
  useEffect(() => {
    void validate();
  }, [workflow.definition]);
  const findings: Finding[] = validation.result?.files.flatMap((f) => [...f.errors, ...f.warnings]) ?? [];
  const errors = validation.result?.files.flatMap((f) => f.errors) ?? [];
  const warnings = validation.result?.files.flatMap((f) => f.warnings) ?? [];
  return (
    <>
      <h2>Validation</h2>
      <div class="validation" aria-live="polite">
        {validation.error && <p class="error">{validation.error}</p>}
        {validation.result && (
          <p data-valid={String(validation.result.valid)}>
            {validation.result.valid ? "✓ valid" : "✕ not valid"} · {errors.length} error(s),{" "}
            {warnings.length} warning(s) · checked {validation.at?.toLocaleTimeString()} against the
            registered definitions{" "}
            <button type="button" class="link" onClick={() => void validate()}>
              check again
            </button>
          </p>
        )}
        {findings.length > 0 && (
          <ul class="findings">
            {findings.map((f) => (
              <li key={`${f.line}:${f.column}:${f.code}`}>
                <a href={`#L${f.line}`}>
                  line {f.line}:{f.column}
                </a>{" "}
                <code>{f.code}</code> {f.message}
              </li>
            ))}
          </ul>
        )}
      </div>
      <h2>Definition (version {workflow.latest})</h2>
      <CodeView text={workflow.definition} findings={findings} label={`The YAML of ${workflow.name}`} />
    </>
  );
}

function StartRun({ workflow }: { workflow: WorkflowDetail }) {
  const { route } = useLocation();
  const schema = workflow.plan?.inputs ?? null;
  const [value, setValue] = useState<Value>(() => initialValue(schema));
  const [version, setVersion] = useState(String(workflow.latest));
  const [problem, setProblem] = useState<{ message: string; errors: readonly unknown[] } | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="start-run"
      aria-label="Start a run"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setProblem(null);
        try {
          const run = await api<{ id: string }>(`/v1/workflows/${seg(workflow.name)}/runs`, {
            method: "POST",
            json: { input: value ?? {}, version: Number(version) },
          });
          route(`/ui/runs/${seg(run.id)}`);
        } catch (error) {
          setProblem({
            message: (error as Error).message,
            errors: error instanceof ApiError ? error.errors : [],
          });
          setBusy(false);
        }
      }}
    >
      <h2>Start a run</h2>
      <label>
        Version
        <select name="version" value={version} onChange={(event) => setVersion(event.currentTarget.value)}>
          {[...workflow.versions].reverse().map((v) => (
            <option key={v.version} value={String(v.version)}>
              {v.version}
              {v.version === workflow.latest ? " (latest)" : ""}
            </option>
          ))}
        </select>
      </label>
      <SchemaForm schema={schema} value={value} onChange={setValue} />
      {problem && (
        <div class="error" role="alert">
          <p>{problem.message}</p>
          {problem.errors.length > 0 && (
            <ul>
              {problem.errors.map((e) => {
                const v = e as { path?: string; message?: string };
                return (
                  <li key={`${v.path}:${v.message}`}>
                    <code>{v.path}</code> {v.message}
                  </li>
                );
              })}
            </ul>
          )}
        </div>
      )}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? "Starting…" : "Start run"}
      </button>
    </form>
  );
}
