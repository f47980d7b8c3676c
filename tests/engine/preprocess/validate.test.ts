import { describe, expect, it } from "vitest";
import { compileUserSchema } from "../../../engine/preprocess/user-schemas.ts";
import { validate } from "../../../engine/preprocess/validate.ts";
import { runOp } from "./run-op.ts";

const signal = new AbortController().signal;

const PERSON = {
  type: "object",
  required: ["id", "name"],
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    age: { type: "integer", minimum: 0 },
    email: { type: "string", format: "email" },
    role: { enum: ["agent", "owner"] },
  },
  additionalProperties: false,
};

describe("validate: data that fits", () => {
  it("returns the data itself", () => {
    const data = { id: "p1", name: "Ana", age: 40 };
    expect(validate.run({ data, schema: PERSON }, signal)).toBe(data);
  });

  it("returns the data through the registry", async () => {
    expect(
      await runOp("validate", { data: [1, 2], schema: { type: "array", items: { type: "integer" } } }),
    ).toEqual([1, 2]);
    expect(await runOp("validate", { data: null, schema: true })).toBeNull();
  });

  it("knows the ajv-formats formats", async () => {
    const data = { id: "p1", name: "Ana", email: "ana@example.com" };
    expect(await runOp("validate", { data, schema: PERSON })).toEqual(data);
    await expect(
      runOp("validate", { data: { ...data, email: "not an address" }, schema: PERSON }),
    ).rejects.toThrow(/\/email must match format "email"/);
  });

  it("does not fill in the schema's defaults", async () => {
    const schema = { type: "object", properties: { tone: { type: "string", default: "neutral" } } };
    expect(await runOp("validate", { data: {}, schema })).toEqual({});
  });

  it("accepts unknown keywords and formats (not strict)", async () => {
    const schema = { type: "string", "x-label": "Name", format: "listing-id" };
    expect(await runOp("validate", { data: "L-1", schema })).toBe("L-1");
  });

  it("resolves $ref to $defs, also in a schema with an $id", async () => {
    const schema = {
      $id: "https://example.com/price.json",
      $defs: { money: { type: "number", minimum: 0 } },
      type: "object",
      properties: { price: { $ref: "#/$defs/money" } },
    };
    expect(await runOp("validate", { data: { price: 10 }, schema })).toEqual({ price: 10 });
    await expect(runOp("validate", { data: { price: -1 }, schema })).rejects.toThrow(/\/price must be >= 0/);
  });
});

describe("validate: data that does not fit", () => {
  it("fails non-retryably with code validation, listing every violation", async () => {
    const data = { name: 7, age: -1, role: "tenant", extra: true };
    const failure = runOp("validate", { data, schema: PERSON });
    await expect(failure).rejects.toMatchObject({ code: "validation", retryable: false });
    const message = await failure.then(
      () => "",
      (error: Error) => error.message,
    );
    expect(message).toContain("5 violations");
    expect(message).toContain("(root) must have required property 'id'");
    expect(message).toContain('(root) must NOT have additional properties ("extra")');
    expect(message).toContain("/name must be string");
    expect(message).toContain("/age must be >= 0");
    expect(message).toContain('/role must be equal to one of the allowed values: "agent", "owner"');
  });

  it("says violation for one", async () => {
    await expect(runOp("validate", { data: "x", schema: { type: "number" } })).rejects.toThrow(
      /\(1 violation\): \(root\) must be number$/,
    );
  });

  it("names the instance path of nested violations", async () => {
    const schema = { type: "array", items: { type: "object", properties: { n: { const: 1 } } } };
    await expect(runOp("validate", { data: [{ n: 1 }, { n: 2 }], schema })).rejects.toThrow(
      "/1/n must be equal to constant: 1",
    );
  });

  it("rejects everything against the false schema", async () => {
    await expect(runOp("validate", { data: {}, schema: false })).rejects.toMatchObject({
      code: "validation",
    });
  });
});

describe("validate: the schema", () => {
  it("is op-arguments when it is not a valid JSON Schema", async () => {
    const failure = runOp("validate", { data: 1, schema: { type: "strng" } });
    await expect(failure).rejects.toMatchObject({ code: "op-arguments", retryable: false });
    await expect(failure).rejects.toThrow(/validate: schema is not a valid JSON Schema/);
  });

  it("is op-arguments when a $ref does not resolve", async () => {
    await expect(runOp("validate", { data: 1, schema: { $ref: "#/$defs/missing" } })).rejects.toMatchObject({
      code: "op-arguments",
    });
  });

  it("must be an object or a boolean", async () => {
    await expect(runOp("validate", { data: 1, schema: "number" })).rejects.toMatchObject({
      code: "op-arguments",
    });
  });

  it("is compiled once per distinct JSON text", () => {
    const schema = { type: "object", properties: { cached: { type: "boolean" } } };
    expect(compileUserSchema(structuredClone(schema))).toBe(compileUserSchema(structuredClone(schema)));
    expect(compileUserSchema({ type: "string", minLength: 2 })).not.toBe(compileUserSchema(schema));
  });

  it("may share its $id with another schema, or with the meta-schema", async () => {
    const id = "https://example.com/shared.json";
    expect(await runOp("validate", { data: "a", schema: { $id: id, type: "string" } })).toBe("a");
    expect(await runOp("validate", { data: 1, schema: { $id: id, type: "number" } })).toBe(1);
    const meta = { $id: "https://json-schema.org/draft/2020-12/schema", type: "boolean" };
    expect(await runOp("validate", { data: true, schema: meta })).toBe(true);
    expect(await runOp("validate", { data: 2, schema: { type: "integer" } })).toBe(2);
  });

  it("keeps validating correctly past the cache's capacity", () => {
    const schemaFor = (n: number) => ({ type: "integer", minimum: n, maximum: n });
    for (let n = 0; n < 1_200; n++) {
      const check = compileUserSchema(schemaFor(n));
      expect(check(n)).toBe(true);
      expect(check(n + 1)).toBe(false);
    }
    expect(compileUserSchema(schemaFor(3))(3)).toBe(true);
    expect(compileUserSchema(schemaFor(1_199))(1_199)).toBe(true);
  });
});
