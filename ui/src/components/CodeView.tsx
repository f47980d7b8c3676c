import type { Finding } from "../types.ts";

/**
 * Text with line numbers (a workflow's YAML). Lines with a finding are marked
 * and carry its message, so the YAML and the validation read together.
 */
export function CodeView({
  text,
  findings = [],
  label,
}: {
  text: string;
  findings?: readonly Finding[];
  label: string;
}) {
  const byLine = new Map<number, Finding[]>();
  for (const finding of findings) byLine.set(finding.line, [...(byLine.get(finding.line) ?? []), finding]);
  const lines = text.replace(/\n$/, "").split("\n");
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to scroll by keyboard
    <section class="code" aria-label={label} tabIndex={0}>
      <table>
        <tbody>
          {lines.map((line, i) => {
            const marks = byLine.get(i + 1);
            return (
              <tr key={i} class={marks ? "has-finding" : undefined} id={`L${i + 1}`}>
                <td class="line-number">{i + 1}</td>
                <td class="line-text">
                  <code>{line || " "}</code>
                  {marks?.map((m) => (
                    <div class="finding" key={`${m.code}:${m.column}`}>
                      {m.code}: {m.message}
                    </div>
                  ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable block must take focus to scroll by keyboard
    <section class="json" aria-label={label} tabIndex={0}>
      <pre>{value === undefined ? "–" : JSON.stringify(value, null, 2)}</pre>
    </section>
  );
}
