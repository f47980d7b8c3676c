import { type Document, isAlias, isCollection, isPair, isScalar, type Node as YamlNode } from "yaml";

/**
 * What a composed YAML document would become once its aliases are expanded,
 * measured without expanding it: each alias counts the size of the node it
 * refers to, which was measured when the walk passed its anchor (YAML anchors
 * come before their aliases), so the walk is linear in the document as written
 * however far the aliases multiply it. Checked before `toJS`, the step that
 * expands: a 1 MB string aliased 99 times is refused here, not after 100 MB
 * were built.
 */
export interface Expansion {
  /** Nodes of the expanded value: mappings, sequences, scalars, keys included. */
  readonly nodes: number;
  /** Characters of its scalars (keys included), plus one per node. */
  readonly bytes: number;
}

/** An alias that refers to a node containing it would expand forever. */
export class SelfReferencingAlias extends Error {
  readonly offset: number;
  constructor(anchor: string, offset: number) {
    super(`the alias *${anchor} refers to a node that contains it`);
    this.offset = offset;
  }
}

export function measureExpansion(doc: Document.Parsed): Expansion {
  const anchors = new Map<string, Expansion | "open">();
  // Recursion follows the document's nesting, which the lexer already bounded
  // (YamlLimits.maxDepth); an alias is a table lookup, not a descent.
  const measure = (node: unknown): Expansion => {
    if (node === null || node === undefined) return ZERO;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === "open") throw new SelfReferencingAlias(node.source, node.range?.[0] ?? 0);
      return target ?? ZERO; // an undefined alias is yaml's own error, reported already
    }
    if (isPair(node)) return sum(measure(node.key), measure(node.value));
    const anchor = (node as YamlNode).anchor;
    if (anchor) anchors.set(anchor, "open");
    let size: Expansion;
    if (isScalar(node)) {
      const value = node.value;
      const chars = typeof value === "string" ? value.length : (node.source?.length ?? 4);
      size = { nodes: 1, bytes: chars + 1 };
    } else if (isCollection(node)) {
      let nodes = 1;
      let bytes = 1;
      for (const item of node.items) {
        const child = measure(item);
        nodes += child.nodes;
        bytes += child.bytes;
      }
      size = { nodes, bytes };
    } else {
      size = ZERO;
    }
    if (anchor) anchors.set(anchor, size);
    return size;
  };
  return measure(doc.contents);
}

const ZERO: Expansion = { nodes: 0, bytes: 0 };

function sum(a: Expansion, b: Expansion): Expansion {
  return { nodes: a.nodes + b.nodes, bytes: a.bytes + b.bytes };
}
