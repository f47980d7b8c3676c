import { parseDocument } from "yaml";
import type { AliasField } from "./documents.ts";

/**
 * Changes to a registered Model document made by the registry itself (an
 * alias moved over the API, a canary rolled back by canary analysis), written
 * into its YAML so its comments and layout survive: the registry serves the
 * YAML that is in effect, and a person reads it.
 */

/** The document with `alias` replaced as a whole (or added). */
export function withAlias(source: string, alias: string, target: AliasField): string {
  const document = parseDocument(source);
  document.setIn(["spec", "aliases", alias], target);
  return String(document);
}

/** The document with the canary of `alias` removed, the rest of the alias as it was. */
export function withoutCanary(source: string, alias: string): string {
  const document = parseDocument(source);
  document.deleteIn(["spec", "aliases", alias, "canary"]);
  return String(document);
}
