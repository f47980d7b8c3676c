/**
 * The text of an HTML fragment, for normalize_text's `stripHtml`: good enough for
 * the markup found in listings and e-mails, not a full HTML parser.
 *
 * - Comments, doctypes and processing instructions go.
 * - <script> and <style> go with their contents: code and CSS are not text. An
 *   unclosed one runs to the end of the input, as it does in a browser.
 * - Block-level tags (<br>, <p>, </div>, <li>, table cells, headings, ...) become
 *   a space so the words on either side stay apart; inline tags (<b>, <a>, <span>)
 *   go without a trace so "<b>wo</b>rd" stays "word".
 * - Entities are decoded after the tags are gone, in one pass, so "&lt;b&gt;" is
 *   the literal text "<b>" and "&amp;lt;" is "&lt;". An entity needs its closing
 *   semicolon; an unknown one is left as written.
 */
export function htmlToText(html: string): string {
  const withoutTags = html
    .replace(/<!--[\s\S]*?(?:-->|$)/g, "")
    .replace(/<(script|style)\b[^>]*>[\s\S]*?(?:<\/\1\s*>|$)/gi, "")
    .replace(/<![^>]*>|<\?[^>]*>/g, "")
    .replace(TAG, (_tag, name: string) => (BLOCK_ELEMENTS.has(name.toLowerCase()) ? " " : ""));
  return decodeEntities(withoutTags);
}

/** An opening or closing tag; attribute values may hold ">" inside quotes. */
const TAG = /<\/?([a-zA-Z][a-zA-Z0-9-]*)(?:[^>"']|"[^"]*"|'[^']*')*>/g;

const BLOCK_ELEMENTS = new Set([
  "address",
  "article",
  "aside",
  "blockquote",
  "br",
  "dd",
  "div",
  "dl",
  "dt",
  "figcaption",
  "figure",
  "footer",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "header",
  "hr",
  "li",
  "main",
  "nav",
  "ol",
  "p",
  "pre",
  "section",
  "table",
  "tbody",
  "td",
  "tfoot",
  "th",
  "thead",
  "tr",
  "ul",
]);

/** The named entities seen in practice; the full HTML list has over 2,000. */
const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  copy: "©",
  reg: "®",
  trade: "™",
  euro: "€",
  pound: "£",
  yen: "¥",
  cent: "¢",
  sect: "§",
  deg: "°",
  plusmn: "±",
  times: "×",
  divide: "÷",
  middot: "·",
  bull: "•",
  hellip: "…",
  ndash: "–",
  mdash: "—",
  lsquo: "‘",
  rsquo: "’",
  sbquo: "‚",
  ldquo: "“",
  rdquo: "”",
  bdquo: "„",
  laquo: "«",
  raquo: "»",
  shy: "\u00ad",
  ensp: "\u2002",
  emsp: "\u2003",
  thinsp: "\u2009",
  zwnj: "\u200c",
  zwj: "\u200d",
};

const ENTITY = /&(?:#(\d+)|#[xX]([0-9a-fA-F]+)|([a-zA-Z][a-zA-Z0-9]*));/g;

export function decodeEntities(text: string): string {
  return text.replace(ENTITY, (entity, decimal?: string, hex?: string, name?: string) => {
    if (name !== undefined) return NAMED_ENTITIES[name] ?? entity;
    return fromCodePoint(
      decimal === undefined ? Number.parseInt(hex ?? "", 16) : Number.parseInt(decimal, 10),
    );
  });
}

/** As HTML does: NUL, surrogates and numbers past Unicode become U+FFFD. */
function fromCodePoint(code: number): string {
  const invalid = code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff);
  return String.fromCodePoint(invalid ? 0xfffd : code);
}
