import { describe, expect, it } from "vitest";
import { regionsOf } from "../../../engine/preprocess/pii/regions.ts";
import { runOp } from "./run-op.ts";

interface Redacted {
  text: string;
  redactions: Record<string, number>;
}
const redact = async (text: string, fields: { kinds?: string[]; regions?: string[] } = {}) =>
  (await runOp("redact_pii", { text, ...fields })) as Redacted;
const textOf = async (text: string, fields: { kinds?: string[]; regions?: string[] } = {}) =>
  (await redact(text, fields)).text;

describe("redact_pii: e-mail addresses", () => {
  it.each([
    "jane@example.com",
    "jane.doe+listings@mail.example.co.uk",
    "first_last-99%x@sub-domain.example.org",
    "JOSÉ@exämple.pt",
    "5551234567@example.com",
  ])("redacts %s", async (address) => {
    expect(await redact(`write to ${address}, thanks`)).toEqual({
      text: "write to [EMAIL], thanks",
      redactions: { email: 1, phone: 0, iban: 0, card: 0, total: 1 },
    });
  });

  it("leaves a sentence's full stop after the address", async () => {
    expect(await textOf("Mail jane@example.com.")).toBe("Mail [EMAIL].");
  });

  it.each(["user@localhost", "a@b.c", "@example.com", "jane@", "jane@-bad.com"])(
    "leaves %j alone",
    async (text) => {
      expect(await textOf(text)).toBe(text);
    },
  );
});

describe("redact_pii: phone numbers that are redacted", () => {
  it.each([
    // Unseparated national mobiles: the heuristic before issue 16 let these through.
    "912345678",
    "612345678",
    "0612345678",
    "07912345678",
    "015112345678",
    "+351 912 345 678",
    "+351912345678",
    "00351 912 345 678",
    "(+351) 912 345 678",
    "+351-21-123-4567",
    "+44 (0)20 7946 0958",
    "+33 1 23 45 67 89",
    "+49 30 12345678",
    "+1 (415) 555-2671",
    "(415) 555-2671",
    "415-736-1234",
    "415.736.1234",
    "1-415-736-1234",
    "912 345 678",
    "21 123 4567",
    "020 7946 0958",
    "01 23 45 67 89",
    "01.23.45.67.89",
    "06 12345678",
    "030/12345678",
    "(030) 1234567",
    "0171 2345678",
  ])("%s", async (phone) => {
    expect(await redact(`Call ${phone} today`)).toEqual({
      text: "Call [PHONE] today",
      redactions: { email: 0, phone: 1, iban: 0, card: 0, total: 1 },
    });
  });

  it("keeps the punctuation around a number", async () => {
    expect(await textOf("Tel: 912 345 678.")).toBe("Tel: [PHONE].");
    expect(await textOf("tel.:+351-21-123-4567")).toBe("tel.:[PHONE]");
    expect(await textOf("(call 912 345 678)")).toBe("(call [PHONE])");
    expect(await textOf("phones: 912 345 678, 06 12 34 56 78; +33 1 23 45 67 89")).toBe(
      "phones: [PHONE], [PHONE]; [PHONE]",
    );
  });

  it("cuts numbers written one after another where they end, not into one long number", async () => {
    expect(await textOf("Ligue 06 12 34 56 78 07912 345678 ou 912 345 678 913 456 789")).toBe(
      "Ligue [PHONE] [PHONE] ou [PHONE] [PHONE]",
    );
    expect(await textOf("00351 912 345 678, 0044 20 7946 0958")).toBe("[PHONE], [PHONE]");
  });

  it("takes a phone word over a number sign: Tel. nº", async () => {
    expect(await textOf("Tel. nº 912 345 678; deixou o número 22 930 8831")).toBe(
      "Tel. nº [PHONE]; deixou o número [PHONE]",
    );
  });

  it("reads national numbers only in the regions asked for, international ones always", async () => {
    const text = "Llame al 612 345 678 o al +351 912 345 678";
    expect(await textOf(text, { regions: ["ES"] })).toBe("Llame al [PHONE] o al [PHONE]");
    expect(await textOf(text, { regions: ["GB"] })).toBe("Llame al 612 345 678 o al [PHONE]");
    expect(await textOf(text, { regions: [] })).toBe("Llame al 612 345 678 o al [PHONE]");
  });
});

describe("redact_pii: numbers that are not phone numbers", () => {
  it.each([
    ["an ISO date (valid as a German number)", "Verfügbar ab 2024-05-01."],
    ["a European date", "Available from 01.03.2025."],
    ["a date with dashes", "Available from 01-03-2025."],
    ["a date and time", "Listed 2025-03-01 10:30:45 by the agent"],
    ["an ISO timestamp", "Updated 2025-03-01T10:30:00Z"],
    ["a time", "Viewings at 10:30 or 14:45:00"],
    ["a span of years", "Owned 2019-2025"],
    ["a price with spaces (valid as a German number)", "Preis 645 000 €"],
    ["a price without a currency sign, in a German text", "Kaufpreis 645 000 VB"],
    ["a price with commas", "Asking 1,250,000 or best offer"],
    ["a European price", "Preço 1.250.000,00 €"],
    ["a price with its decimals before the currency", "Kaufpreis 845.000,- €"],
    ["a price in words", "Preço 912 345 euros"],
    ["a price next to a currency code", "Budget USD 250 000 000"],
    ["a year and a price across a sentence end", "Baujahr 2024. 845.000 €."],
    ["a Portuguese postcode", "Rua Augusta 10, 1200-195 Lisboa"],
    ["a French postcode", "12 rue de Rivoli, 75008 Paris"],
    ["a ZIP+4 code (valid as a German number)", "Boston, MA 02102-6842"],
    ["an order number valid as a French number without its 0", "Commande 100234567"],
    ["a labelled reference shaped like a Portuguese mobile", "Ref. 912 345 678"],
    ["a labelled reference after a number sign", "Encomenda nº 912345678"],
    ["a Multibanco reference", "Entidade 12345 Referência 123 456 789"],
    ["a tax number", "NIF 234 567 891"],
    ["a German tax id", "Steuer-ID 31 824 002 090"],
    ["a SIRET", "SIRET 041 057 466 02189"],
    ["a German invoice number shaped like a mobile", "Rechnung Nr. 0151 2345 6789"],
    ["an ID with a prefix", "Contract AB-123-456-789"],
    ["an ID glued to letters", "DNI 12345678Z, Serial 912345678X"],
    ["an IPv4 address", "Host 192.168.100.200"],
    ["an area", "120 m² on 2 floors, 3 bedrooms"],
  ])("%s: %s", async (_what, text) => {
    expect(await textOf(text)).toBe(text);
  });
});

describe("redact_pii: IBANs", () => {
  it.each([
    "PT50 0002 0123 1234 5678 9015 4",
    "PT50000201231234567890154",
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "GB29 NWBK 6016 1331 9268 19",
    "ES91 2100 0418 4502 0005 1332",
    "FR14 2004 1010 0505 0001 3M02 606",
    "de89 3704 0044 0532 0130 00",
  ])("redacts %s", async (iban) => {
    expect(await redact(`IBAN ${iban}, obrigado`)).toEqual({
      text: "IBAN [IBAN], obrigado",
      redactions: { email: 0, phone: 0, iban: 1, card: 0, total: 1 },
    });
  });

  it("finds two IBANs close together, the first cut at its country's length", async () => {
    expect(await textOf("PT50 0002 0123 1234 5678 9015 4 e DE89370400440532013000")).toBe("[IBAN] e [IBAN]");
  });

  it("leaves an IBAN whose check digits are wrong, and does not read its digits as phones", async () => {
    const text = "IBAN PT51 0002 0123 1234 5678 9015 4";
    expect((await redact(text)).redactions.total).toBe(0);
  });

  it("does not redact an IBAN's digits as a phone number when only phones are asked for", async () => {
    expect(await textOf("IBAN PT50 0002 0123 1234 5678 9015 4", { kinds: ["phone"] })).toBe(
      "IBAN PT50 0002 0123 1234 5678 9015 4",
    );
  });
});

describe("redact_pii: card numbers", () => {
  it.each([
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111111111111111",
    "3782 822463 10005",
    "5555 5555 5555 4444",
    "6011111111111117",
  ])("redacts %s", async (card) => {
    expect(await redact(`paid with ${card} today`)).toEqual({
      text: "paid with [CARD] today",
      redactions: { email: 0, phone: 0, iban: 0, card: 1, total: 1 },
    });
  });

  it("redacts the card and leaves a number after it", async () => {
    expect(await textOf("card 4111 1111 1111 1111 123")).toBe("card [CARD] 123");
  });

  it.each([
    ["a number failing the Luhn check", "card 4111 1111 1111 1112"],
    ["mixed separators", "card 4111 1111-1111 1111"],
    ["an issuer prefix no card has", "card 1111 1111 1111 1117"],
    ["a labelled reference that passes Luhn", "Invoice 4111 1111 1111 1111"],
    ["digits glued to letters", "X4111111111111111"],
  ])("leaves %s", async (_what, text) => {
    expect(await textOf(text)).toBe(text);
  });
});

describe("redact_pii: kinds and counting", () => {
  const text = "Jane (jane@example.com, +351 912 345 678) pays to DE89370400440532013000 or 4111111111111111";

  it("redacts every kind by default and counts each, plus a total", async () => {
    expect(await redact(text)).toEqual({
      text: "Jane ([EMAIL], [PHONE]) pays to [IBAN] or [CARD]",
      redactions: { email: 1, phone: 1, iban: 1, card: 1, total: 4 },
    });
  });

  it("redacts and counts only the kinds asked for", async () => {
    expect(await redact(text, { kinds: ["email", "card"] })).toEqual({
      text: "Jane ([EMAIL], +351 912 345 678) pays to DE89370400440532013000 or [CARD]",
      redactions: { email: 1, card: 1, total: 2 },
    });
  });

  it("redacts e-mail addresses first, so digits in an address are not a phone number", async () => {
    expect(
      await redact("mail 912345678@sms.example.com or call 912 345 678", { kinds: ["email", "phone"] }),
    ).toEqual({
      text: "mail [EMAIL] or call [PHONE]",
      redactions: { email: 1, phone: 1, total: 2 },
    });
  });

  it("with phones only, still redacts a phone number that is an address's local part", async () => {
    expect(await textOf("+351912345678@sms.example.com", { kinds: ["phone"] })).toBe(
      "[PHONE]@sms.example.com",
    );
  });

  it("returns text without personal data unchanged, with counts of 0", async () => {
    expect(await redact("A bright 3-bedroom flat, 120 m², EUR 2,400.00")).toEqual({
      text: "A bright 3-bedroom flat, 120 m², EUR 2,400.00",
      redactions: { email: 0, phone: 0, iban: 0, card: 0, total: 0 },
    });
    expect((await redact("")).text).toBe("");
  });

  it("rejects unknown, repeated or no kinds, and regions that are not codes", async () => {
    for (const kinds of [["address"], ["email", "email"], []]) {
      await expect(runOp("redact_pii", { text: "x", kinds })).rejects.toMatchObject({ code: "op-arguments" });
    }
    for (const regions of [["pt"], ["PRT"], ["PT", "PT"]]) {
      await expect(runOp("redact_pii", { text: "x", regions })).rejects.toMatchObject({
        code: "op-arguments",
      });
    }
  });

  it("rejects a region with no numbering plan, naming it", async () => {
    const error = await runOp("redact_pii", { text: "x", regions: ["PT", "XX"] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "op-arguments", retryable: false });
    expect((error as Error).message).toContain('with.regions names "XX"');
  });
});

describe("redact_pii: default regions", () => {
  it("are PT, ES, GB, FR, DE, US without PFLOW_PII_REGIONS", () => {
    expect(regionsOf(undefined, {})).toEqual(["PT", "ES", "GB", "FR", "DE", "US"]);
  });

  it("come from PFLOW_PII_REGIONS when set, in any case and spacing", () => {
    expect(regionsOf(undefined, { PFLOW_PII_REGIONS: " it, nl ,BE" })).toEqual(["IT", "NL", "BE"]);
    expect(regionsOf(["PT"], { PFLOW_PII_REGIONS: "IT" })).toEqual(["PT"]);
  });

  it("refuse a PFLOW_PII_REGIONS code with no numbering plan, naming the variable", () => {
    expect(() => regionsOf(undefined, { PFLOW_PII_REGIONS: "PT,ZZ" })).toThrow(
      /PFLOW_PII_REGIONS names "ZZ"/,
    );
  });
});

describe("redact_pii: long input", () => {
  it("stays fast on long runs of digits, separators and address-like text", async () => {
    const text = `${"1 ".repeat(50_000)} ${"9-".repeat(50_000)} a@${"b".repeat(100_000)} ${"x.".repeat(50_000)}@`;
    const started = performance.now();
    const { redactions } = await redact(text);
    expect(redactions.total).toBe(0);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
