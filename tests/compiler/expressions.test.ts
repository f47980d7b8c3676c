import jsonata from "jsonata";
import { describe, expect, it } from "vitest";
import {
  ExpressionCache,
  JSONATA_FUNCTIONS,
  parseBatch,
  parseExpression,
  plainPath,
} from "../../compiler/expressions.ts";

const analyse = (source: string) => {
  const parsed = parseExpression(source);
  if (!parsed.ok) throw new Error(parsed.message);
  const { roots, nodes, relative, dynamicNodes } = parsed.analysis;
  return { roots: [...roots].sort(), nodes: [...nodes].sort(), relative: [...relative].sort(), dynamicNodes };
};

describe("expression analysis (the JSONata AST, not a regex)", () => {
  it("finds node references at the root", () => {
    expect(analyse("nodes.a.output.text & nodes.b.status").nodes).toEqual(["a", "b"]);
  });

  it("finds them in function arguments, conditions, blocks and lambdas", () => {
    const source =
      "( $x := $count(nodes.a.output); $x > 1 ? nodes.b.output : $map([1], function($v){ nodes.c.output }) )";
    expect(analyse(source).nodes).toEqual(["a", "b", "c"]);
  });

  it("finds them through $$ anywhere, predicates included", () => {
    expect(analyse("inputs.items[id = $$.nodes.pick.output.id]").nodes).toEqual(["pick"]);
  });

  it("does not take a field of the current item for a node reference", () => {
    const result = analyse("inputs.items[id = nodes.pick.output]");
    expect(result.nodes).toEqual([]);
    expect(result.relative).toEqual(["nodes"]);
  });

  it("does not count later path steps as roots", () => {
    expect(analyse("inputs.photos.{ 'url': url, 'n': nodes }").roots).toEqual(["inputs"]);
  });

  it("lists the context names read at the root", () => {
    expect(analyse("inputs.a & run.id & $string(item)").roots).toEqual(["inputs", "item", "run"]);
  });

  it("flags reads of nodes that name no node", () => {
    expect(analyse("$keys(nodes)").dynamicNodes).toBe(true);
    expect(analyse("nodes.*.output").dynamicNodes).toBe(true);
    expect(analyse("$keys($$)").dynamicNodes).toBe(true);
    expect(analyse("nodes.a.output").dynamicNodes).toBe(false);
  });

  it("returns JSONata's message and position for a syntax error", () => {
    expect(parseExpression("inputs.x +")).toEqual({
      ok: false,
      message: "Unexpected end of expression",
      position: 10,
    });
  });
});

describe("the plain-path shortcut agrees with JSONata's parser", () => {
  const viaParser = (source: string) => {
    const ast = jsonata(source).ast() as { type: string; steps?: { type: string; value: string }[] };
    return ast.type === "path" && ast.steps?.every((s) => s.type === "name" && !("stages" in s))
      ? ast.steps.map((s) => s.value)
      : undefined;
  };
  const samples = [
    "inputs",
    "inputs.tone",
    "nodes.draft.output.text",
    "nodes.a_1.status",
    "run.id",
    "item",
    "_x.y9",
    "nodes.and",
    "true",
    "null",
    "function",
    "inputs.in",
    "a.b.c.d.e.f",
    "inputs.x + 1",
    "$x",
    "inputs[0]",
    "inputs.`odd name`",
    "a..b",
  ];
  for (const source of samples) {
    it(source, () => {
      const shortcut = plainPath(source);
      if (shortcut !== undefined) expect(shortcut).toEqual(viaParser(source));
      if (shortcut !== undefined) expect(parseExpression(source)).toEqual(parseWithParserOnly(source));
    });
  }
});

function parseWithParserOnly(source: string) {
  // The same analysis, forced through the parser by wrapping the path in a block.
  const parsed = parseExpression(`(${source})`);
  return parsed;
}

describe("batched parsing gives exactly the results of parsing one by one", () => {
  const corpus = [
    "nodes.a.output.text & nodes.b.status",
    "$count(nodes.a.output) > 1 ? nodes.b.output : nodes.c.output",
    "inputs.items[id = $$.nodes.pick.output.id]",
    "inputs.items[id = nodes.pick.output]",
    "{ 'a': nodes.x.output, 'b': [1, 2, 3] }",
    "$keys(nodes)",
    "($x := 1; $x + nodes.y.output)",
    "function($v){ $v * 2 }(3)",
    "inputs.x +", // a syntax error
    "1; 2", // fine in a block, not alone
    "1), (2", // escapes its parentheses
    "'open string",
    "/* open comment",
    "a)(b",
    "%.x", // the parent operator
    "]",
    "inputs.photos.{ 'url': url }",
    '$match(inputs.t, /the "Landlord" isn\'t/)',
  ];

  it("for a batch that holds every kind of trouble", () => {
    const cache = new ExpressionCache();
    cache.prefetch(corpus);
    for (const source of corpus) expect(cache.parse(source), source).toEqual(parseExpression(source));
  });

  it("for batches of valid expressions, where the batch is used", () => {
    const valid = corpus.filter((source) => parseExpression(source).ok);
    const cache = new ExpressionCache();
    cache.prefetch(valid);
    for (const source of valid) expect(cache.parse(source), source).toEqual(parseExpression(source));
  });
});

describe("parseBatch", () => {
  it("accepts whole expressions, one per slot", () => {
    expect(parseBatch(["nodes.a.output", "{ 'k': [1, 2] }", "$x := 3"])).toHaveLength(3);
  });

  it("refuses text that escapes its slot or is not one expression", () => {
    expect(parseBatch(["1), (2", "3"])).toBeUndefined();
    expect(parseBatch(["'a", "b'"])).toBeUndefined();
    expect(parseBatch(["1 /*", "*/ 2"])).toBeUndefined();
    expect(parseBatch(["1; 2"])).toBeUndefined();
    expect(parseBatch(["%.x"])).toBeUndefined();
    expect(parseBatch(["inputs.x +"])).toBeUndefined();
  });
});

describe("JSONATA_FUNCTIONS", () => {
  it("names functions the JSONata in use has, each callable as $name", async () => {
    for (const name of JSONATA_FUNCTIONS)
      expect(await jsonata(`$type($${name})`).evaluate({}), name).toBe("function");
    expect(await jsonata("$type($contians)").evaluate({})).toBeUndefined();
  });

  it("finds the calls of an expression, not those of names it binds", () => {
    const parsed = parseExpression(
      "($f := function($x) { $uppercase($x) }; $f($trim(inputs.a)) & $contians('a'))",
    );
    expect(parsed.ok && [...parsed.analysis.calls.keys()].sort()).toEqual(["contians", "trim", "uppercase"]);
  });
});
