import { type DefaultTreeAdapterTypes, parseFragment } from "parse5";

/**
 * The text of an HTML fragment, for normalize_text's `stripHtml`. The markup is
 * parsed by parse5, which follows the HTML standard's parsing algorithm, so
 * malformed markup, unclosed or misnested tags, nested tables, raw-text
 * elements and entities (in text and in attribute values) come out as a
 * browser would read them. On the tree it builds, our rules:
 *
 * - Comments, doctypes and processing instructions are not text.
 * - <script>, <style> and <template> go with their contents: code, CSS and
 *   inert markup are not text. An unclosed <script> runs to the end of the
 *   input, as it does in a browser. Scripting is taken as off, so <noscript>
 *   holds markup whose text is kept (what a reader without scripts sees).
 * - Block-level elements (<br>, <p>, <div>, <li>, table cells, headings, ...)
 *   are surrounded by a space, so the words on either side stay apart; inline
 *   elements (<b>, <a>, <span>) add nothing, so "<b>wo</b>rd" stays "word".
 * - Entities are decoded as the parser reads them, once: "&lt;b&gt;" is the
 *   literal text "<b>" and "&amp;lt;" is "&lt;". Unknown ones stay as written;
 *   like a browser, the legacy ones are decoded without their semicolon
 *   ("&amp " is "& ").
 *
 * The tree is walked with an explicit stack: deeply nested markup cannot
 * overflow the call stack.
 */
export function htmlToText(html: string): string {
  const fragment = parseFragment(html, { scriptingEnabled: false });
  const parts: string[] = [];
  // Nodes to visit, last first; a string is text already decided (a block's closing space).
  const stack: (ChildNode | string)[] = [...fragment.childNodes].reverse();
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item === "string") {
      parts.push(item);
    } else if (item.nodeName === "#text") {
      parts.push((item as DefaultTreeAdapterTypes.TextNode).value);
    } else if ("tagName" in item && !SKIPPED_ELEMENTS.has(item.tagName)) {
      const block = BLOCK_ELEMENTS.has(item.tagName);
      if (block) {
        parts.push(" ");
        stack.push(" ");
      }
      for (let i = item.childNodes.length - 1; i >= 0; i--) stack.push(item.childNodes[i] as ChildNode);
    }
  }
  return parts.join("");
}

type ChildNode = DefaultTreeAdapterTypes.ChildNode;

const SKIPPED_ELEMENTS: ReadonlySet<string> = new Set(["script", "style", "template"]);

/** The HTML elements a browser lays out as blocks (or line breaks): their edges separate words. */
const BLOCK_ELEMENTS: ReadonlySet<string> = new Set([
  "address",
  "article",
  "aside",
  "blockquote",
  "br",
  "caption",
  "dd",
  "details",
  "dialog",
  "div",
  "dl",
  "dt",
  "fieldset",
  "figcaption",
  "figure",
  "footer",
  "form",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "header",
  "hgroup",
  "hr",
  "legend",
  "li",
  "main",
  "menu",
  "nav",
  "ol",
  "option",
  "p",
  "pre",
  "search",
  "section",
  "summary",
  "table",
  "tbody",
  "td",
  "tfoot",
  "th",
  "thead",
  "title",
  "tr",
  "ul",
]);
