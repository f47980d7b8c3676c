/**
 * What the text around a number says about it: the guards that keep prices,
 * dates, times, codes and reference numbers out of redact_pii's phones and
 * cards. Each looks only a few characters either side of a span.
 */

/** Glued to a word or a code before it: "AB123…", "AB-123…", "12/123…", "1.912…" (but "tel.912…" is fine). */
export function gluedBefore(text: string, start: number): boolean {
  const before = text.slice(Math.max(0, start - 2), start);
  return /[\p{L}\p{N}_]$/u.test(before) || /[\p{L}\p{N}][-/]$/u.test(before) || /\p{N}[.,:]$/u.test(before);
}

/** Glued to a word after it, or the start of a time, decimal or longer code: "…78X", "…78:30", "…78,50", "…78-1". */
export function gluedAfter(text: string, end: number): boolean {
  const after = text.slice(end, end + 2);
  return /^[\p{L}\p{N}_]/u.test(after) || /^[-.,:/]\p{N}/u.test(after);
}

const CURRENCY = String.raw`(?:[$€£¥₹¢]|\b(?:EUR|USD|GBP|CHF|JPY|BRL|AUD|CAD|SEK|NOK|DKK|PLN|CZK|euros?|dollars?|d[oó]lares|pounds?|libras?|k€|M€)\b)`;
const CURRENCY_BEFORE = new RegExp(`${CURRENCY}\\s?$`, "iu");
// "845.000,- €", "645.000,00 €": the amount's decimals come between it and the currency.
const CURRENCY_AFTER = new RegExp(`^(?:,-|,\\d{1,2})?\\s?${CURRENCY}`, "iu");

/** "EUR 250 000 000", "645 000 €", "912 345 euros": an amount, however phone-like its digits. */
export function nearCurrency(text: string, start: number, end: number): boolean {
  return (
    CURRENCY_BEFORE.test(text.slice(Math.max(0, start - 8), start)) ||
    CURRENCY_AFTER.test(text.slice(end, end + 8))
  );
}

/** A calendar date with a four-digit year, either way round: 2024-05-01, 01.05.2024, 1/5/2024. */
const DATE =
  /(?:^|\D)(?:(?:19|20)\d\d([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])|(?:0?[1-9]|[12]\d|3[01])([-./])(?:0?[1-9]|1[0-2])\2(?:19|20)\d\d)(?:\D|$)/;

export function containsDate(candidate: string): boolean {
  return DATE.test(candidate);
}

/**
 * Words that label the number after them as a reference, not a phone number or
 * a card: "Ref. 100234567", "NIF: 234 567 891", "Encomenda nº 912 345 678",
 * "Rechnung Nr. 0151 2345 6789". In the five languages of the corpus and then some.
 */
const REFERENCE_WORDS = [
  "ref",
  "refs",
  "reference",
  "referência",
  "referencia",
  "référence",
  "referenz",
  "réf",
  "cpi",
  "order",
  "encomenda",
  "pedido",
  "commande",
  "bestellung",
  "auftrag",
  "contrato",
  "contract",
  "contrat",
  "vertrag",
  "invoice",
  "factura",
  "fatura",
  "facture",
  "rechnung",
  "dossier",
  "expediente",
  "processo",
  "proceso",
  "aktenzeichen",
  "kundennummer",
  "customer",
  "cliente",
  "client",
  "nif",
  "nie",
  "nipc",
  "dni",
  "vat",
  "tva",
  "iva",
  "siret",
  "siren",
  "steuernummer",
  "steuer-id",
  "matrícula",
  "matricula",
  "licence",
  "license",
  "licencia",
  "licença",
  "ami",
  "lote",
  "lot",
  "id",
  "código",
  "codigo",
  "code",
  "entidade",
  "cadastral",
  "catastral",
  "artigo",
  "tracking",
  "ticket",
  "case",
  "caso",
  "objekt",
  "objektnummer",
  "inserat",
  "anúncio",
  "anuncio",
  "annonce",
  "listing",
  "mandat",
  "mandate",
  "folio",
  "registo",
  "registro",
  "serial",
  "série",
  "serie",
  "account",
  "conta",
  "cuenta",
  "compte",
  "konto",
  "nib",
  "policy",
  "apólice",
  "póliza",
  "police",
  "versicherungsnummer",
];
/** Words that label a phone number: they win over a "nº" between them and the number ("Tel. nº 912…"). */
const PHONE_WORDS = [
  "tel",
  "tél",
  "telf",
  "tlf",
  "tlm",
  "telefone",
  "telemóvel",
  "telemovel",
  "teléfono",
  "telefono",
  "téléphone",
  "telephone",
  "telefon",
  "phone",
  "mobile",
  "móvil",
  "movil",
  "portable",
  "portátil",
  "handy",
  "mobil",
  "mobilnummer",
  "telefonnummer",
  "whatsapp",
  "fax",
  "cell",
  "contacto",
  "contact",
];
const REFERENCE = new Set(REFERENCE_WORDS);
const PHONE = new Set(PHONE_WORDS);
/** An abbreviated number sign: "nº", "n.º", "N°", "No.", "Nr.", "núm.", "#". On its own it says "reference". */
const NUMBER_SIGN = /(?:(?<![\p{L}\p{N}])(?:n\.?\s?[º°]|no\.|nr\.|nro\.|núm\.|num\.)|#)[\s:]*$/iu;
/** Words between a label and its number that say nothing themselves: "número", "number", "de", "du". */
const FILLERS = new Set([
  "número",
  "numero",
  "numéro",
  "number",
  "nummer",
  "de",
  "do",
  "da",
  "du",
  "del",
  "of",
  "the",
  "o",
  "a",
  "el",
  "le",
  "la",
]);
const LAST_WORD = /([\p{L}][\p{L}\p{N}-]*)[\s:.,()#º°ª-]*$/u;

/**
 * Labelled as a reference by the words just before it (see REFERENCE_WORDS),
 * or by a bare number sign ("nº 912 345 678"); a phone word wins ("Tel. nº …").
 */
export function labelledReference(text: string, start: number): boolean {
  let before = text.slice(Math.max(0, start - 48), start);
  const sign = NUMBER_SIGN.exec(before);
  if (sign !== null) before = before.slice(0, sign.index);
  for (let words = 0; words < 3; words++) {
    const match = LAST_WORD.exec(before);
    const word = match?.[1]?.toLowerCase();
    if (match === null || word === undefined) break;
    if (PHONE.has(word)) return false;
    if (REFERENCE.has(word)) return true;
    if (!FILLERS.has(word)) break;
    before = before.slice(0, match.index);
  }
  return sign !== null;
}
