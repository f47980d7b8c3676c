/**
 * Layered workflows of any size for the benchmarks: 20 nodes a layer, each
 * reading two nodes of the layer before, a mix of model, preprocess and
 * transform nodes; MODEL is the model they call.
 */
const WIDTH = 20;
export const MODEL = `apiVersion: pflow/v1
kind: Model
metadata: { name: scorer }
spec:
  versions:
    "1": { provider: mock, response: { score: "{{ $length(input.text) }}" } }
`;

export function layeredWorkflow(nodes: number): string {
  const lines = [
    "apiVersion: pflow/v1",
    "kind: Workflow",
    `metadata: { name: layered-${nodes} }`,
    "spec:",
    "  inputs: { type: object, properties: { seed: { type: string } } }",
    "  defaults: { timeout: 30s, retry: { maxAttempts: 2, delay: 1s } }",
    "  nodes:",
  ];
  for (let i = 0; i < nodes; i++) {
    const layer = Math.floor(i / WIDTH);
    const a = `n${(layer - 1) * WIDTH + (i % WIDTH)}`;
    const b = `n${(layer - 1) * WIDTH + ((i + 7) % WIDTH)}`;
    lines.push(`    n${i}:`);
    if (layer === 0) {
      lines.push(
        "      type: preprocess",
        "      op: normalize_text",
        '      with: { text: "{{ inputs.seed }}", lowercase: true }',
      );
    } else if (i % 3 === 0) {
      lines.push(
        "      type: model",
        "      model: scorer",
        `      input: { text: "{{ nodes.${a}.output.text }} {{ nodes.${b}.status }}" }`,
      );
    } else if (i % 3 === 1) {
      lines.push(
        "      type: transform",
        `      expr: "{ 'text': $string(nodes.${a}.output) & $string(nodes.${b}.output) }"`,
      );
    } else {
      lines.push(
        "      type: transform",
        `      expr: "nodes.${a}.output"`,
        `      needs: [${b}]`,
        `      when: "{{ nodes.${b}.status = 'succeeded' }}"`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
