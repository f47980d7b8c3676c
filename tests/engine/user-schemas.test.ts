import { describe, expect, it } from "vitest";
import { UserSchemas } from "../../engine/user-schemas.ts";

describe("user schemas", () => {
  it("two different schemas that share an $id do not collide", () => {
    const schemas = new UserSchemas();
    expect(schemas.validate({ $id: "https://example.com/out.json", type: "string" }, "a")).toEqual([]);
    expect(schemas.validate({ $id: "https://example.com/out.json", type: "number" }, "a")).toEqual([
      { path: "/", message: "must be number" },
    ]);
  });
});
