import { type CountryCode, isSupportedCountry } from "libphonenumber-js/max";
import { ExecutionError } from "../../errors.ts";

/** The regions whose national phone formats redact_pii reads when `with.regions` is not given. */
export const DEFAULT_REGIONS: readonly CountryCode[] = ["PT", "ES", "GB", "FR", "DE", "US"];

let fromEnvironment:
  | { readonly value: string | undefined; readonly regions: readonly CountryCode[] }
  | undefined;

/**
 * `with.regions` as given, else PFLOW_PII_REGIONS (comma-separated ISO 3166
 * codes), else DEFAULT_REGIONS. A code libphonenumber does not know is a
 * non-retryable op-arguments error naming where it came from.
 */
export function regionsOf(
  given: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
): readonly CountryCode[] {
  if (Array.isArray(given)) return checked(given as string[], "with.regions");
  const value = env.PFLOW_PII_REGIONS;
  if (fromEnvironment === undefined || fromEnvironment.value !== value) {
    const codes = (value ?? "")
      .split(",")
      .map((code) => code.trim().toUpperCase())
      .filter((code) => code !== "");
    fromEnvironment = {
      value,
      regions: codes.length === 0 ? DEFAULT_REGIONS : checked(codes, "PFLOW_PII_REGIONS"),
    };
  }
  return fromEnvironment.regions;
}

function checked(codes: readonly string[], source: string): CountryCode[] {
  const unknown = codes.filter((code) => !isSupportedCountry(code));
  if (unknown.length > 0) {
    throw ExecutionError.nonRetryable(
      "op-arguments",
      `redact_pii: ${source} names ${unknown.map((code) => JSON.stringify(code)).join(", ")}, not a region with a phone numbering plan; use ISO 3166-1 alpha-2 codes such as PT, ES, GB, FR, DE, US`,
    );
  }
  return codes as CountryCode[];
}
