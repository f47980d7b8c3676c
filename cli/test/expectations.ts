import type { TestCaseFields } from "../../compiler/index.ts";
import { evaluateExpression, truthy } from "../../engine/template-eval.ts";

/**
 * What a case expects against what its run did. Each difference is one line a
 * person can act on: where (output.headline, nodes.enrich), what was expected
 * and what came. Unset expectations check nothing, except the status, which is
 * `succeeded` unless the case says otherwise: a run that failed never passes
 * by accident.
 */
export interface ObservedNode {
  readonly status: string;
  readonly attempts: number;
  readonly output: unknown;
  readonly error: { readonly code: string; readonly message: string } | null;
  /** A map node's items, in order. */
  readonly items?: readonly ObservedNode[];
}

export interface Observed {
  readonly status: string;
  readonly output: unknown;
  readonly error: { readonly code: string; readonly message: string } | null;
  /** The run input, with the inputs schema's defaults applied. */
  readonly inputs: unknown;
  readonly nodes: Readonly<Record<string, ObservedNode>>;
}

export async function differences(expect: TestCaseFields["expect"], observed: Observed): Promise<string[]> {
  const out: string[] = [];
  const status = expect?.status ?? "succeeded";
  if (observed.status !== status) {
    const why = observed.error ? ` (${observed.error.code}: ${observed.error.message})` : "";
    out.push(`status: expected ${status}, got ${observed.status}${why}`);
    // A refused input started no run: nothing else of it can be compared.
    if (observed.status === "rejected") return out;
  }
  if (expect?.output !== undefined) subsetDifferences(expect.output, observed.output, "output", out);
  for (const [id, wanted] of Object.entries(expect?.nodes ?? {})) {
    const node = observed.nodes[id];
    const got = node?.status ?? "not run";
    if (got !== wanted) {
      const why = node?.error ? ` (${node.error.code}: ${node.error.message})` : "";
      out.push(`nodes.${id}: expected ${wanted}, got ${got}${why}`);
    }
  }
  for (const [id, wanted] of Object.entries(expect?.attempts ?? {})) {
    const got = observed.nodes[id]?.attempts ?? 0;
    if (got !== wanted) out.push(`attempts.${id}: expected ${wanted}, got ${got}`);
  }
  const asserts = expect?.assert;
  for (const source of asserts === undefined ? [] : typeof asserts === "string" ? [asserts] : asserts) {
    const context = {
      output: observed.output,
      nodes: observed.nodes,
      inputs: observed.inputs,
      status: observed.status,
      error: observed.error,
    };
    try {
      const value = await evaluateExpression(source, context);
      if (!truthy(value)) out.push(`assert ${JSON.stringify(source)}: gave ${show(value)}, not true`);
    } catch (error) {
      out.push(`assert ${JSON.stringify(source)}: failed to evaluate: ${(error as Error).message}`);
    }
  }
  return out;
}

/**
 * `expected` as a subset of `actual`: objects by the keys given (more keys in
 * the actual value are fine), arrays item by item and of the same length,
 * anything else equal.
 */
export function subsetDifferences(expected: unknown, actual: unknown, path: string, out: string[]): void {
  if (isObject(expected)) {
    if (!isObject(actual)) {
      out.push(`${path}: expected an object, got ${show(actual)}`);
      return;
    }
    for (const [key, value] of Object.entries(expected)) {
      const at = `${path}${/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`;
      if (!Object.hasOwn(actual, key)) out.push(`${at}: expected ${show(value)}, got nothing (no such key)`);
      else subsetDifferences(value, actual[key], at, out);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      out.push(`${path}: expected an array, got ${show(actual)}`);
      return;
    }
    if (actual.length !== expected.length) {
      out.push(`${path}: expected ${expected.length} items, got ${actual.length}: ${show(actual)}`);
      return;
    }
    expected.forEach((item, index) => {
      subsetDifferences(item, actual[index], `${path}[${index}]`, out);
    });
    return;
  }
  if (expected !== actual) out.push(`${path}: expected ${show(expected)}, got ${show(actual)}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value as JSON, cut short past 200 characters. */
export function show(value: unknown): string {
  const text = value === undefined ? "undefined" : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
