import { describe, expect, it } from "vitest";
import { runOp } from "./run-op.ts";

const parse = (text: string) => runOp("json_parse", { text });

/** JSON.parse's own message for `text`. */
function parseMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} parses`);
}

describe("json_parse: plain JSON", () => {
  it.each([
    ['{"a":1,"b":[true,null,"x"]}', { a: 1, b: [true, null, "x"] }],
    ["[1, 2, 3]", [1, 2, 3]],
    ['"text"', "text"],
    ["42", 42],
    ["null", null],
    ['  \n {"padded": true} \n ', { padded: true }],
    ['{"code": "```json\\n{}\\n```"}', { code: "```json\n{}\n```" }],
  ])("parses %j", async (text, value) => {
    expect(await parse(text)).toEqual(value);
  });
});

describe("json_parse: a surrounding Markdown code fence", () => {
  it.each([
    ['```json\n{"a": 1}\n```', { a: 1 }],
    ['```JSON\n{"a": 1}\n```', { a: 1 }],
    ["```\n[1, 2]\n```", [1, 2]],
    ['\n\n  ```json\n{"a": 1}\n```  \n', { a: 1 }],
    ['```json\r\n{"a": 1}\r\n```', { a: 1 }],
    ['```json\n{"a": 1}```', { a: 1 }],
    ['````json\n{"a": "```"}\n````', { a: "```" }],
    ['```{"inline": true}```', { inline: true }],
    ["```true```", true],
    ['```json\n{\n  "nested": {\n    "list": [1, 2]\n  }\n}\n```', { nested: { list: [1, 2] } }],
  ])("takes off the fence of %j", async (text, value) => {
    expect(await parse(text)).toEqual(value);
  });

  it.each([
    'Here is the JSON:\n```json\n{"a": 1}\n```',
    '```json\n{"a": 1}\n```\nHope this helps!',
    '```json\n{"a": 1}',
  ])("does not look for a fence among other text: %j", async (text) => {
    await expect(parse(text)).rejects.toMatchObject({ code: "json-parse" });
  });
});

describe("json_parse: malformed JSON", () => {
  it("fails non-retryably with JSON.parse's message and the start of the input", async () => {
    const text = "{'single': 'quotes'}";
    const failure = parse(text);
    await expect(failure).rejects.toMatchObject({ code: "json-parse", retryable: false });
    await expect(failure).rejects.toThrow(parseMessage(text));
    await expect(failure).rejects.toThrow(text);
  });

  it("quotes only the first 80 characters of a long input", async () => {
    const text = `{"key": ${"1".repeat(70)}, oops ${"z".repeat(200)}}`;
    const message = await parse(text).then(
      () => "",
      (error: Error) => error.message,
    );
    expect(message).toContain(text.slice(0, 80));
    expect(message).not.toContain(text.slice(0, 81));
    expect(message).toContain(parseMessage(text));
  });

  it("counts the 80 characters in code points", async () => {
    const text = `${"😀".repeat(100)}`;
    const message = await parse(text).then(
      () => "",
      (error: Error) => error.message,
    );
    expect(message).toContain("😀".repeat(80));
    expect(message).not.toContain("😀".repeat(81));
    // JSON.parse's own message may hold half a pair; the quoted start of the input may not.
    expect(message.slice(message.lastIndexOf("it begins: ")).isWellFormed()).toBe(true);
  });

  it("fails on empty and blank text", async () => {
    await expect(parse("")).rejects.toMatchObject({ code: "json-parse" });
    await expect(parse("```json\n\n```")).rejects.toMatchObject({ code: "json-parse" });
  });

  it("fails on trailing content after the value", async () => {
    await expect(parse('{"a": 1} {"b": 2}')).rejects.toMatchObject({ code: "json-parse" });
  });
});
