import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { ExecutionError } from "../errors.ts";
import { raceAbort } from "./abortable.ts";

/**
 * Where outbound model calls may go (SSRF protection). Endpoints come from
 * committed definitions, but a definition is still input: a Model whose
 * endpoint is the cloud metadata address would hand the worker's credentials
 * to whoever reads the node output. So before every call the endpoint's host is
 * resolved and each of its addresses checked:
 * - always denied: link-local (169.254/16, fe80::/10: cloud metadata lives
 *   there), unspecified (0/8, ::), multicast, reserved/broadcast (240/4), the
 *   known metadata addresses outside link-local, and `denyCidrs`;
 * - loopback (127/8, ::1) denied unless `allowLoopback` (tests, local dev);
 * - private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) allowed: in-house
 *   model servers live there.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are checked as the IPv4 address
 * they carry (node's BlockList matches them against IPv4 ranges), and NAT64
 * forms (64:ff9b::/96) of denied IPv4 ranges are denied as well.
 *
 * DNS rebinding: the check resolves the host, then fetch resolves it again when
 * it connects, and a hostile DNS server may answer differently the second time.
 * Closing that window means connecting to the checked address (an undici
 * dispatcher with a pinned lookup), which global fetch does not offer; endpoints
 * are set by platform engineers, not by run input, which keeps the risk small.
 * Literal IP endpoints have no such window.
 */
export interface EgressOptions {
  /** Allow 127.0.0.0/8 and ::1 (tests and local development). Default false. */
  readonly allowLoopback?: boolean;
  /** When not empty, the only hosts that may be called: exact names or `*.suffix`. */
  readonly allowHosts?: readonly string[];
  /** Further ranges to deny, as CIDRs (`10.20.0.0/16`) or single addresses. */
  readonly denyCidrs?: readonly string[];
  /** Resolves a host name to its addresses; default: the system resolver (node:dns lookup). */
  readonly resolve?: (hostname: string) => Promise<readonly string[]>;
}

interface Rule {
  readonly reason: string;
  readonly list: BlockList;
}

const LINK_LOCAL = "link-local (cloud metadata services live there)";
const ALWAYS_DENIED: readonly (readonly [string, string])[] = [
  ["0.0.0.0/8", "unspecified"],
  ["169.254.0.0/16", LINK_LOCAL],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved or broadcast"],
  // Alibaba Cloud's metadata service, inside the shared 100.64/10 range that stays allowed.
  ["100.100.100.200/32", "a cloud metadata address"],
  ["::/128", "unspecified"],
  ["fe80::/10", LINK_LOCAL],
  ["ff00::/8", "multicast"],
  // AWS's IPv6 metadata endpoint, inside fc00::/7 (private, allowed).
  ["fd00:ec2::254/128", "a cloud metadata address"],
];
const LOOPBACK_REASON = "loopback (for a model server on this machine, set PFLOW_EGRESS_ALLOW_LOOPBACK=1)";
const LOOPBACK: readonly (readonly [string, string])[] = [
  ["127.0.0.0/8", LOOPBACK_REASON],
  ["::1/128", LOOPBACK_REASON],
];

export class EgressPolicy {
  readonly #rules: readonly Rule[];
  readonly #allowHosts: readonly string[];
  readonly #resolve: (hostname: string) => Promise<readonly string[]>;

  constructor(options: EgressOptions = {}) {
    const denied = [...ALWAYS_DENIED, ...(options.allowLoopback ? [] : LOOPBACK)];
    for (const cidr of options.denyCidrs ?? []) denied.push([cidr, `in the denied range ${cidr}`]);
    this.#rules = rulesOf(denied);
    this.#allowHosts = (options.allowHosts ?? []).map(normalHost);
    this.#resolve = options.resolve ?? resolveAll;
  }

  /**
   * From the environment: PFLOW_EGRESS_ALLOW_LOOPBACK=1 (or true),
   * PFLOW_EGRESS_ALLOW_HOSTS and PFLOW_EGRESS_DENY_CIDRS (comma-separated).
   */
  static fromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): EgressPolicy {
    const list = (value: string | undefined) =>
      (value ?? "")
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
    return new EgressPolicy({
      allowLoopback: ["1", "true"].includes((env.PFLOW_EGRESS_ALLOW_LOOPBACK ?? "").trim().toLowerCase()),
      allowHosts: list(env.PFLOW_EGRESS_ALLOW_HOSTS),
      denyCidrs: list(env.PFLOW_EGRESS_DENY_CIDRS),
    });
  }

  /** Resolves if `url` may be called; throws `egress-denied` (non-retryable) if not. */
  async check(url: URL, signal?: AbortSignal): Promise<void> {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw denied(`egress to ${url.protocol}// URLs denied: only http and https are allowed`);
    }
    const host = normalHost(url.hostname);
    if (this.#allowHosts.length > 0 && !this.#allowHosts.some((allowed) => hostMatches(host, allowed))) {
      throw denied(`egress to host "${host}" denied: it is not in the allowed hosts`);
    }
    const addresses = isIP(host) ? [host] : await this.#lookup(host, signal);
    for (const address of addresses) {
      const reason = this.denial(address);
      if (reason !== undefined) {
        throw denied(`egress to host "${host}" denied: address ${address} is ${reason}`);
      }
    }
  }

  /** Why a connection to `address` is refused, or undefined if it is allowed. */
  denial(address: string): string | undefined {
    const bare = address.replace(/%.*$/, ""); // an IPv6 zone id is not part of the address
    const family = isIP(bare);
    if (family === 0) return "not an IP address";
    const type = family === 4 ? "ipv4" : "ipv6";
    return this.#rules.find((rule) => rule.list.check(bare, type))?.reason;
  }

  async #lookup(host: string, signal: AbortSignal | undefined): Promise<readonly string[]> {
    let addresses: readonly string[];
    try {
      const resolving = this.#resolve(host);
      addresses = await (signal ? raceAbort(resolving, signal) : resolving);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const code = (error as { code?: string }).code ?? (error as Error).message;
      throw ExecutionError.retryable("provider-unavailable", `cannot resolve host "${host}": ${code}`, {
        cause: error,
      });
    }
    if (addresses.length === 0) {
      throw ExecutionError.retryable("provider-unavailable", `host "${host}" resolves to no address`);
    }
    return addresses;
  }
}

async function resolveAll(hostname: string): Promise<readonly string[]> {
  const found = await lookup(hostname, { all: true, order: "verbatim" });
  return found.map((entry) => entry.address);
}

function denied(message: string): ExecutionError {
  return ExecutionError.nonRetryable("egress-denied", message);
}

/** Lower case, without IPv6 brackets or a trailing dot: `[::1]` → `::1`, `Example.COM.` → `example.com`. */
function normalHost(host: string): string {
  return host
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "")
    .toLowerCase();
}

function hostMatches(host: string, allowed: string): boolean {
  return allowed.startsWith("*.") ? host.endsWith(allowed.slice(1)) : host === allowed;
}

function rulesOf(ranges: readonly (readonly [string, string])[]): Rule[] {
  const byReason = new Map<string, BlockList>();
  for (const [cidr, reason] of ranges) {
    let list = byReason.get(reason);
    if (list === undefined) {
      list = new BlockList();
      byReason.set(reason, list);
    }
    addRange(list, cidr);
  }
  return [...byReason].map(([reason, list]) => ({ reason, list }));
}

/** Adds a CIDR; an IPv4 range also as its NAT64 form (64:ff9b::a.b.c.d), which gateways translate back. */
function addRange(list: BlockList, cidr: string): void {
  const [address = "", prefixText] = cidr.trim().split("/");
  const family = isIP(address);
  const bits = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > bits || prefixText === "") {
    throw new Error(`"${cidr}" is not a CIDR range (like 10.0.0.0/8 or fd00::/8)`);
  }
  if (family === 6) {
    list.addSubnet(address, prefix, "ipv6");
    return;
  }
  list.addSubnet(address, prefix, "ipv4");
  const [a = 0, b = 0, c = 0, d = 0] = address.split(".").map(Number);
  const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
  list.addSubnet(`64:ff9b::${hex(a, b)}:${hex(c, d)}`, 96 + prefix, "ipv6");
}
