import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as keda from "@kubernetes-models/keda/keda.sh/v1alpha1";
import * as monitoring from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import * as apps from "kubernetes-models/apps/v1";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import * as autoscaling from "kubernetes-models/autoscaling/v2";
import * as networking from "kubernetes-models/networking.k8s.io/v1";
import * as policy from "kubernetes-models/policy/v1";
import * as core from "kubernetes-models/v1";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { toolPath } from "./global-setup.ts";

// The Helm chart (helm/pflow), with real tools and no cluster: `helm lint
// --strict` and `helm template` for each values file; every rendered document
// validated offline twice, against the Kubernetes OpenAPI schemas bundled in
// kubernetes-models (types, required fields, enums; the CRDs' schemas for
// ServiceMonitor, PrometheusRule, ScaledObject, TriggerAuthentication) and by
// k8s-strict, which decodes it into the API's own Go types refusing unknown
// fields (a misspelt `readinesProbe` passes a schema but not that); then what
// the chart promises, asserted on the rendered objects.

const ROOT = join(import.meta.dirname, "../..");
const CHART = join(ROOT, "helm/pflow");
const HELM = toolPath("helm");
const RELEASE = "pflow";
const NAMESPACE = "platform";

const VALUES_FILES = {
  default: [],
  production: ["ci/production-values.yaml"],
  minimal: ["ci/minimal-values.yaml"],
} as const satisfies Record<string, readonly string[]>;
type ValuesFile = keyof typeof VALUES_FILES;

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are read as plain YAML; kinds are narrowed where used
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], input?: string): Run {
  const result = spawnSync(command, args, { cwd: CHART, input, encoding: "utf8", timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function templateArgs(files: readonly string[], set: readonly string[]): string[] {
  return [
    "template",
    RELEASE,
    ".",
    "--namespace",
    NAMESPACE,
    ...files.flatMap((file) => ["--values", file]),
    ...set.flatMap((each) => ["--set", each]),
  ];
}

/** The chart rendered: its YAML and its documents. Fails the test with helm's message when it does not render. */
function renderText(files: readonly string[] = [], set: readonly string[] = []): string {
  const result = run(HELM, templateArgs(files, set));
  if (result.status !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  return result.stdout;
}

function render(files: readonly string[] = [], set: readonly string[] = []): Manifest[] {
  return parseAllDocuments(renderText(files, set))
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
}

/** helm's error when the chart must refuse these values. */
function refusal(files: readonly string[], set: readonly string[]): string {
  const result = run(HELM, templateArgs(files, set));
  expect(result.status, `expected helm template to refuse ${set.join(" ")}`).not.toBe(0);
  return result.stderr;
}

const rendered = Object.fromEntries(
  Object.entries(VALUES_FILES).map(([name, files]) => [name, render(files)]),
) as Record<ValuesFile, Manifest[]>;

function only(docs: Manifest[], kind: string, name?: string): Manifest {
  const found = docs.filter((doc) => doc.kind === kind && (name === undefined || doc.metadata.name === name));
  expect(found.map((doc) => `${doc.kind}/${doc.metadata.name}`)).toHaveLength(1);
  return found[0] as Manifest;
}

const ofKind = (docs: Manifest[], kind: string) => docs.filter((doc) => doc.kind === kind);
const deployments = (docs: Manifest[]) => ofKind(docs, "Deployment") as unknown as (IDeployment & Manifest)[];
const workerDeployments = (docs: Manifest[]) =>
  deployments(docs).filter((doc) => doc.metadata.labels?.["app.kubernetes.io/component"] === "worker");

function podSpec(workload: Manifest): IPodSpec {
  const spec = (workload.kind === "Pod" ? workload.spec : workload.spec?.template?.spec) as
    | IPodSpec
    | undefined;
  if (!spec) throw new Error(`${workload.kind}/${workload.metadata.name} has no pod spec`);
  return spec;
}

function container(workload: Manifest, name: string): IContainer {
  const found = podSpec(workload).containers.find((each) => each.name === name);
  if (!found) throw new Error(`${workload.metadata.name} has no container ${name}`);
  return found;
}

function env(c: IContainer): Map<string, NonNullable<IContainer["env"]>[number]> {
  return new Map((c.env ?? []).map((variable) => [variable.name, variable]));
}

function envValue(c: IContainer, name: string): string | undefined {
  return env(c).get(name)?.value;
}

/** The pflow containers (api and worker) of the Deployments. */
function pflowContainers(docs: Manifest[]): { workload: Manifest; container: IContainer }[] {
  return deployments(docs).flatMap((workload) =>
    podSpec(workload)
      .containers.filter((each) => each.name === "api" || each.name === "worker")
      .map((each) => ({ workload, container: each })),
  );
}

// The schemas of each apiVersion the chart uses, by kind.
const MODELS: Record<string, Record<string, unknown>> = {
  v1: core,
  "apps/v1": apps,
  "policy/v1": policy,
  "autoscaling/v2": autoscaling,
  "networking.k8s.io/v1": networking,
  "monitoring.coreos.com/v1": monitoring,
  "keda.sh/v1alpha1": keda,
};

/** Why a document does not validate against its schema, or null when it does. */
function schemaProblem(doc: Manifest): string | null {
  const Model = MODELS[doc.apiVersion]?.[doc.kind] as
    | (new (
        data: unknown,
      ) => { validate(): void })
    | undefined;
  if (!Model) return `no schema for ${doc.apiVersion} ${doc.kind}`;
  try {
    new Model(doc).validate();
    return null;
  } catch (error) {
    return `${doc.kind}/${doc.metadata.name}: ${(error as Error).message}`;
  }
}

/** k8s-strict's verdict on a YAML stream: its per-document lines, and whether all passed. */
function strictDecode(yamlText: string): { ok: boolean; lines: string[] } {
  const result = spawnSync(toolPath("k8s-strict"), [], { input: yamlText, encoding: "utf8" });
  if (result.error) throw result.error;
  return { ok: result.status === 0, lines: result.stdout.trim().split("\n") };
}

describe("helm lint --strict", () => {
  it.each(Object.keys(VALUES_FILES) as ValuesFile[])("passes with the %s values", (name) => {
    const result = run(HELM, [
      "lint",
      ".",
      "--strict",
      ...VALUES_FILES[name].flatMap((file) => ["--values", file]),
    ]);
    expect(result.stdout + result.stderr).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.status).toBe(0);
  });
});

describe("every rendered document validates offline against the Kubernetes schemas", () => {
  it.each(Object.keys(VALUES_FILES) as ValuesFile[])(
    "the %s values: kubernetes-models' OpenAPI schemas, and k8s-strict with unknown fields refused",
    (name) => {
      const docs = rendered[name];
      expect(docs.length).toBeGreaterThan(5);
      expect(docs.map(schemaProblem).filter(Boolean)).toEqual([]);

      const verdict = strictDecode(renderText(VALUES_FILES[name]));
      expect(verdict.lines.filter((line) => !line.startsWith("valid:"))).toEqual(
        // KEDA's kinds have no Go types here: their schema check above is the one they get.
        docs
          .filter((doc) => doc.apiVersion === "keda.sh/v1alpha1")
          .map((doc) => `skipped: ${doc.apiVersion} ${doc.kind} ${doc.metadata.name}`),
      );
      expect(verdict.ok).toBe(true);
    },
  );

  it("the validators are not vacuous: a wrong type, a missing field and a misspelt field are each caught", () => {
    const api = structuredClone(only(rendered.default, "Deployment", "pflow-api"));
    const wrongType = structuredClone(api);
    (podSpec(wrongType).containers[0] as { ports: unknown[] }).ports = [{ containerPort: "8080" }];
    expect(schemaProblem(wrongType)).toMatch(/containerPort must be integer/);
    const missing = structuredClone(api);
    delete (missing.spec as { selector?: unknown }).selector;
    expect(schemaProblem(missing)).toMatch(/spec must have required property selector/);

    const misspelt = stringify(api).replace("readinessProbe:", "readinesProbe:");
    expect(schemaProblem(parse(misspelt))).toBeNull(); // the schemas let unknown fields through,
    const verdict = strictDecode(misspelt); // so k8s-strict is there
    expect(verdict.ok).toBe(false);
    expect(verdict.lines.join("\n")).toMatch(
      /unknown field "spec\.template\.spec\.containers\[0\]\.readinesProbe"/,
    );
  });
});

describe("what each values file renders", () => {
  const inventory = (docs: Manifest[]) => docs.map((doc) => `${doc.kind}/${doc.metadata.name}`).sort();

  it("default (a try-out): the API, one worker pool, their Services and PDBs, the definitions ConfigMap; nothing that needs a CRD", () => {
    expect(inventory(rendered.default)).toEqual([
      "ConfigMap/pflow-definitions",
      "Deployment/pflow-api",
      "Deployment/pflow-worker-default",
      "Pod/pflow-test-readyz",
      "PodDisruptionBudget/pflow-api",
      "PodDisruptionBudget/pflow-worker-default",
      "Service/pflow-api",
      "Service/pflow-worker-metrics",
      "ServiceAccount/pflow",
    ]);
  });

  it("production: autoscaled API with Ingress, two KEDA-scaled pools, PDBs, ServiceMonitors, alert rules, dashboard, network policies", () => {
    expect(inventory(rendered.production)).toEqual([
      "ConfigMap/pflow-dashboard",
      "Deployment/pflow-api",
      "Deployment/pflow-worker-default",
      "Deployment/pflow-worker-models",
      "HorizontalPodAutoscaler/pflow-api",
      "Ingress/pflow-api",
      "NetworkPolicy/pflow-api",
      "NetworkPolicy/pflow-worker",
      "Pod/pflow-test-readyz",
      "PodDisruptionBudget/pflow-api",
      "PodDisruptionBudget/pflow-worker-default",
      "PodDisruptionBudget/pflow-worker-models",
      "PrometheusRule/pflow",
      "ScaledObject/pflow-worker-default",
      "ScaledObject/pflow-worker-models",
      "Service/pflow-api",
      "Service/pflow-worker-metrics",
      "ServiceAccount/pflow",
      "ServiceMonitor/pflow-api",
      "ServiceMonitor/pflow-worker",
      "TriggerAuthentication/pflow-broker",
    ]);
  });

  it("minimal: two settings, no ConfigMap (definitions from the image)", () => {
    const minimal = parse(readFileSync(join(CHART, "ci/minimal-values.yaml"), "utf8"));
    expect(minimal).toEqual({ secrets: { name: "pflow-secrets" }, definitions: { source: "image" } });
    expect(ofKind(rendered.minimal, "ConfigMap")).toEqual([]);
    for (const { container: c } of pflowContainers(rendered.minimal)) {
      expect(env(c).has("PFLOW_DEFINITIONS")).toBe(false);
      expect(c.volumeMounts?.map((mount) => mount.mountPath)).toEqual(["/tmp"]);
    }
  });

  it("every object carries the standard labels, and each Deployment's selector matches its pods and nothing else's", () => {
    for (const docs of Object.values(rendered)) {
      for (const doc of docs) {
        expect(doc.metadata.labels).toMatchObject({
          "app.kubernetes.io/name": "pflow",
          "app.kubernetes.io/instance": RELEASE,
          "app.kubernetes.io/managed-by": "Helm",
          "app.kubernetes.io/version": "0.1.0",
          "helm.sh/chart": "pflow-0.1.0",
        });
        expect(doc.metadata.namespace).toBe(NAMESPACE);
      }
      const all = deployments(docs);
      for (const deployment of all) {
        const selector = deployment.spec?.selector.matchLabels ?? {};
        for (const other of all) {
          const labels = other.spec?.template.metadata?.labels ?? {};
          const matches = Object.entries(selector).every(([key, value]) => labels[key] === value);
          expect(matches, `${deployment.metadata.name} selects ${other.metadata.name}'s pods`).toBe(
            other === deployment,
          );
        }
      }
    }
  });
});

describe("worker pools", () => {
  const pools = [
    { name: "models", routes: "model.*", concurrency: "64" },
    { name: "default", routes: "*", concurrency: "8" },
  ];

  it("production: one Deployment per pool, each consuming its own pool with its own concurrency", () => {
    const workers = workerDeployments(rendered.production);
    expect(workers.map((each) => each.metadata.name).sort()).toEqual([
      "pflow-worker-default",
      "pflow-worker-models",
    ]);
    for (const pool of pools) {
      const worker = only(rendered.production, "Deployment", `pflow-worker-${pool.name}`);
      const c = container(worker, "worker");
      expect(c.args).toEqual(["worker", "--host", "0.0.0.0", "--port", "9090"]);
      expect(envValue(c, "PFLOW_WORKER_QUEUES")).toBe(pool.name);
      expect(envValue(c, "PFLOW_WORKER_CONCURRENCY")).toBe(pool.concurrency);
      expect(worker.spec.template.metadata.labels["pflow/pool"]).toBe(pool.name);
    }
  });

  it("PFLOW_BROKER_QUEUES is the same in every pod, API included: the pools in order, the catch-all last", () => {
    for (const [name, expected] of [
      ["production", "models=model.*;default=*"],
      ["default", "default=*"],
      ["minimal", "default=*"],
    ] as const) {
      const values = pflowContainers(rendered[name]).map(({ container: c }) =>
        envValue(c, "PFLOW_BROKER_QUEUES"),
      );
      expect(values.length).toBeGreaterThanOrEqual(2);
      expect(new Set(values)).toEqual(new Set([expected]));
    }
  });

  it("a pool without routes takes every route; a pool's own false and 0 override the workers' defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), "pflow-pools-"));
    try {
      const file = join(dir, "pools.yaml");
      writeFileSync(
        file,
        stringify({
          workers: {
            pools: [
              { name: "gpu", routes: ["model.llama-*"], nodeSelector: { accelerator: "gpu" } },
              { name: "rest", replicas: 0, autoscaling: { enabled: false }, pdb: { enabled: false } },
            ],
          },
        }),
      );
      const docs = render([...VALUES_FILES.production, file]);
      const rest = only(docs, "Deployment", "pflow-worker-rest");
      expect(envValue(container(rest, "worker"), "PFLOW_BROKER_QUEUES")).toBe("gpu=model.llama-*;rest=*");
      expect(rest.spec.replicas).toBe(0);
      expect(docs.filter((doc) => doc.metadata.name === "pflow-worker-rest").map((doc) => doc.kind)).toEqual([
        "Deployment",
      ]);
      // The other pool keeps the workers' defaults: autoscaled (no replicas field) with its own
      // queue length over the workers' 64, a PDB, the workers' resources.
      const gpu = only(docs, "Deployment", "pflow-worker-gpu");
      expect(gpu.spec.replicas).toBeUndefined();
      expect(podSpec(gpu).nodeSelector).toEqual({ accelerator: "gpu" });
      expect(container(gpu, "worker").resources?.limits).toEqual({ memory: "2Gi" });
      expect(only(docs, "ScaledObject", "pflow-worker-gpu").spec.triggers[0].metadata.value).toBe("64");
      only(docs, "PodDisruptionBudget", "pflow-worker-gpu");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("config.brokerQueues is used verbatim, and refused when it lacks a pool this release runs", () => {
    const docs = render([], ["config.brokerQueues=gpu=model.llama-*;default=*"]);
    for (const { container: c } of pflowContainers(docs))
      expect(envValue(c, "PFLOW_BROKER_QUEUES")).toBe("gpu=model.llama-*;default=*");
    expect(refusal([], ["config.brokerQueues=gpu=*"])).toMatch(
      /config\.brokerQueues \("gpu=\*"\) has no pool "default"/,
    );
  });

  it("refuses a pool listed twice and an empty pool list", () => {
    expect(refusal([], ["workers.pools[0].name=a", "workers.pools[1].name=a"])).toMatch(
      /the pool "a" is listed twice/,
    );
    expect(refusal([], ["workers.pools=null"])).toMatch(/pools/);
  });

  it("each pool gets a PodDisruptionBudget selecting exactly its pods", () => {
    for (const pool of pools) {
      const pdb = only(rendered.production, "PodDisruptionBudget", `pflow-worker-${pool.name}`);
      const worker = only(rendered.production, "Deployment", `pflow-worker-${pool.name}`);
      expect(pdb.spec.selector.matchLabels).toEqual(worker.spec.selector.matchLabels);
      expect(pdb.spec.maxUnavailable).toBe(1);
    }
    const apiPdb = only(rendered.production, "PodDisruptionBudget", "pflow-api");
    expect(apiPdb.spec).toMatchObject({ minAvailable: 2 });
    expect(apiPdb.spec.maxUnavailable).toBeUndefined();
  });
});

describe("autoscaling", () => {
  it("KEDA: a ScaledObject per pool on the length of <prefix>.tasks.<pool>, authenticated with the broker URL's Secret", () => {
    for (const [pool, min, max, perReplica] of [
      ["models", 2, 30, "128"],
      ["default", 2, 20, "64"],
    ] as const) {
      const scaled = only(rendered.production, "ScaledObject", `pflow-worker-${pool}`);
      expect(scaled.spec.scaleTargetRef).toEqual({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: `pflow-worker-${pool}`,
      });
      expect(scaled.spec).toMatchObject({ minReplicaCount: min, maxReplicaCount: max });
      expect(scaled.spec.triggers).toEqual([
        {
          type: "rabbitmq",
          metadata: {
            protocol: "amqp",
            queueName: `pflow.tasks.${pool}`,
            mode: "QueueLength",
            value: perReplica,
            activationValue: "0",
          },
          authenticationRef: { name: "pflow-broker" },
        },
      ]);
      // KEDA owns the replica count: the Deployment leaves it unset.
      expect(only(rendered.production, "Deployment", `pflow-worker-${pool}`).spec.replicas).toBeUndefined();
    }
    const auth = only(rendered.production, "TriggerAuthentication", "pflow-broker");
    expect(auth.spec).toEqual({
      secretTargetRef: [{ parameter: "host", name: "pflow-backends", key: "broker-url" }],
    });
    // No HPA of the chart's competes with KEDA's for a worker Deployment.
    expect(ofKind(rendered.production, "HorizontalPodAutoscaler").map((doc) => doc.metadata.name)).toEqual([
      "pflow-api",
    ]);
  });

  it("the queue names follow config.brokerPrefix", () => {
    const docs = render(VALUES_FILES.production, ["config.brokerPrefix=acme.pflow"]);
    expect(only(docs, "ScaledObject", "pflow-worker-models").spec.triggers[0].metadata.queueName).toBe(
      "acme.pflow.tasks.models",
    );
    for (const { container: c } of pflowContainers(docs))
      expect(envValue(c, "PFLOW_BROKER_PREFIX")).toBe("acme.pflow");
  });

  it("config.canaryAnalysisIntervalMs reaches every process (canary analysis runs in each); unset, pflow's default", () => {
    const docs = render(VALUES_FILES.production, ["config.canaryAnalysisIntervalMs=60000"]);
    const containers = pflowContainers(docs);
    expect(containers.length).toBeGreaterThan(1);
    for (const { container: c } of containers)
      expect(envValue(c, "PFLOW_CANARY_ANALYSIS_INTERVAL_MS")).toBe("60000");
    for (const { container: c } of pflowContainers(render(VALUES_FILES.production)))
      expect(env(c).has("PFLOW_CANARY_ANALYSIS_INTERVAL_MS")).toBe(false);
    expect(refusal([], ["config.canaryAnalysisIntervalMs=10"])).toMatch(/canaryAnalysisIntervalMs/);
  });

  it("without KEDA: an autoscaling/v2 HPA on CPU per autoscaled pool; scale to zero is refused", () => {
    const docs = render(VALUES_FILES.production, ["keda.enabled=false"]);
    expect(ofKind(docs, "ScaledObject")).toEqual([]);
    expect(ofKind(docs, "TriggerAuthentication")).toEqual([]);
    const hpa = only(docs, "HorizontalPodAutoscaler", "pflow-worker-models");
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "pflow-worker-models" },
      minReplicas: 2,
      maxReplicas: 30,
      metrics: [
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
        },
      ],
    });
    expect(
      refusal(VALUES_FILES.production, ["keda.enabled=false", "workers.autoscaling.minReplicas=0"]),
    ).toMatch(/minReplicas 0 needs KEDA/);
  });

  it("the API: an autoscaling/v2 HPA on CPU, and no replicas field in its Deployment", () => {
    const hpa = only(rendered.production, "HorizontalPodAutoscaler", "pflow-api");
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "pflow-api" },
      minReplicas: 3,
      maxReplicas: 12,
    });
    expect(only(rendered.production, "Deployment", "pflow-api").spec.replicas).toBeUndefined();
    expect(only(rendered.default, "Deployment", "pflow-api").spec.replicas).toBe(1);
  });
});

describe("secrets", () => {
  const SECRET_SETTINGS = ["PFLOW_STORE_URL", "PFLOW_BROKER_URL", "PFLOW_API_KEYS"];

  it("are read by reference (secretKeyRef) only; no Secret is rendered unless createSecret is set", () => {
    for (const [name, docs] of Object.entries(rendered)) {
      expect(ofKind(docs, "Secret"), name).toEqual([]);
      for (const { workload, container: c } of pflowContainers(docs)) {
        const variables = env(c);
        for (const setting of SECRET_SETTINGS) {
          if (setting === "PFLOW_API_KEYS" && c.name === "worker") {
            expect(variables.has(setting), "workers need no API keys").toBe(false);
            continue;
          }
          const variable = variables.get(setting);
          expect(variable?.value, `${workload.metadata.name} ${setting}`).toBeUndefined();
          expect(
            variable?.valueFrom?.secretKeyRef?.name,
            `${workload.metadata.name} ${setting}`,
          ).toBeTruthy();
        }
      }
    }
    const api = container(only(rendered.production, "Deployment", "pflow-api"), "api");
    expect(env(api).get("PFLOW_STORE_URL")?.valueFrom?.secretKeyRef).toEqual({
      name: "pflow-backends",
      key: "store-url",
    });
    expect(env(api).get("PFLOW_API_KEYS")?.valueFrom?.secretKeyRef).toEqual({
      name: "pflow-api-keys",
      key: "api-keys",
    });
    const tryout = container(only(rendered.default, "Deployment", "pflow-api"), "api");
    expect(env(tryout).get("PFLOW_BROKER_URL")?.valueFrom?.secretKeyRef).toEqual({
      name: "pflow",
      key: "broker-url",
    });
  });

  it("values.yaml holds no secret values", () => {
    const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8"));
    expect(values.createSecret).toEqual({ enabled: false, storeUrl: "", brokerUrl: "", apiKeys: "" });
  });

  it("createSecret makes the Secret the pods reference, rolls the pods when it changes, and needs all three values", () => {
    const values = [
      "createSecret.enabled=true",
      "createSecret.storeUrl=mongodb://pflow:pw@mongo/pflow",
      "createSecret.brokerUrl=amqp://pflow:pw@rabbitmq:5672/",
      "createSecret.apiKeys=0123456789abcdef:admin",
    ];
    const docs = render([], values);
    const secret = only(docs, "Secret", "pflow");
    expect(secret.stringData).toEqual({
      "store-url": "mongodb://pflow:pw@mongo/pflow",
      "broker-url": "amqp://pflow:pw@rabbitmq:5672/",
      "api-keys": "0123456789abcdef:admin",
    });
    const checksum = (d: Manifest[]) =>
      only(d, "Deployment", "pflow-api").spec.template.metadata.annotations["checksum/secret"] as string;
    expect(checksum(docs)).toMatch(/^[0-9a-f]{64}$/);
    const changed = render([], [...values, "createSecret.apiKeys=fedcba9876543210:admin"]);
    expect(checksum(changed)).not.toBe(checksum(docs));

    expect(refusal([], ["createSecret.enabled=true", "createSecret.storeUrl=mongodb://m/p"])).toMatch(
      /createSecret\.brokerUrl is needed/,
    );
  });
});

describe("pods", () => {
  const allWorkloads = () =>
    Object.values(rendered)
      .flat()
      .filter((doc) => doc.kind === "Deployment" || doc.kind === "Pod");

  it("every container and init container runs non-root, read-only, without privileges or capabilities, under RuntimeDefault seccomp", () => {
    const gitSync = only(rendered.production, "Deployment", "pflow-api");
    expect(podSpec(gitSync).initContainers?.map((each) => each.name)).toEqual(["git-sync"]);
    for (const workload of allWorkloads()) {
      const spec = podSpec(workload);
      expect(spec.securityContext, workload.metadata.name).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(spec.automountServiceAccountToken).toBe(false);
      expect(spec.enableServiceLinks, "Service env variables would clash with PFLOW_*").toBe(false);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.securityContext, `${workload.metadata.name}/${c.name}`).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(c.volumeMounts?.find((mount) => mount.mountPath === "/tmp")?.name).toBe("tmp");
        expect(c.resources?.requests, `${workload.metadata.name}/${c.name} requests`).toBeDefined();
        expect(c.resources?.limits?.memory, `${workload.metadata.name}/${c.name} memory limit`).toBeDefined();
      }
      expect(spec.volumes?.find((volume) => volume.name === "tmp")?.emptyDir).toBeDefined();
    }
  });

  it("probes: liveness on /healthz, readiness on /readyz (store and broker), startup on /healthz, on the port the process serves", () => {
    for (const docs of Object.values(rendered)) {
      for (const { workload, container: c } of pflowContainers(docs)) {
        const port = c.name === "api" ? "http" : "metrics";
        expect(c.ports?.map((each) => each.name)).toEqual([port]);
        expect(c.livenessProbe?.httpGet, workload.metadata.name).toEqual({ path: "/healthz", port });
        expect(c.readinessProbe?.httpGet, workload.metadata.name).toEqual({ path: "/readyz", port });
        expect(c.startupProbe?.httpGet, workload.metadata.name).toEqual({ path: "/healthz", port });
        const listening = c.args?.[(c.args?.indexOf("--port") ?? -2) + 1];
        expect(String(c.ports?.[0]?.containerPort)).toBe(listening);
        expect(c.args?.slice(1, 3)).toEqual(["--host", "0.0.0.0"]);
      }
    }
    expect(container(only(rendered.default, "Deployment", "pflow-api"), "api").args).toEqual([
      "serve",
      "--host",
      "0.0.0.0",
      "--port",
      "8080",
      "--no-workers",
    ]);
  });

  it("terminationGracePeriodSeconds outlasts PFLOW_SHUTDOWN_GRACE_MS plus the preStop pause; a shorter one is refused", () => {
    for (const docs of Object.values(rendered)) {
      for (const { workload, container: c } of pflowContainers(docs)) {
        const graceMs = Number(envValue(c, "PFLOW_SHUTDOWN_GRACE_MS"));
        const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
        expect(graceMs).toBeGreaterThan(0);
        expect(podSpec(workload).terminationGracePeriodSeconds).toBeGreaterThan(graceMs / 1000 + preStop);
      }
    }
    const api = only(rendered.production, "Deployment", "pflow-api");
    expect(container(api, "api").lifecycle?.preStop?.sleep?.seconds).toBe(5);
    expect(podSpec(api).terminationGracePeriodSeconds).toBe(25 + 5 + 10);
    expect(refusal([], ["api.terminationGracePeriodSeconds=15"])).toMatch(
      /terminationGracePeriodSeconds \(15\) must be longer than config\.shutdownGraceMs \(20000 ms\)/,
    );
  });

  it("scheduling: replicas spread over zones and nodes by default; nodeSelector, tolerations, affinity and constraints from values", () => {
    const api = only(rendered.default, "Deployment", "pflow-api");
    expect(
      podSpec(api).topologySpreadConstraints?.map((each) => [each.topologyKey, each.whenUnsatisfiable]),
    ).toEqual([
      ["topology.kubernetes.io/zone", "ScheduleAnyway"],
      ["kubernetes.io/hostname", "ScheduleAnyway"],
    ]);
    expect(podSpec(api).topologySpreadConstraints?.[0]?.labelSelector?.matchLabels).toEqual(
      api.spec.selector.matchLabels,
    );

    const docs = render(
      [],
      [
        "workers.nodeSelector.pool=cpu",
        "workers.pools[0].name=default",
        "workers.pools[0].nodeSelector.pool=gpu",
        "workers.pools[0].tolerations[0].key=gpu",
        "workers.pools[0].tolerations[0].operator=Exists",
        "api.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=tier",
        "api.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
        "api.topologySpreadConstraints[0].maxSkew=2",
        "api.topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
        "api.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
      ],
    );
    const worker = podSpec(only(docs, "Deployment", "pflow-worker-default"));
    expect(worker.nodeSelector).toEqual({ pool: "gpu" });
    expect(worker.tolerations).toEqual([{ key: "gpu", operator: "Exists" }]);
    const customApi = podSpec(only(docs, "Deployment", "pflow-api"));
    expect(customApi.affinity?.nodeAffinity).toBeDefined();
    expect(customApi.topologySpreadConstraints).toEqual([
      { maxSkew: 2, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule" },
    ]);
    expect(docs.map(schemaProblem).filter(Boolean)).toEqual([]);
  });
});

describe("definitions", () => {
  const pflowNode = join(ROOT, "node_modules/.bin/node");
  const scratch = mkdtempSync(join(tmpdir(), "pflow-chart-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("the try-out ConfigMap is mounted read-only at PFLOW_DEFINITIONS, and its workflow passes `pflow validate`", () => {
    const configMap = only(rendered.default, "ConfigMap", "pflow-definitions");
    for (const { workload, container: c } of pflowContainers(rendered.default)) {
      expect(envValue(c, "PFLOW_DEFINITIONS")).toBe("/etc/pflow/definitions");
      expect(c.volumeMounts).toContainEqual({
        name: "definitions",
        mountPath: "/etc/pflow/definitions",
        readOnly: true,
      });
      expect(podSpec(workload).volumes).toContainEqual({
        name: "definitions",
        configMap: { name: "pflow-definitions" },
      });
    }
    // The ConfigMap's files as the pods see them, checked by pflow itself.
    const dir = join(scratch, "tryout");
    mkdirSync(dir);
    expect(Object.keys(configMap.data ?? {})).toEqual(["hello.yaml"]);
    for (const [file, text] of Object.entries(configMap.data ?? {})) writeFileSync(join(dir, file), text);
    const result = spawnSync(pflowNode, [join(ROOT, "cli/pflow.js"), "validate", dir], { encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("1 file, 0 errors, 0 warnings\n");
    expect(result.status).toBe(0);
  });

  it("pods roll when the definitions change: the ConfigMap's checksum is a pod annotation", () => {
    const checksum = (docs: Manifest[], name: string) =>
      only(docs, "Deployment", name).spec.template.metadata.annotations["checksum/definitions"] as string;
    const before = checksum(rendered.default, "pflow-worker-default");
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(rendered.default, "pflow-api")).toBe(before);
    const after = render([], ["definitions.files.extra\\.yaml=apiVersion: pflow/v1"]);
    expect(checksum(after, "pflow-worker-default")).not.toBe(before);
    expect(checksum(after, "pflow-api")).not.toBe(before);
  });

  it("from an existing ConfigMap or PersistentVolumeClaim, read-only, at the subPath", () => {
    const fromConfigMap = render(
      [],
      ["definitions.source=existingConfigMap", "definitions.existingConfigMap=flows"],
    );
    expect(ofKind(fromConfigMap, "ConfigMap")).toEqual([]);
    const api = only(fromConfigMap, "Deployment", "pflow-api");
    expect(podSpec(api).volumes).toContainEqual({ name: "definitions", configMap: { name: "flows" } });

    const fromClaim = render(
      [],
      ["definitions.source=existingClaim", "definitions.existingClaim=flows", "definitions.subPath=prod"],
    );
    const worker = only(fromClaim, "Deployment", "pflow-worker-default");
    expect(podSpec(worker).volumes).toContainEqual({
      name: "definitions",
      persistentVolumeClaim: { claimName: "flows", readOnly: true },
    });
    expect(envValue(container(worker, "worker"), "PFLOW_DEFINITIONS")).toBe("/etc/pflow/definitions/prod");
    expect(refusal([], ["definitions.source=existingClaim"])).toMatch(/definitions\.existingClaim is needed/);
  });

  it("from Git: an init container clones the pinned ref once, before pflow loads it", () => {
    const api = only(rendered.production, "Deployment", "pflow-api");
    const [gitSync] = podSpec(api).initContainers ?? [];
    expect(gitSync?.image).toBe("registry.k8s.io/git-sync/git-sync:v4.4.0");
    expect(gitSync?.args).toEqual(
      expect.arrayContaining([
        "--repo=git@github.com:propertyflow/pflow-definitions.git",
        "--ref=v2024.11.3",
        "--root=/etc/pflow/definitions",
        "--link=current",
        "--one-time",
        "--ssh-key-file=/etc/git-secret/ssh",
        "--ssh-known-hosts-file=/etc/git-secret/known_hosts",
      ]),
    );
    expect(gitSync?.volumeMounts).toContainEqual({
      name: "definitions",
      mountPath: "/etc/pflow/definitions",
    });
    const c = container(api, "api");
    expect(envValue(c, "PFLOW_DEFINITIONS")).toBe("/etc/pflow/definitions/current/definitions");
    expect(c.volumeMounts).toContainEqual({
      name: "definitions",
      mountPath: "/etc/pflow/definitions",
      readOnly: true,
    });
  });
});

describe("monitoring", () => {
  it("ServiceMonitors scrape /metrics as the jobs the alert rules name, on ports the selected Services have", () => {
    const docs = rendered.production;
    for (const [tier, job, port, service] of [
      ["api", "pflow-api", "http", "pflow-api"],
      ["worker", "pflow-worker", "metrics", "pflow-worker-metrics"],
    ] as const) {
      const monitor = only(docs, "ServiceMonitor", `pflow-${tier}`);
      expect(monitor.metadata.labels?.release).toBe("kube-prometheus-stack");
      const [endpoint] = monitor.spec.endpoints;
      expect(endpoint).toMatchObject({ port, path: "/metrics" });
      expect(endpoint.relabelings).toContainEqual({
        action: "replace",
        targetLabel: "job",
        replacement: job,
      });
      const selected = ofKind(docs, "Service").filter((each) =>
        Object.entries(monitor.spec.selector.matchLabels).every(
          ([key, value]) => each.metadata.labels?.[key] === value,
        ),
      );
      expect(selected.map((each) => each.metadata.name)).toEqual([service]);
      expect(selected[0]?.spec.ports.map((each: { name: string }) => each.name)).toEqual([port]);
    }
    const alerts = readFileSync(join(CHART, "files/alerts.yaml"), "utf8");
    expect(alerts).toContain('job="pflow-worker"');
    // The workers' Service covers every pool, ready or not (an unready worker is what alerts are for).
    const workers = only(docs, "Service", "pflow-worker-metrics");
    expect(workers.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    expect(workers.spec.selector["pflow/pool"]).toBeUndefined();
  });

  it("the PrometheusRule is files/alerts.yaml's groups as they are, and promtool accepts them", () => {
    const rule = only(rendered.production, "PrometheusRule", "pflow");
    const file = parse(readFileSync(join(CHART, "files/alerts.yaml"), "utf8"));
    expect(rule.spec).toEqual({ groups: file.groups });
    expect(rule.metadata.labels?.release).toBe("kube-prometheus-stack");
    const dir = mkdtempSync(join(tmpdir(), "pflow-rules-"));
    try {
      writeFileSync(join(dir, "rules.yaml"), stringify(rule.spec));
      const result = spawnSync(toolPath("promtool"), ["check", "rules", join(dir, "rules.yaml")], {
        encoding: "utf8",
      });
      expect(result.stdout + result.stderr).toMatch(/SUCCESS: \d+ rules found/);
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the dashboard ConfigMap carries files/dashboard.json and the grafana_dashboard label", () => {
    const dashboard = only(rendered.production, "ConfigMap", "pflow-dashboard");
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe("1");
    expect(dashboard.metadata.annotations).toEqual({ grafana_folder: "pflow" });
    const file = JSON.parse(readFileSync(join(CHART, "files/dashboard.json"), "utf8"));
    expect(JSON.parse(dashboard.data?.["pflow.json"] ?? "null")).toEqual(file);
  });

  it("each is off by default, so the chart installs on a cluster without the Prometheus Operator or KEDA", () => {
    for (const name of ["default", "minimal"] as const) {
      const kinds = rendered[name].map((doc) => doc.apiVersion);
      expect(kinds.filter((apiVersion) => /coreos|keda/.test(apiVersion))).toEqual([]);
    }
  });
});

describe("values.schema.json", () => {
  it("refuses misspelt keys, naming the key and where it is", () => {
    for (const [set, message] of [
      [
        "workers.pools[0].concurency=8",
        "at '/workers/pools/0': additional properties 'concurency' not allowed",
      ],
      ["api.replica=3", "at '/api': additional properties 'replica' not allowed"],
      [
        "metrics.serviceMonitor.enable=true",
        "at '/metrics/serviceMonitor': additional properties 'enable' not allowed",
      ],
      ["secret.name=x", "additional properties 'secret' not allowed"],
    ] as const) {
      const error = refusal([], ["workers.pools[0].name=default", set]);
      expect(error).toContain("values don't meet the specifications of the schema");
      expect(error).toContain(message);
    }
  });

  it("refuses values pflow or Kubernetes would refuse", () => {
    for (const [set, message] of [
      ["workers.pools[0].name=GPU", "at '/workers/pools/0/name'"],
      ["config.logLevel=verbose", "at '/config/logLevel': value must be one of"],
      ["config.brokerPrefix=a b", "at '/config/brokerPrefix'"],
      ["definitions.source=s3", "at '/definitions/source'"],
      ["definitions.files.notes\\.txt=x", "at '/definitions/files'"],
      ["workers.concurrency=0", "at '/workers/concurrency'"],
      ["createSecret.storeUrl=postgres://x", "at '/createSecret/storeUrl'"],
    ] as const) {
      expect(refusal([], ["workers.pools[0].name=default", set])).toContain(message);
    }
  });

  it("is a draft-07 schema that closes every object it describes", () => {
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8"));
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    const open: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (!node || typeof node !== "object") return;
      const object = node as Record<string, unknown>;
      if (object.properties && object.additionalProperties !== false) open.push(path);
      for (const [key, value] of Object.entries(object)) walk(value, `${path}/${key}`);
    };
    walk(schema, "");
    expect(open).toEqual([]);
  });

  const WHOLE = /(^|\.)(resources|strategy|securityContext|podSecurityContext|files)$|\.probes\.\w+$/;

  it("documents every value in the chart's README", () => {
    const readme = readFileSync(join(CHART, "README.md"), "utf8");
    const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8"));
    const missing: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (path && !readme.includes(`\`${path}\``)) missing.push(path);
      // Kubernetes objects passed through (resources, security contexts, probe timings) and the
      // definition files are documented as a whole.
      if (!node || typeof node !== "object" || Array.isArray(node) || WHOLE.test(path)) return;
      for (const [key, value] of Object.entries(node)) walk(value, path ? `${path}.${key}` : key);
    };
    walk(values, "");
    expect(missing).toEqual([]);
  });
});

describe("NOTES.txt", () => {
  it("renders for each values file and tells how to create the Secrets the pods wait for", () => {
    // helm template does not render NOTES.txt: render it through `tpl` in a copy of the chart.
    const copy = mkdtempSync(join(tmpdir(), "pflow-notes-"));
    try {
      cpSync(CHART, copy, { recursive: true });
      renameSync(join(copy, "templates/NOTES.txt"), join(copy, "files/NOTES.txt"));
      writeFileSync(
        join(copy, "templates/notes.yaml"),
        'notes: {{ tpl (.Files.Get "files/NOTES.txt") . | toJson }}\n',
      );
      const notes = (files: readonly string[]) => {
        const result = spawnSync(
          HELM,
          [
            "template",
            RELEASE,
            copy,
            "-n",
            NAMESPACE,
            "--show-only",
            "templates/notes.yaml",
            ...files.flatMap((f) => ["-f", join(CHART, f)]),
          ],
          { encoding: "utf8" },
        );
        expect(result.stderr).toBe("");
        return parse(result.stdout).notes as string;
      };
      const tryout = notes(VALUES_FILES.default);
      expect(tryout).toContain("kubectl -n platform create secret generic pflow \\");
      expect(tryout).toContain("--from-literal=api-keys=");
      expect(tryout).toContain("/v1/workflows/hello/runs");
      const production = notes(VALUES_FILES.production);
      expect(production).toContain(
        "pflow-worker-models: queue pflow.tasks.models, concurrency 64, 2–30 replicas (KEDA on queue length)",
      );
      expect(production).toContain("create secret generic pflow-api-keys");
      expect(production).toContain("create secret generic pflow-backends");
      expect(notes(VALUES_FILES.minimal)).toContain("Definitions: from the image.");
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
