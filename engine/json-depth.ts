/**
 * How deep user data may nest. Inputs, bodies and node outputs are walked by
 * recursive code the engine does not own (structuredClone, JSON.stringify,
 * canonical JSON for hashes, JSONata), which overflows the stack somewhere past
 * a few thousand levels; nothing real needs more than a few dozen. So data is
 * checked here, by a walk that keeps its own stack, before anything else walks it.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The JSON Pointer of the first value found nested deeper than `maxDepth`
 * levels (an object or array at the top is level 1), or undefined if none is.
 */
export function tooDeepAt(value: unknown, maxDepth: number = MAX_JSON_DEPTH): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  // Each entry: a container, its depth, and how to name its path if needed.
  const stack: Frame[] = [{ value: value as object, depth: 1, parent: null, key: "" }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    if (frame.depth > maxDepth) return pointerOf(frame);
    const container = frame.value;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) {
        const child: unknown = container[i];
        if (child !== null && typeof child === "object") {
          stack.push({ value: child, depth: frame.depth + 1, parent: frame, key: String(i) });
        }
      }
    } else {
      for (const key in container) {
        if (!Object.hasOwn(container, key)) continue;
        const child: unknown = (container as Record<string, unknown>)[key];
        if (child !== null && typeof child === "object") {
          stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
        }
      }
    }
  }
  return undefined;
}

/** A message naming where data nests too deep, e.g. for a 400 or a failed node. */
export function tooDeepMessage(what: string, pointer: string, maxDepth: number = MAX_JSON_DEPTH): string {
  return `${what} nests deeper than ${maxDepth} levels, at ${pointer}`;
}

interface Frame {
  readonly value: object;
  readonly depth: number;
  readonly parent: Frame | null;
  readonly key: string;
}

function pointerOf(frame: Frame): string {
  const keys: string[] = [];
  for (let at: Frame | null = frame; at?.parent; at = at.parent) {
    keys.push(at.key.replaceAll("~", "~0").replaceAll("/", "~1"));
  }
  return `/${keys.reverse().join("/")}`;
}
