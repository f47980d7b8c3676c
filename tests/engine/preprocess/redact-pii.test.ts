import { describe, expect, it } from "vitest";
import { runOp } from "./run-op.ts";

const redact = async (text: string, kinds?: string[]) =>
  (await runOp("redact_pii", kinds === undefined ? { text } : { text, kinds })) as {
    text: string;
    redactions: number;
  };

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
      redactions: 1,
    });
  });

  it("leaves a sentence's full stop after the address", async () => {
    expect((await redact("Mail jane@example.com.")).text).toBe("Mail [EMAIL].");
  });

  it.each(["user@localhost", "a@b.c", "@example.com", "jane@", "jane@-bad.com"])(
    "leaves %j alone",
    async (text) => {
      expect(await redact(text)).toEqual({ text, redactions: 0 });
    },
  );
});

describe("redact_pii: phone numbers that are redacted", () => {
  it.each([
    "+351 912 345 678",
    "+351912345678",
    "+1 (555) 123-4567",
    "+1-555-123-4567",
    "+44 (0)20 7946 0958",
    "+33 1 23 45 67 89",
    "+49 30 12345678",
    "(555) 123-4567",
    "(21) 123 4567",
    "555-123-4567",
    "555.123.4567",
    "555 123 4567",
    "912 345 678",
    "21 123 4567",
    "020 7946 0958",
    "01 23 45 67 89",
    "01.23.45.67.89",
    "06 12345678",
    "07700 900123",
    "555-1234",
    "1-555-123-4567",
  ])("%s", async (phone) => {
    expect(await redact(`Call ${phone} today`)).toEqual({ text: "Call [PHONE] today", redactions: 1 });
  });

  it("keeps the punctuation around a number", async () => {
    expect((await redact("Tel: 555 123 4567.")).text).toBe("Tel: [PHONE].");
    expect((await redact("(call 555 123 4567)")).text).toBe("(call [PHONE])");
    expect((await redact("(555 123 4567)")).text).toBe("([PHONE])");
    expect((await redact("phones: 912 345 678, 555-1234; +33 1 23 45 67 89")).text).toBe(
      "phones: [PHONE], [PHONE]; [PHONE]",
    );
  });

  it("redacts a long international number without separators", async () => {
    expect((await redact("+4915112345678")).text).toBe("[PHONE]");
  });
});

describe("redact_pii: numbers that are not phone numbers", () => {
  it.each([
    ["an ISO date", "Available from 2025-03-01."],
    ["a European date", "Available from 01.03.2025."],
    ["a date with dashes", "Available from 01-03-2025."],
    ["a date and time", "Listed 2025-03-01 10:30:45 by the agent"],
    ["an ISO timestamp", "Updated 2025-03-01T10:30:00Z"],
    ["a time", "Viewings at 10:30 or 14:45:00"],
    ["a plain year", "Built in 1998, renovated in 2025"],
    ["a span of years", "Owned 2019-2025"],
    ["a price with commas", "Asking 1,250,000 or best offer"],
    ["a price in euros", "Rent EUR 2,400.00 per month"],
    ["a European price", "Price 1.250.000,00 €"],
    ["a price with spaces", "Price 1 250 000 €"],
    ["a price with dots", "Price 12.500.000"],
    ["a price next to a currency code", "Budget USD 250 000 000"],
    ["a price before a currency symbol", "Budget 250 000 000 €"],
    ["a Portuguese postcode", "Rua Augusta 10, 1200-195 Lisboa"],
    ["a French postcode", "12 rue de Rivoli, 75008 Paris"],
    ["a ZIP+4 code", "Boston, MA 02134-1234"],
    ["a long ID", "Reference 123456789012"],
    ["an ID with a prefix", "Contract AB-123-456-789"],
    ["an ID glued to letters", "Serial 555123456X"],
    ["an IPv4 address", "Host 192.168.100.200"],
    ["an area", "120 m² on 2 floors, 3 bedrooms"],
    ["a fraction", "Share 1/2 of 555 1234/5"],
    ["a short number", "Flat 12, floor 3, door 45"],
  ])("%s: %s", async (_what, text) => {
    expect(await redact(text)).toEqual({ text, redactions: 0 });
  });
});

describe("redact_pii: kinds and counting", () => {
  const text = "Jane (jane@example.com, +351 912 345 678) or Joe (joe@example.org, 555-123-4567)";

  it("redacts both kinds by default and counts every redaction", async () => {
    expect(await redact(text)).toEqual({
      text: "Jane ([EMAIL], [PHONE]) or Joe ([EMAIL], [PHONE])",
      redactions: 4,
    });
  });

  it("redacts e-mail addresses only when asked for email", async () => {
    expect(await redact(text, ["email"])).toEqual({
      text: "Jane ([EMAIL], +351 912 345 678) or Joe ([EMAIL], 555-123-4567)",
      redactions: 2,
    });
  });

  it("redacts phone numbers only when asked for phone", async () => {
    expect(await redact(text, ["phone"])).toEqual({
      text: "Jane (jane@example.com, [PHONE]) or Joe (joe@example.org, [PHONE])",
      redactions: 2,
    });
  });

  it("redacts e-mail addresses first, so digits in an address are not a phone number", async () => {
    expect(await redact("mail 912345678@sms.example.com or call 912 345 678")).toEqual({
      text: "mail [EMAIL] or call [PHONE]",
      redactions: 2,
    });
  });

  it("with phones only, still redacts a phone number that is an address's local part", async () => {
    expect(await redact("+351912345678@sms.example.com", ["phone"])).toEqual({
      text: "[PHONE]@sms.example.com",
      redactions: 1,
    });
  });

  it("returns text without personal data unchanged, with a count of 0", async () => {
    expect(await redact("A bright 3-bedroom flat, 120 m², EUR 2,400.00")).toEqual({
      text: "A bright 3-bedroom flat, 120 m², EUR 2,400.00",
      redactions: 0,
    });
    expect(await redact("")).toEqual({ text: "", redactions: 0 });
  });

  it("rejects unknown, repeated or no kinds", async () => {
    for (const kinds of [["address"], ["email", "email"], []]) {
      await expect(runOp("redact_pii", { text: "x", kinds })).rejects.toMatchObject({ code: "op-arguments" });
    }
  });
});

describe("redact_pii: long input", () => {
  it("stays fast on long runs of digits, separators and address-like text", async () => {
    const text = `${"1 ".repeat(50_000)} ${"9-".repeat(50_000)} a@${"b".repeat(100_000)} ${"x.".repeat(50_000)}@`;
    const started = performance.now();
    const { redactions } = await redact(text);
    expect(redactions).toBe(0);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
