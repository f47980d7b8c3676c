import { describe, expect, it } from "vitest";
import { EgressPolicy } from "../../../engine/providers/egress.ts";

const url = (text: string) => new URL(text);

async function denial(policy: EgressPolicy, text: string): Promise<string | undefined> {
  try {
    await policy.check(url(text));
    return undefined;
  } catch (error) {
    expect(error).toMatchObject({ code: "egress-denied", retryable: false });
    return (error as Error).message;
  }
}

describe("EgressPolicy", () => {
  const strict = new EgressPolicy();
  const loopbackOk = new EgressPolicy({ allowLoopback: true });

  it("denies the cloud metadata address, naming host and address", async () => {
    expect(await denial(strict, "http://169.254.169.254/latest/meta-data/")).toBe(
      'egress to host "169.254.169.254" denied: address 169.254.169.254 is link-local (cloud metadata services live there)',
    );
  });

  it.each([
    ["http://169.254.10.1:8080/", "link-local"],
    ["http://[fe80::1]/", "link-local"],
    ["http://[::ffff:169.254.169.254]/", "link-local"],
    ["http://[64:ff9b::a9fe:a9fe]/", "link-local"],
    ["http://[fd00:ec2::254]/", "a cloud metadata address"],
    ["http://100.100.100.200/", "a cloud metadata address"],
    ["http://0.0.0.0:8000/", "unspecified"],
    ["http://[::]/", "unspecified"],
    ["http://[::ffff:0.0.0.0]/", "unspecified"],
    ["http://224.0.0.1/", "multicast"],
    ["http://[ff02::1]/", "multicast"],
    ["http://255.255.255.255/", "reserved or broadcast"],
  ])("always denies %s (%s)", async (text, reason) => {
    expect(await denial(loopbackOk, text)).toContain(`is ${reason}`);
  });

  it.each([
    "http://127.0.0.1:8000/v1",
    "http://127.9.9.9/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://2130706433/", // 127.0.0.1 as one number: the URL parser normalises it
    "http://localhost:11434/v1",
  ])("denies loopback %s by default and allows it when the policy says so", async (text) => {
    expect(await denial(strict, text)).toContain("is loopback");
    expect(await denial(loopbackOk, text)).toBeUndefined();
  });

  it.each([
    "http://10.1.2.3:8000/v1",
    "http://172.16.5.4/",
    "http://172.31.255.1/",
    "https://192.168.1.10/",
    "http://[fd12:3456::1]/",
    "http://100.64.0.1/",
    "https://8.8.8.8/",
  ])("allows %s (private and public ranges)", async (text) => {
    expect(await denial(strict, text)).toBeUndefined();
  });

  it.each(["ftp://10.1.2.3/", "file:///etc/passwd", "data:text/plain,hi"])(
    "denies the scheme of %s",
    async (text) => {
      expect(await denial(loopbackOk, text)).toContain("only http and https are allowed");
    },
  );

  it("checks every address a host resolves to", async () => {
    const policy = new EgressPolicy({
      resolve: async (host) => (host === "llm.internal" ? ["10.0.0.5", "169.254.169.254"] : ["10.0.0.6"]),
    });
    expect(await denial(policy, "http://llm.internal:8000/v1")).toBe(
      'egress to host "llm.internal" denied: address 169.254.169.254 is link-local (cloud metadata services live there)',
    );
    expect(await denial(policy, "http://scorer.internal/")).toBeUndefined();
  });

  it("denies further ranges from denyCidrs", async () => {
    const policy = new EgressPolicy({ denyCidrs: ["10.20.0.0/16", "fd00:abcd::/32", "192.168.1.7"] });
    expect(await denial(policy, "http://10.20.1.1/")).toContain("is in the denied range 10.20.0.0/16");
    expect(await denial(policy, "http://10.21.1.1/")).toBeUndefined();
    expect(await denial(policy, "http://[fd00:abcd::9]/")).toContain("fd00:abcd::/32");
    expect(await denial(policy, "http://192.168.1.7/")).toContain("192.168.1.7");
    expect(await denial(policy, "http://192.168.1.8/")).toBeUndefined();
    expect(() => new EgressPolicy({ denyCidrs: ["10.0.0.0/33"] })).toThrow("is not a CIDR range");
    expect(() => new EgressPolicy({ denyCidrs: ["llm.internal"] })).toThrow("is not a CIDR range");
  });

  it("restricts calls to allowHosts when given", async () => {
    const policy = new EgressPolicy({
      allowHosts: ["*.models.internal", "Scorer.Corp"],
      resolve: async () => ["10.0.0.7"],
    });
    expect(await denial(policy, "http://llm.models.internal/")).toBeUndefined();
    expect(await denial(policy, "http://scorer.corp./")).toBeUndefined();
    expect(await denial(policy, "http://models.internal/")).toContain("not in the allowed hosts");
    expect(await denial(policy, "http://evil-models.internal/")).toContain("not in the allowed hosts");
  });

  it("fails retryably when the host does not resolve", async () => {
    const policy = new EgressPolicy({
      resolve: async () => {
        throw Object.assign(new Error("getaddrinfo EAI_AGAIN"), { code: "EAI_AGAIN" });
      },
    });
    await expect(policy.check(url("http://llm.internal/"))).rejects.toMatchObject({
      code: "provider-unavailable",
      retryable: true,
      message: 'cannot resolve host "llm.internal": EAI_AGAIN',
    });
  });

  it("stops waiting for a slow resolver when the signal aborts", async () => {
    const policy = new EgressPolicy({ resolve: () => new Promise(() => {}) });
    const started = Date.now();
    const error = await policy
      .check(url("http://llm.internal/"), AbortSignal.timeout(50))
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe("TimeoutError");
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("reads its settings from the environment", async () => {
    const policy = EgressPolicy.fromEnvironment({
      PFLOW_EGRESS_ALLOW_LOOPBACK: "1",
      PFLOW_EGRESS_DENY_CIDRS: " 10.9.0.0/16 , ",
    });
    expect(await denial(policy, "http://127.0.0.1/")).toBeUndefined();
    expect(await denial(policy, "http://10.9.1.1/")).toContain("10.9.0.0/16");
    expect(await denial(EgressPolicy.fromEnvironment({}), "http://127.0.0.1/")).toContain("loopback");
    const hosts = EgressPolicy.fromEnvironment({ PFLOW_EGRESS_ALLOW_HOSTS: "a.internal,b.internal" });
    expect(await denial(hosts, "http://10.0.0.1/")).toContain("not in the allowed hosts");
  });
});
