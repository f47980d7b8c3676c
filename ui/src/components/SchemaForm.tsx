import { useState } from "preact/hooks";
import type { JsonSchema } from "../types.ts";

/**
 * A form generated from a workflow's `inputs` JSON Schema: objects become
 * fieldsets, enums selects, booleans checkboxes, numbers and strings inputs
 * with the schema's limits, arrays of scalars one value per line; anything
 * else (and the whole input, on request) is edited as JSON. Defaults are
 * filled in. The server checks the input against the schema again and its
 * violations are shown as it words them.
 */
export type Value = unknown;

export function initialValue(schema: JsonSchema | null | undefined): Value {
  if (!schema) return {};
  if (schema.default !== undefined) return structuredClone(schema.default);
  if (typeOf(schema) === "object") {
    const out: Record<string, unknown> = {};
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const value = initialValue(property);
      if (value !== undefined) out[name] = value;
    }
    return out;
  }
  return undefined;
}

function typeOf(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null");
  if (typeof schema.type === "string") return schema.type;
  if (schema.properties) return "object";
  return undefined;
}

export function SchemaForm(props: {
  schema: JsonSchema | null;
  value: Value;
  onChange: (value: Value) => void;
}) {
  const [asJson, setAsJson] = useState(false);
  const [jsonText, setJsonText] = useState("");
  const [jsonError, setJsonError] = useState<string | null>(null);
  return (
    <div class="schema-form">
      <label class="inline">
        <input
          type="checkbox"
          checked={asJson}
          onChange={(event) => {
            const on = event.currentTarget.checked;
            if (on) setJsonText(JSON.stringify(props.value, null, 2));
            setJsonError(null);
            setAsJson(on);
          }}
        />{" "}
        Edit the input as JSON
      </label>
      {asJson ? (
        <label>
          Input (JSON)
          <textarea
            name="input-json"
            rows={14}
            spellcheck={false}
            value={jsonText}
            onInput={(event) => {
              const text = event.currentTarget.value;
              setJsonText(text);
              try {
                props.onChange(JSON.parse(text));
                setJsonError(null);
              } catch (error) {
                setJsonError((error as Error).message);
              }
            }}
          />
          {jsonError && <span class="error">{jsonError}</span>}
        </label>
      ) : (
        <Field
          schema={props.schema ?? { type: "object" }}
          path="input"
          name={null}
          value={props.value}
          onChange={props.onChange}
          required
        />
      )}
    </div>
  );
}

interface FieldProps {
  schema: JsonSchema;
  path: string;
  name: string | null;
  value: Value;
  onChange: (value: Value) => void;
  required: boolean;
}

function Field({ schema, path, name, value, onChange, required }: FieldProps) {
  const type = typeOf(schema);
  const title = schema.title ?? name ?? "";
  const hint = schema.description ? <span class="hint">{schema.description}</span> : null;
  const label = (
    <span class="field-name">
      {title}
      {required && name !== null ? <abbr title="required"> *</abbr> : null}
    </span>
  );

  if (type === "object" && schema.properties) {
    const object = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
    const requiredNames = new Set(schema.required ?? []);
    const fields = Object.entries(schema.properties).map(([key, property]) => (
      <Field
        key={key}
        schema={property}
        path={`${path}.${key}`}
        name={key}
        value={object[key]}
        required={requiredNames.has(key)}
        onChange={(next) => {
          const copy = { ...object };
          if (next === undefined) delete copy[key];
          else copy[key] = next;
          onChange(copy);
        }}
      />
    ));
    if (name === null) return <div class="fields">{fields}</div>;
    return (
      <fieldset>
        <legend>{label}</legend>
        {hint}
        <div class="fields">{fields}</div>
      </fieldset>
    );
  }

  if (schema.enum) {
    const options = schema.enum;
    const index = options.findIndex((option) => JSON.stringify(option) === JSON.stringify(value));
    return (
      <label>
        {label}
        <select
          name={path}
          required={required}
          value={index < 0 ? "" : String(index)}
          onChange={(event) => {
            const i = event.currentTarget.value;
            onChange(i === "" ? undefined : options[Number(i)]);
          }}
        >
          {!required || index < 0 ? <option value="">–</option> : null}
          {options.map((option, i) => (
            <option key={String(option)} value={String(i)}>
              {String(option)}
            </option>
          ))}
        </select>
        {hint}
      </label>
    );
  }

  if (type === "boolean") {
    return (
      <label class="inline">
        <input
          type="checkbox"
          name={path}
          checked={value === true}
          onChange={(event) => onChange(event.currentTarget.checked)}
        />{" "}
        {label}
        {hint}
      </label>
    );
  }

  if (type === "number" || type === "integer") {
    return (
      <label>
        {label}
        <input
          type="number"
          name={path}
          required={required}
          step={type === "integer" ? 1 : "any"}
          min={schema.minimum ?? schema.exclusiveMinimum}
          max={schema.maximum}
          value={typeof value === "number" ? String(value) : ""}
          onInput={(event) => {
            const text = event.currentTarget.value;
            onChange(text === "" ? undefined : Number(text));
          }}
        />
        {hint}
      </label>
    );
  }

  if (type === "string") {
    const long = (schema.maxLength ?? 0) > 200 || /notes|text|body|content|description/i.test(name ?? "");
    const common = {
      name: path,
      required,
      minLength: schema.minLength,
      maxLength: schema.maxLength,
      value: typeof value === "string" ? value : "",
      onInput: (event: Event) => {
        const text = (event.currentTarget as HTMLInputElement).value;
        onChange(text === "" && !required ? undefined : text);
      },
    };
    return (
      // biome-ignore lint/a11y/noLabelWithoutControl: the control is one of the two below, chosen by length
      <label>
        {label}
        {long ? (
          <textarea rows={3} {...common} />
        ) : (
          <input type="text" pattern={schema.pattern} {...common} />
        )}
        {hint}
      </label>
    );
  }

  if (
    type === "array" &&
    schema.items &&
    ["string", "number", "integer"].includes(typeOf(schema.items) ?? "")
  ) {
    const list = Array.isArray(value) ? value : [];
    const numeric = typeOf(schema.items) !== "string";
    return (
      <label>
        {label} <span class="hint">one per line</span>
        <textarea
          name={path}
          rows={3}
          value={list.map(String).join("\n")}
          onInput={(event) => {
            const lines = event.currentTarget.value.split("\n").filter((line) => line.trim() !== "");
            onChange(numeric ? lines.map(Number) : lines);
          }}
        />
        {hint}
      </label>
    );
  }

  return <JsonField label={label} path={path} value={value} onChange={onChange} hint={hint} />;
}

function JsonField(props: {
  label: preact.ComponentChild;
  path: string;
  value: Value;
  onChange: (v: Value) => void;
  hint: preact.ComponentChild;
}) {
  const [text, setText] = useState(props.value === undefined ? "" : JSON.stringify(props.value, null, 2));
  const [error, setError] = useState<string | null>(null);
  return (
    <label>
      {props.label} <span class="hint">JSON</span>
      <textarea
        name={props.path}
        rows={4}
        spellcheck={false}
        value={text}
        onInput={(event) => {
          const next = event.currentTarget.value;
          setText(next);
          if (next.trim() === "") {
            setError(null);
            props.onChange(undefined);
            return;
          }
          try {
            props.onChange(JSON.parse(next));
            setError(null);
          } catch (e) {
            setError((e as Error).message);
          }
        }}
      />
      {error && <span class="error">{error}</span>}
      {props.hint}
    </label>
  );
}
