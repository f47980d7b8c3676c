import { Loading } from "../components/Loading.tsx";
import { time } from "../format.ts";
import { useApi } from "../use-api.ts";

interface ModelSummary {
  readonly name: string;
  readonly version: number;
  readonly description: string | null;
  readonly createdAt: string;
  readonly versions: readonly string[];
  readonly defaultTarget: { alias?: string; version?: string };
}

/** Models: each registered model with its versions and what its bare name resolves to. */
export function ModelsPage() {
  const models = useApi<{ items: ModelSummary[] }>("/v1/models");
  return (
    <section>
      <h1 tabIndex={-1}>Models</h1>
      <Loading state={models}>
        {(data) =>
          data.items.length === 0 ? (
            <p>No model is registered.</p>
          ) : (
            <div class="table-wrap">
              <table class="list">
                <thead>
                  <tr>
                    <th scope="col">model</th>
                    <th scope="col">versions</th>
                    <th scope="col">bare name means</th>
                    <th scope="col">changed</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((model) => (
                    <tr key={model.name}>
                      <td>
                        <a href={`/ui/models/${encodeURIComponent(model.name)}`}>{model.name}</a>
                        {model.description && <div class="muted">{model.description}</div>}
                      </td>
                      <td>{model.versions.join(", ")}</td>
                      <td>
                        {model.defaultTarget.alias
                          ? `alias ${model.defaultTarget.alias}`
                          : `version ${model.defaultTarget.version ?? "–"}`}
                      </td>
                      <td>
                        document v{model.version}, {time(model.createdAt)}
                      </td>
                    </tr>
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
