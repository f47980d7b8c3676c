import { describe, expect, it } from "vitest";
import { runOp } from "./run-op.ts";

const normalize = async (text: string, options: { lowercase?: boolean; stripHtml?: boolean } = {}) =>
  ((await runOp("normalize_text", { text, ...options })) as { text: string }).text;

describe("normalize_text: Unicode NFKC", () => {
  it.each([
    ["ﬁne ﬂow", "fine flow"],
    ["１２３ ＡＢＣ", "123 ABC"],
    ["x² ½", "x2 1⁄2"],
    ["Ⅻ", "XII"],
    ["ｶﾀｶﾅ", "カタカナ"],
    ["e\u0301", "é"],
  ])("%j becomes %j", async (input, output) => {
    expect(await normalize(input)).toBe(output);
  });

  it("turns non-breaking and ideographic spaces into spaces that then collapse", async () => {
    expect(await normalize("a\u00a0\u00a0b\u3000c\u2009d")).toBe("a b c d");
  });
});

describe("normalize_text: white space", () => {
  it("collapses every run of white space to one space and trims", async () => {
    expect(await normalize("  one \n\n two\t\tthree \r\n")).toBe("one two three");
  });

  it("gives an empty string for empty or blank text", async () => {
    expect(await normalize("")).toBe("");
    expect(await normalize(" \n\t\u00a0 ")).toBe("");
  });
});

describe("normalize_text: lowercase", () => {
  it("keeps case by default", async () => {
    expect(await normalize("Big HOUSE")).toBe("Big HOUSE");
  });

  it("lowercases when asked, after NFKC", async () => {
    expect(await normalize("Big ＨＯＵＳＥ À", { lowercase: true })).toBe("big house à");
  });
});

describe("normalize_text: stripHtml", () => {
  it("leaves markup and entities alone by default", async () => {
    expect(await normalize("<b>bold</b> &amp; more")).toBe("<b>bold</b> &amp; more");
  });

  it("removes inline tags without splitting words", async () => {
    expect(
      await normalize("<b>wo</b>rd <a href='x'>link</a> <span class=\"c\">x</span>", { stripHtml: true }),
    ).toBe("word link x");
  });

  it.each([
    ["<p>Hello</p><p>World</p>", "Hello World"],
    ["line<br>break<br/>again<BR />end", "line break again end"],
    ["<div>one</div><div>two</div>", "one two"],
    ["<ul><li>a</li><li>b</li></ul>", "a b"],
    ["<table><tr><td>1</td><td>2</td></tr></table>", "1 2"],
    ["<h1>Title</h1>Body", "Title Body"],
  ])("treats block-level tags as white space: %j", async (input, output) => {
    expect(await normalize(input, { stripHtml: true })).toBe(output);
  });

  it("drops script and style elements with their contents, in any case", async () => {
    const html =
      "<p>a</p><script type='text/javascript'>if (x < 1) alert('<p>hi</p>');</script>" +
      "<STYLE>p { color: red }</STYLE><p>b</p>";
    expect(await normalize(html, { stripHtml: true })).toBe("a b");
  });

  it("drops an unclosed script to the end of the text", async () => {
    expect(await normalize("before<script>let secret = 1;", { stripHtml: true })).toBe("before");
  });

  it("drops comments, doctypes and processing instructions", async () => {
    const html = "<!DOCTYPE html><?xml version='1.0'?><!-- note: <b>x</b> -->text";
    expect(await normalize(html, { stripHtml: true })).toBe("text");
  });

  it("reads a quoted > inside an attribute as part of the tag", async () => {
    expect(await normalize('<a title="a > b" href="#">link</a>', { stripHtml: true })).toBe("link");
  });

  it("leaves a lone < that starts no tag", async () => {
    expect(await normalize("1 < 2 and 3 > 2", { stripHtml: true })).toBe("1 < 2 and 3 > 2");
  });

  it("decodes the common named entities", async () => {
    const text = await normalize("&amp; &lt; &gt; &quot; &apos; a&nbsp;b &copy; &euro; &hellip;", {
      stripHtml: true,
    });
    expect(text).toBe("& < > \" ' a b © € ...");
  });

  it("decodes decimal and hexadecimal numeric entities", async () => {
    expect(await normalize("&#65;&#x42;&#X43;&#233;&#x1F600;", { stripHtml: true })).toBe("ABCé😀");
  });

  it("replaces invalid numeric entities with U+FFFD", async () => {
    expect(await normalize("&#0; &#xD800; &#x110000;", { stripHtml: true })).toBe("\ufffd \ufffd \ufffd");
  });

  it("decodes after removing tags, so escaped markup stays literal text", async () => {
    expect(await normalize("<p>&lt;b&gt;not bold&lt;/b&gt;</p>", { stripHtml: true })).toBe(
      "<b>not bold</b>",
    );
  });

  it("decodes once: an escaped entity stays an entity", async () => {
    expect(await normalize("&amp;lt; &amp;amp;", { stripHtml: true })).toBe("&lt; &amp;");
  });

  it("leaves unknown entities as written, and decodes legacy ones without a semicolon as a browser does", async () => {
    expect(await normalize("&bogus; &#; &bogus", { stripHtml: true })).toBe("&bogus; &#; &bogus");
    expect(await normalize("&amp &lt 1 &copy 2024", { stripHtml: true })).toBe("& < 1 © 2024");
  });

  it("decodes every HTML named entity, not only the common ones", async () => {
    expect(await normalize("&sup2; &frac12; &Aring; &check; &NotEqualTilde;", { stripHtml: true })).toBe(
      "2 1⁄2 Å ✓ ≂̸",
    );
  });

  it("maps numeric entities in 0x80-0x9F as windows-1252, as browsers do", async () => {
    expect(await normalize("&#128; &#x93;quoted&#x94;", { stripHtml: true })).toBe("€ “quoted”");
  });

  it("applies NFKC before looking for tags, so full-width brackets make tags", async () => {
    expect(await normalize("＜b＞bold＜/b＞", { stripHtml: true })).toBe("bold");
  });

  it("applies NFKC to decoded entities too", async () => {
    expect(await normalize("&#xFB01;ne &#xFF11;", { stripHtml: true })).toBe("fine 1");
  });

  it("lowercases decoded text and collapses the white space the tags left", async () => {
    const html = "<div>\n  <p>ÀB&nbsp;&nbsp;CD</p>\n  <p>E</p>\n</div>";
    expect(await normalize(html, { stripHtml: true, lowercase: true })).toBe("àb cd e");
  });
});

describe("normalize_text: stripHtml reads markup as a browser does", () => {
  const strip = (html: string) => normalize(html, { stripHtml: true });

  it("keeps a <br> inside inline tags as a break between words", async () => {
    expect(await strip("<b>first<br>second</b> <i>third<br/></i>fourth")).toBe("first second third fourth");
  });

  it("reads nested tables cell by cell", async () => {
    const html =
      "<table><tr><td>a<table><tr><td>b</td><td>c</td></tr></table></td><td>d</td></tr></table>after";
    expect(await strip(html)).toBe("a b c d after");
  });

  it("closes unclosed and misnested tags as the HTML parser does", async () => {
    expect(await strip("<p>one<p>two<div><b>bold<i>both</b>italic</i></div>three")).toBe(
      "one two boldbothitalic three",
    );
    expect(await strip("<ul><li>a<li>b</ul><span>c")).toBe("a b c");
  });

  it("reads a '>' or markup inside a quoted attribute as part of the attribute", async () => {
    expect(await strip(`<a title="<p>not text</p>" data-x='a > b'>link</a> after`)).toBe("link after");
    expect(await strip(`<img alt="x &quot;>" src=y>text`)).toBe("text");
  });

  it("keeps the text of <noscript> and drops <template> contents", async () => {
    expect(
      await strip("<noscript><p>Enable scripts</p></noscript><template><p>hidden</p></template>ok"),
    ).toBe("Enable scripts ok");
  });

  it("keeps text that looks like a tag but is not one; a letter after < starts a tag", async () => {
    expect(await strip("a <3 b, 5 < 6 <> 7, x<y")).toBe("a <3 b, 5 < 6 <> 7, x");
  });

  it("reads a whole document, keeping the title and the body's text", async () => {
    const html =
      "<!DOCTYPE html><html><head><title>Flat</title><meta charset=utf-8><style>b{}</style></head>" +
      "<body><p>Sea view</p></body></html>";
    expect(await strip(html)).toBe("Flat Sea view");
  });

  it("handles deeply nested markup without overflowing the stack", async () => {
    const depth = 100_000;
    const html = `${"<span>".repeat(depth)}deep${"</span>".repeat(depth)}`;
    expect(await strip(html)).toBe("deep");
  });
});
