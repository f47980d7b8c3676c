/**
 * Writes bench/pii/corpus.tsv, the labelled corpus redact_pii is measured on:
 * short texts in the styles of listings, agent notes, e-mails and lease
 * clauses, in Portuguese, Spanish, English, French and German, each piece of
 * personal data marked `[[kind:text]]` and each number that is not personal
 * data marked `{{kind:text}}` (price, area, postcode, date, time, reference,
 * year, id). See corpus.ts for the format.
 *
 * Generated from the templates below with a seeded random generator, so the
 * file is the same on every run (a test checks it is up to date). No real
 * person's data: names are drawn from first and last name lists, e-mail
 * domains are example.* ones, phone numbers are random numbers in the ranges
 * each country allocates (mobiles, big-city landlines), IBANs and card numbers
 * are random with their check digits computed.
 *
 * Run: node bench/pii/generate-corpus.ts
 */
import { writeFileSync } from "node:fs";
import { composeIBAN, isValidIBAN } from "ibantools";
import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { luhn } from "../../engine/preprocess/pii/card.ts";

export const CORPUS_PATH = new URL("./corpus.tsv", import.meta.url);
export const LANGUAGES = ["pt", "es", "en", "fr", "de"] as const;
export type Language = (typeof LANGUAGES)[number];
const STYLES = ["listing", "note", "email", "lease"] as const;
type Style = (typeof STYLES)[number];
const TEXTS_PER_TEMPLATE = 7;

/** mulberry32: a small seeded generator, so the corpus is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let random = seeded(16);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(random() * 10)).join("");
const between = (low: number, high: number): number => low + Math.floor(random() * (high - low + 1));
const chance = (p: number): boolean => random() < p;

// ---- phone numbers: [national digits, how to write it nationally, internationally] per country ----

type Country = "PT" | "ES" | "GB" | "FR" | "DE" | "US";
const CALLING_CODE: Record<Country, string> = { PT: "351", ES: "34", GB: "44", FR: "33", DE: "49", US: "1" };

/** A random number in an allocated range, its digits as dialled nationally (with the trunk 0 where there is one). */
function nationalDigits(country: Country): string {
  switch (country) {
    case "PT":
      return pick(["91", "92", "93", "96", "21", "22"]) + digits(7);
    case "ES":
      return pick(["6", "6", "7"]) + (chance(0.5) ? String(between(10, 99)) : `1${digits(1)}`) + digits(6);
    case "GB":
      return chance(0.5)
        ? `07${pick(["4", "5", "7", "8", "9"])}${digits(8)}`
        : pick([
            `020${pick(["7", "8"])}${digits(7)}`,
            `0161${between(2, 9)}${digits(6)}`,
            `0131${between(2, 6)}${digits(6)}`,
          ]);
    case "FR":
      return `0${pick(["6", "7", "1", "4", "5"])}${between(1, 9)}${digits(7)}`;
    case "DE":
      return pick([
        `015${pick(["1", "2", "7", "9"])}${digits(8)}`,
        `017${between(0, 9)}${digits(7)}`,
        `030${between(2, 9)}${digits(6)}`,
        `089${between(2, 9)}${digits(7)}`,
        `040${between(2, 9)}${digits(7)}`,
      ]);
    case "US":
      return `${pick(["212", "415", "617", "305", "312", "646", "202", "718"])}${between(2, 9)}${digits(2)}${digits(4)}`;
  }
}

const group = (text: string, sizes: readonly number[], separator = " "): string => {
  const parts: string[] = [];
  let at = 0;
  for (const size of sizes) {
    parts.push(text.slice(at, at + size));
    at += size;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts.filter((p) => p !== "").join(separator);
};

/** How people write `national` at home. */
function writeNational(country: Country, national: string): string {
  switch (country) {
    case "PT":
      return pick([
        national,
        group(national, [3, 3, 3]),
        group(national, [2, 3, 2, 2]),
        group(national, [2, 3, 4]),
      ]);
    case "ES":
      return pick([
        national,
        group(national, [3, 3, 3]),
        group(national, [3, 2, 2, 2]),
        group(national, [2, 3, 2, 2]),
      ]);
    case "GB":
      return national.startsWith("07")
        ? pick([group(national, [5, 6]), national, group(national, [5, 3, 3])])
        : national.startsWith("020")
          ? pick([group(national, [3, 4, 4]), `(020) ${group(national.slice(3), [4, 4])}`])
          : group(national, [4, 3, 4]);
    case "FR":
      return pick([group(national, [2, 2, 2, 2, 2]), group(national, [2, 2, 2, 2, 2], "."), national]);
    case "DE": {
      const area = national.startsWith("01") ? 4 : 3;
      return pick([
        group(national, [area]),
        group(national, [area], "/"),
        `(${national.slice(0, area)}) ${national.slice(area)}`,
        group(national, [area], " - "),
        `${national.slice(0, area)} ${group(national.slice(area), [3])}`,
      ]);
    }
    case "US":
      return pick([
        `(${national.slice(0, 3)}) ${national.slice(3, 6)}-${national.slice(6)}`,
        group(national, [3, 3], "-"),
        group(national, [3, 3], "."),
        `1-${group(national, [3, 3], "-")}`,
      ]);
  }
}

/** How people write it for someone abroad. */
function writeInternational(country: Country, national: string): string {
  const code = CALLING_CODE[country];
  const subscriber = national.startsWith("0") ? national.slice(1) : national;
  const plus = pick([`+${code}`, `+${code}`, `00${code}`, `(+${code})`]);
  switch (country) {
    case "PT":
    case "ES":
      return pick([
        `${plus} ${group(subscriber, [3, 3, 3])}`,
        `${plus}${subscriber}`,
        `+${code}-${group(subscriber, [2, 3, 4], "-")}`,
      ]);
    case "GB":
      return pick([
        `${plus} ${group(subscriber, [4, 6])}`,
        `+44 (0)${group(subscriber, [2, 4, 4])}`,
        `+44${subscriber}`,
      ]);
    case "FR":
      return pick([
        `${plus} ${group(subscriber, [1, 2, 2, 2, 2])}`,
        `+33 (0)${group(subscriber, [1, 2, 2, 2, 2])}`,
      ]);
    case "DE":
      return pick([
        `${plus} ${group(subscriber, [subscriber.startsWith("1") ? 3 : 2])}`,
        `+49 (0)${group(subscriber, [subscriber.startsWith("1") ? 3 : 2])}`,
      ]);
    case "US":
      return pick([
        `+1 ${group(subscriber, [3, 3, 4])}`,
        `+1 (${subscriber.slice(0, 3)}) ${subscriber.slice(3, 6)}-${subscriber.slice(6)}`,
      ]);
  }
}

const HOME: Record<Language, readonly Country[]> = {
  pt: ["PT"],
  es: ["ES"],
  en: ["GB", "US"],
  fr: ["FR"],
  de: ["DE"],
};

function phone(language: Language): string {
  const foreign = chance(0.2);
  const country = foreign ? pick<Country>(["PT", "ES", "GB", "FR", "DE", "US"]) : pick(HOME[language]);
  for (;;) {
    const national = nationalDigits(country);
    const valid = parsePhoneNumberFromString(
      `+${CALLING_CODE[country]}${national.replace(/^0/, "")}`,
    )?.isValid();
    if (valid)
      return foreign || chance(0.2)
        ? writeInternational(country, national)
        : writeNational(country, national);
  }
}

// ---- e-mail, IBAN, card ----

const FIRST = [
  "Ana",
  "João",
  "Maria",
  "Pedro",
  "Lucía",
  "Javier",
  "Emma",
  "Oliver",
  "Chloé",
  "Louis",
  "Lena",
  "Jonas",
  "Inês",
  "Tiago",
  "Sofía",
  "Hugo",
  "Clara",
  "Noah",
];
const LAST = [
  "Silva",
  "Costa",
  "Ferreira",
  "García",
  "Martínez",
  "López",
  "Smith",
  "Taylor",
  "Brown",
  "Martin",
  "Bernard",
  "Dubois",
  "Müller",
  "Schmidt",
  "Weber",
  "Santos",
  "Moreau",
  "Becker",
];
const DOMAINS = [
  "example.com",
  "example.org",
  "example.pt",
  "example.es",
  "example.fr",
  "example.de",
  "mail.example.co.uk",
  "imobiliaria.example.pt",
];
const ascii = (text: string) =>
  text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase();

function email(): string {
  const first = ascii(pick(FIRST));
  const last = ascii(pick(LAST));
  const local = pick([
    `${first}.${last}`,
    `${first[0]}${last}`,
    `${first}_${last}${between(1, 99)}`,
    `${first}+casa`,
    `info.${last}`,
  ]);
  return `${local}@${pick(DOMAINS)}`;
}

function iban(language: Language): string {
  const country = language === "en" ? "GB" : language.toUpperCase();
  for (;;) {
    const bban =
      country === "GB"
        ? `${pick(["NWBK", "BARC", "LOYD", "HBUK"])}${digits(14)}`
        : country === "FR"
          ? `${digits(10)}${digits(11)}${digits(2)}`
          : digits({ PT: 21, ES: 20, DE: 18 }[country] ?? 18);
    const electronic = composeIBAN({ countryCode: country, bban });
    // Random account numbers fail the national check digits of PT, ES, FR… one time in about 97: drawn again.
    if (electronic === null || !isValidIBAN(electronic)) continue;
    return chance(0.7) ? (electronic.match(/.{1,4}/g) ?? []).join(" ") : electronic;
  }
}

function card(): string {
  const [prefix, length] = pick<[string, number]>([
    ["4", 16],
    ["4", 16],
    [String(between(51, 55)), 16],
    [pick(["34", "37"]), 15],
    ["6011", 16],
  ]);
  let number = prefix + digits(length - prefix.length - 1);
  for (let check = 0; check <= 9; check++) {
    if (luhn(`${number}${check}`)) {
      number = `${number}${check}`;
      break;
    }
  }
  if (length === 15)
    return pick([`${number.slice(0, 4)} ${number.slice(4, 10)} ${number.slice(10)}`, number]);
  const separator = pick([" ", " ", "-", ""]);
  return (number.match(/.{4}/g) ?? []).join(separator);
}

// ---- numbers that are not personal data ----

const thousands = (n: number, separator: string) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, separator);

function price(language: Language): string {
  const big = between(95, 2_400) * 1000 + (chance(0.3) ? between(1, 9) * 100 : 0);
  const rent = between(450, 4_800);
  switch (language) {
    case "pt":
    case "es":
      return pick([
        `${thousands(big, " ")} €`,
        `${thousands(big, ".")} €`,
        `€ ${thousands(big, ".")}`,
        `${thousands(rent, ".")} €/mês`,
        `${thousands(big, ".")},00 €`,
        `${thousands(big, " ")} euros`,
        `${big}€`,
      ]);
    case "fr":
      return pick([
        `${thousands(big, " ")} €`,
        `${thousands(big, " ")} EUR`,
        `${rent} € par mois`,
        `${thousands(big, " ")} euros`,
      ]);
    case "de":
      return pick([
        `${thousands(big, ".")} €`,
        `EUR ${thousands(big, ".")}`,
        `${thousands(rent, ".")} € Kaltmiete`,
        `${thousands(big, ".")},- €`,
      ]);
    case "en":
      return pick([
        `£${thousands(big, ",")}`,
        `$${thousands(big, ",")}`,
        `£${thousands(rent, ",")} pcm`,
        `USD ${thousands(big, ",")}`,
        `€${thousands(big, ",")}`,
      ]);
  }
}

function area(language: Language): string {
  const m2 = between(28, 460);
  const unit = pick(["m²", "m2", "m²"]);
  if (language === "en" && chance(0.5)) return `${thousands(m2 * 11, ",")} sq ft`;
  return pick([
    `${m2} ${unit}`,
    `${m2},${between(1, 9)} ${unit}`,
    `${thousands(m2 * 10, language === "en" ? "," : ".")} ${unit}`,
  ]);
}

function postcode(language: Language): string {
  switch (language) {
    case "pt":
      return `${between(1000, 8900)}-${String(between(1, 999)).padStart(3, "0")}`;
    case "es":
      return String(between(1000, 52999)).padStart(5, "0");
    case "fr":
      return pick([
        `750${String(between(1, 20)).padStart(2, "0")}`,
        String(between(1000, 95999)).padStart(5, "0"),
      ]);
    case "de":
      return String(between(1067, 99998)).padStart(5, "0");
    case "en":
      return pick([
        `SW1A ${between(1, 9)}AA`,
        `M${between(1, 9)} ${between(1, 9)}AE`,
        `EH${between(1, 9)} ${between(1, 9)}QL`,
        `${String(between(1001, 99950)).padStart(5, "0")}`,
        `02${between(100, 199)}-${digits(4)}`,
      ]);
  }
}

function date(language: Language): string {
  const year = between(2019, 2027);
  const month = String(between(1, 12)).padStart(2, "0");
  const day = String(between(1, 28)).padStart(2, "0");
  return pick([
    `${year}-${month}-${day}`,
    language === "de" ? `${day}.${month}.${year}` : `${day}/${month}/${year}`,
    `${day}-${month}-${year}`,
    `${day}.${month}.${year}`,
  ]);
}

const time = () =>
  pick([`${between(8, 19)}:${pick(["00", "15", "30", "45"])}`, `${between(8, 19)}h${pick(["00", "30"])}`]);
const year = () => String(between(1920, 2026));

/** Reference numbers, many of them phone- or card-shaped, each after the label that says what it is. */
function reference(language: Language): string {
  const shaped = pick([
    digits(9),
    `${digits(3)} ${digits(3)} ${digits(3)}`,
    `0${digits(9)}`,
    `${between(4000, 5599)} ${digits(4)} ${digits(4)} ${digits(4)}`,
    `${between(100, 999)}${digits(6)}`,
  ]);
  const label: Record<Language, readonly string[]> = {
    pt: ["Ref.", "Referência", "Encomenda nº", "Contrato n.º", "Processo nº", "Fatura nº"],
    es: ["Ref.", "Referencia", "Pedido nº", "Expediente", "Factura nº", "Contrato n.º"],
    en: ["Ref.", "Reference", "Order no.", "Invoice #", "Contract number", "Case"],
    fr: ["Réf.", "Référence", "Commande n°", "Dossier", "Facture n°", "Mandat n°"],
    de: ["Ref.", "Referenz", "Rechnung Nr.", "Aktenzeichen", "Kundennummer", "Objektnummer"],
  };
  const code = pick([
    shaped,
    shaped,
    `${pick(["AB", "REF", "LX", "MD"])}-${year()}-${digits(5)}`,
    `${pick(["AB", "PF"])}-${digits(3)}-${digits(3)}-${digits(3)}`,
  ]);
  return `${pick(label[language])} ${code}`;
}

/** Identity, tax and registry numbers: phone-shaped, never phones. */
function id(language: Language): string {
  switch (language) {
    case "pt":
      return pick([
        `NIF ${pick(["1", "2", "5"])}${digits(8)}`,
        `NIF: ${pick(["2", "5"])}${digits(2)} ${digits(3)} ${digits(3)}`,
        `licença AMI ${between(1000, 29999)}`,
        `artigo matricial ${between(100, 9999)}`,
      ]);
    case "es":
      return pick([
        `DNI ${digits(8)}${pick(["Z", "T", "R", "W"])}`,
        `NIE X${digits(7)}L`,
        `referencia catastral ${digits(7)}VK${digits(4)}S${digits(4)}WX`,
        `NIF B${digits(8)}`,
      ]);
    case "fr":
      return pick([
        `SIRET ${digits(3)} ${digits(3)} ${digits(3)} ${digits(5)}`,
        `SIREN ${digits(9)}`,
        `lot n° ${between(1, 400)}`,
        `carte T n° CPI ${digits(4)} ${year()} ${digits(9)}`,
      ]);
    case "de":
      return pick([
        `Steuer-ID ${digits(2)} ${digits(3)} ${digits(3)} ${digits(3)}`,
        `Steuernummer ${digits(3)}/${digits(3)}/${digits(5)}`,
        `Flurstück ${between(10, 999)}/${between(1, 20)}`,
        `USt-IdNr. DE${digits(9)}`,
      ]);
    case "en":
      return pick([
        `Company No. ${digits(8)}`,
        `VAT GB${digits(9)}`,
        `Title number ${pick(["NGL", "AGL", "TGL"])}${digits(6)}`,
        `Licence ${digits(6)}`,
      ]);
  }
}

// ---- templates ----

/** Slots: {phone} {email} {iban} {card} personal data; {price} {area} {postcode} {date} {time} {year} {ref} {id} not. */
const TEMPLATES: Record<Language, Record<Style, readonly string[]>> = {
  pt: {
    listing: [
      "Apartamento T{n} com {area}, renovado em {year}, a 5 min do metro. Preço: {price}. Código postal {postcode}. Contacto: {phone}.",
      "Moradia V{n} em lote de {area}, construída em {year}. {price}, negociável. Visitas: ligue {phone} ou escreva para {email}.",
      "T{n} para arrendamento, {area}, disponível a partir de {date}. Renda {price}. {ref}. Tlm {phone}",
    ],
    note: [
      "Cliente ligou às {time}, quer visitar no dia {date}. Deixou o número {phone}. Orçamento até {price}.",
      "Proprietário ({id}) aceita baixar para {price}. Falar com a filha pelo {phone} ou {phone}. {ref}",
      "Visita marcada {date} às {time}, {postcode} Lisboa. Comprador pagou sinal com cartão {card}.",
    ],
    email: [
      "Bom dia, segue a proposta de {price} para o imóvel {ref}. Pode contactar-me por {email} ou pelo telemóvel {phone}. Cumprimentos",
      "Olá, o IBAN para a transferência da caução é {iban}. Qualquer dúvida ligue {phone}. Obrigado",
      "Caro cliente, a escritura ficou marcada para {date}. Envie os documentos para {email} até {date}.",
    ],
    lease: [
      "A renda mensal de {price} será paga por transferência para o IBAN {iban} até ao dia {n} de cada mês, com início em {date}.",
      "O Senhorio, {id}, com domicílio em {postcode} Porto, telefone {phone}, dá de arrendamento a fração com {area}.",
      "Cláusula {n}.ª: o contrato tem a duração de {n} anos a contar de {date}, renovável. {ref}.",
    ],
  },
  es: {
    listing: [
      "Piso de {n} habitaciones, {area}, reformado en {year}. Precio {price}. CP {postcode}. Llame al {phone}.",
      "Chalet con parcela de {area}, construido en {year}. {price}. Información: {email} o móvil {phone}.",
      "Alquiler: estudio de {area} disponible desde {date}. {price}. {ref}. Tel. {phone}",
    ],
    note: [
      "La clienta llamó a las {time}; visita el {date}. Su móvil es {phone}. Presupuesto máximo {price}.",
      "El propietario ({id}) acepta {price}. Hablar con su hijo en el {phone}. {ref}",
      "Reserva pagada con tarjeta {card} el {date}. Código postal {postcode} Madrid.",
    ],
    email: [
      "Buenos días, le envío la oferta de {price} por el inmueble {ref}. Puede escribirme a {email} o llamarme al {phone}. Saludos",
      "Hola, el IBAN para la fianza es {iban}. Para cualquier duda, llame al {phone}. Gracias",
      "Estimado cliente, la firma en notaría será el {date} a las {time}. Envíe la documentación a {email}.",
    ],
    lease: [
      "La renta mensual de {price} se abonará mediante transferencia a la cuenta {iban} antes del día {n} de cada mes desde el {date}.",
      "El arrendador, con {id} y domicilio en {postcode} Valencia, teléfono {phone}, arrienda la vivienda de {area}.",
      "Cláusula {n}: el contrato tendrá una duración de {n} años desde el {date}. {ref}.",
    ],
  },
  en: {
    listing: [
      "Bright {n}-bedroom flat, {area}, refurbished in {year}. Guide price {price}. Postcode {postcode}. Call {phone} to view.",
      "Detached house on a plot of {area}, built {year}. Offers over {price}. Contact {email} or {phone}.",
      "To let from {date}: studio of {area}, {price}. {ref}. Tel {phone}",
    ],
    note: [
      "Buyer rang at {time}, wants a second viewing on {date}. Mobile {phone}. Budget up to {price}.",
      "Vendor ({id}) will accept {price}. Speak to her son on {phone}. {ref}",
      "Holding deposit paid by card {card} on {date}, {postcode}.",
    ],
    email: [
      "Hi, please find our offer of {price} for property {ref}. You can reach me at {email} or on {phone}. Best regards",
      "Hello, the account for the deposit is {iban}. Any questions, call {phone}. Thanks",
      "Dear client, completion is set for {date} at {time}. Please send the documents to {email}.",
    ],
    lease: [
      "The rent of {price} shall be paid by transfer to {iban} on or before day {n} of each month, starting {date}.",
      "The Landlord, {id}, of {postcode}, telephone {phone}, lets the property of {area} to the Tenant.",
      "Clause {n}: the term is {n} years from {date}. {ref}.",
    ],
  },
  fr: {
    listing: [
      "Appartement {n} pièces de {area}, rénové en {year}. Prix {price}. {postcode} Paris. Appelez le {phone}.",
      "Maison sur terrain de {area}, construite en {year}. {price}. Contact : {email} ou {phone}.",
      "À louer dès le {date} : studio de {area}, {price}. {ref}. Tél. {phone}",
    ],
    note: [
      "La cliente a appelé à {time}, visite le {date}. Portable {phone}. Budget maximum {price}.",
      "Le vendeur ({id}) accepte {price}. Voir avec sa fille au {phone}. {ref}",
      "Acompte réglé par carte {card} le {date}, {postcode} Lyon.",
    ],
    email: [
      "Bonjour, voici notre offre de {price} pour le bien {ref}. Vous pouvez me joindre à {email} ou au {phone}. Cordialement",
      "Bonjour, l'IBAN pour le dépôt de garantie est {iban}. Pour toute question, appelez le {phone}. Merci",
      "Cher client, la signature chez le notaire est fixée au {date} à {time}. Merci d'envoyer les pièces à {email}.",
    ],
    lease: [
      "Le loyer de {price} sera versé par virement sur le compte {iban} avant le {n} de chaque mois à compter du {date}.",
      "Le bailleur, {id}, demeurant {postcode} Nice, téléphone {phone}, donne à bail le logement de {area}.",
      "Article {n} : le bail est consenti pour {n} ans à compter du {date}. {ref}.",
    ],
  },
  de: {
    listing: [
      "Helle {n}-Zimmer-Wohnung, {area}, saniert {year}. Kaufpreis {price}. {postcode} Berlin. Rufen Sie {phone} an.",
      "Einfamilienhaus auf {area} Grundstück, Baujahr {year}. {price}. Kontakt: {email} oder {phone}.",
      "Zu vermieten ab {date}: Apartment mit {area}, {price}. {ref}. Tel. {phone}",
    ],
    note: [
      "Interessentin rief um {time} an, Besichtigung am {date}. Handy {phone}. Budget bis {price}.",
      "Eigentümer ({id}) akzeptiert {price}. Mit dem Sohn unter {phone} sprechen. {ref}",
      "Reservierung per Karte {card} am {date} bezahlt, {postcode} München.",
    ],
    email: [
      "Guten Tag, anbei unser Angebot über {price} für das Objekt {ref}. Sie erreichen mich unter {email} oder {phone}. Mit freundlichen Grüßen",
      "Hallo, die Kaution bitte auf das Konto {iban} überweisen. Bei Fragen {phone} anrufen. Danke",
      "Sehr geehrte Kundin, der Notartermin ist am {date} um {time}. Bitte senden Sie die Unterlagen an {email}.",
    ],
    lease: [
      "Die Miete von {price} ist bis zum {n}. eines jeden Monats auf das Konto {iban} zu überweisen, erstmals zum {date}.",
      "Der Vermieter, {id}, wohnhaft {postcode} Hamburg, Telefon {phone}, vermietet die Wohnung mit {area}.",
      "§ {n}: Das Mietverhältnis beginnt am {date} und läuft {n} Jahre. {ref}.",
    ],
  },
};

const PII_SLOTS = new Set(["phone", "email", "iban", "card"]);

function fill(template: string, language: Language): string {
  return template.replace(/\{(\w+)\}/g, (_slot, name: string) => {
    if (name === "n") return String(between(1, 5));
    const value = ((): string => {
      switch (name) {
        case "phone":
          return phone(language);
        case "email":
          return email();
        case "iban":
          return iban(language);
        case "card":
          return card();
        case "price":
          return price(language);
        case "area":
          return area(language);
        case "postcode":
          return postcode(language);
        case "date":
          return date(language);
        case "time":
          return time();
        case "year":
          return year();
        case "ref":
          return reference(language);
        case "id":
          return id(language);
        default:
          throw new Error(`unknown slot {${name}}`);
      }
    })();
    return PII_SLOTS.has(name)
      ? `[[${name}:${value}]]`
      : `{{${name === "ref" ? "reference" : name}:${value}}}`;
  });
}

/** The corpus as TSV lines: id, language, style, marked text. */
export function generateCorpus(): string {
  random = seeded(16);
  const lines = ["# id\tlanguage\tstyle\ttext (generated by bench/pii/generate-corpus.ts; do not edit)"];
  for (const language of LANGUAGES) {
    for (const style of STYLES) {
      TEMPLATES[language][style].forEach((template, t) => {
        for (let i = 0; i < TEXTS_PER_TEMPLATE; i++) {
          lines.push(
            [`${language}-${style}-${t + 1}-${i + 1}`, language, style, fill(template, language)].join("\t"),
          );
        }
      });
    }
  }
  return `${lines.join("\n")}\n`;
}

if (import.meta.main) {
  const corpus = generateCorpus();
  writeFileSync(CORPUS_PATH, corpus);
  console.log(`wrote ${corpus.split("\n").length - 2} texts to ${CORPUS_PATH.pathname}`);
}
