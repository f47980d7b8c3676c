import { isMap, isScalar, isSeq, type Node as YamlNode } from "yaml";
import { parseYamlFile, type SourceDocument } from "../compiler/yaml-source.ts";
import { ExecutionError } from "./errors.ts";
import type { Store } from "./store/store.ts";

/**
 * An expression that failed as it ran, knowing its source: where it is in the
 * YAML is found only then (locateExpressionError), from the registered text of
 * the run's version, so compiling pays nothing for it.
 */
export class ExpressionFailed extends ExecutionError {
  readonly expression: string;

  constructor(expression: string, message: string, options?: ErrorOptions) {
    super("expression", message, false, options);
    this.expression = expression;
  }
}

export interface FailedAt {
  readonly store: Store;
  readonly workflow: { readonly name: string; readonly version: number };
  readonly nodeId: string;
}

/**
 * An ExpressionFailed with the node, the workflow version and the YAML line
 * in front of its message: `node "draft" (line 14 of workflow "listing"
 * version 3): expression "…" failed: …`. The line is that of the string that
 * holds the expression in the node, else the node's own line. Any other error
 * is returned as it is, and so is this one if the source cannot be read.
 */
export async function locateExpressionError(error: ExecutionError, at: FailedAt): Promise<ExecutionError> {
  if (!(error instanceof ExpressionFailed)) return error;
  const where = `node "${at.nodeId}"`;
  let line: number | undefined;
  try {
    const record = await at.store.getDefinition("Workflow", at.workflow.name, at.workflow.version);
    if (record) line = lineOf(record.source, at.nodeId, error.expression);
  } catch {
    // The store's failure must not hide the node's: the message goes without the line.
  }
  const version = `workflow "${at.workflow.name}" version ${at.workflow.version}`;
  const prefix = line === undefined ? `${where} of ${version}` : `${where} (line ${line} of ${version})`;
  return new ExecutionError(error.code, `${prefix}: ${error.message}`, error.retryable, { cause: error });
}

function lineOf(text: string, nodeId: string, expression: string): number | undefined {
  const source = parseYamlFile("registered.yaml", text).documents.find(
    (doc) => (doc.value as { kind?: unknown } | null)?.kind === "Workflow",
  );
  if (source === undefined) return undefined;
  const nodes = source.doc.getIn(["spec", "nodes"], true);
  if (!isMap(nodes)) return undefined;
  const pair = nodes.items.find((item) => isScalar(item.key) && item.key.value === nodeId);
  if (pair === undefined) return undefined;
  const holder = findString(pair.value as YamlNode | null, expression);
  const offset = holder?.range?.[0] ?? (pair.key as YamlNode | null)?.range?.[0];
  return offset === undefined ? undefined : linePos(source, offset);
}

/** The first string scalar under `node` whose text holds `expression`. */
function findString(node: YamlNode | null | undefined, expression: string): YamlNode | undefined {
  if (node == null) return undefined;
  if (isScalar(node))
    return typeof node.value === "string" && node.value.includes(expression) ? node : undefined;
  if (isMap(node)) {
    for (const item of node.items) {
      const found = findString(item.value as YamlNode | null, expression);
      if (found) return found;
    }
  } else if (isSeq(node)) {
    for (const item of node.items) {
      const found = findString(item as YamlNode, expression);
      if (found) return found;
    }
  }
  return undefined;
}

function linePos(source: SourceDocument, offset: number): number {
  return source.lines.linePos(offset).line;
}
