/**
 * normalize_text's stripHtml throughput: listing-style HTML fragments (a few
 * paragraphs, a feature list, a table of rooms, inline links and emphasis,
 * entities, a script and a style block), about 2 KB each, converted to text
 * one at a time as a run does. Prints KB/s over several rounds (the best round,
 * so a busy neighbour on the machine skews it less).
 *
 * Run: npm run bench:html
 */
import { performance } from "node:perf_hooks";
import { htmlToText } from "../engine/preprocess/html-text.ts";

function listing(i: number): string {
  return `<div class="listing" data-id="${i}" title="a &gt; b">
<h2>T${i % 5} apartment &ndash; Rua Augusta ${i}, Lisboa</h2>
<p>Bright <b>${2 + (i % 3)}-bedroom</b> flat with <a href="https://example.com/l/${i}?a=1&amp;b=2">sea view</a>,
recently <i>renovated</i> in 20${10 + (i % 15)}. Asking &euro;&nbsp;${400 + i}&#8239;000.</p>
<ul><li>${80 + (i % 90)} m&sup2; gross area</li><li>Lift &amp; parking</li><li>Energy class B<br>certificate 2024</li></ul>
<table><tr><th>Room</th><th>Area</th></tr><tr><td>Living</td><td>32 m&sup2;</td></tr>
<tr><td>Kitchen</td><td>14 m&sup2;</td></tr><tr><td>Bedroom</td><td>${12 + (i % 6)} m&sup2;</td></tr></table>
<!-- agent note: keys at the office -->
<script>window.dataLayer = window.dataLayer || []; dataLayer.push({ id: ${i} });</script>
<style>.listing { color: #333 } .listing a { color: blue }</style>
<p>Contact the agency &mdash; viewings <span class="x">Mon&ndash;Fri</span>, 9:00&ndash;18:00.
&laquo;A rare find&raquo; says our agent. Unclosed <b>bold<p>next paragraph</div>
<p>${"Spacious rooms, high ceilings and original tiles. ".repeat(8)}</p>`;
}

const DOCUMENTS = Array.from({ length: 500 }, (_, i) => listing(i));
const BYTES = DOCUMENTS.reduce((n, d) => n + Buffer.byteLength(d), 0);
const ROUNDS = 8;

let best = Number.POSITIVE_INFINITY;
let sink = 0;
for (let round = 0; round < ROUNDS; round++) {
  const started = performance.now();
  for (const document of DOCUMENTS) sink += htmlToText(document).length;
  best = Math.min(best, performance.now() - started);
}
const kbPerSecond = BYTES / 1024 / (best / 1000);
console.log(
  `stripHtml: ${DOCUMENTS.length} documents, ${(BYTES / 1024).toFixed(0)} KB, best of ${ROUNDS} rounds ` +
    `${best.toFixed(1)} ms: ${kbPerSecond.toFixed(0)} KB/s (${((DOCUMENTS.length / best) * 1000).toFixed(0)} documents/s)` +
    ` [${sink > 0 ? "ok" : "empty"}]`,
);
