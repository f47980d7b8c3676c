import type { FastifyInstance } from "fastify";
import secureJson from "secure-json-parse";
import { MAX_JSON_DEPTH, tooDeepAt, tooDeepMessage } from "../engine/json-depth.ts";
import { Problem } from "./problems.ts";

/**
 * The JSON body parser of every route: Fastify's own rules (prototype
 * poisoning refused), plus
 * - a depth limit, checked before any handler clones or walks the body: a
 *   body nested thousands of levels deep is a 400 naming where, not a stack
 *   overflow deep inside a handler;
 * - a syntax error that says where it is (JSON.parse's position), once.
 */
export function addJsonBodyParser(app: FastifyInstance, maxDepth: number = MAX_JSON_DEPTH): void {
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, text, done) => {
    try {
      done(null, parseJsonBody(text as string, maxDepth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

export function parseJsonBody(text: string, maxDepth: number = MAX_JSON_DEPTH): unknown {
  if (text.length === 0) throw new Problem("bad-request", "the body is empty; send a JSON object");
  let value: unknown;
  try {
    value = secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
  } catch (error) {
    throw new Problem("bad-request", `the body is not valid JSON: ${(error as Error).message}`);
  }
  const pointer = tooDeepAt(value, maxDepth);
  if (pointer !== undefined) {
    throw new Problem("bad-request", tooDeepMessage("the body", pointer, maxDepth), {
      errors: [{ path: pointer, message: `nests deeper than ${maxDepth} levels` }],
    });
  }
  return value;
}
