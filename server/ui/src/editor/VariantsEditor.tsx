// A flag's variants, typed by the flag's value type; object values in a JSON editor, checked
// against the flag's JSON Schema (when it has one) as they are typed, each problem shown at its
// variant with its JSON path.
import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import type { Json, ValueType, Variants } from '../api/client';
import type { SchemaCheck, SchemaProblem } from '../model/schema';

const JsonEditor = lazy(() => import('./JsonEditor'));

/** Props of [`VariantsEditor`]. */
export interface VariantsEditorProps {
  /** The value type. */
  type: ValueType;
  /** Variants in order. */
  value: Variants;
  /** Called with the new variants; `invalid` names variants whose text does not parse. */
  onChange(v: Variants, invalid: string[]): void;
  /** Read-only. */
  disabled?: boolean;
  /** The flag's JSON Schema (object flags), which every value must satisfy. */
  schema?: unknown;
  /** Called with the variants whose value breaks the schema, whenever that set changes. */
  onSchemaInvalid?(names: string[]): void;
}

/** The default value of a new variant of `type`. */
export function emptyValue(type: ValueType): Json {
  return type === 'boolean' ? false : type === 'string' ? '' : type === 'object' ? {} : 0;
}

function ValueInput(props: {
  type: ValueType;
  name: string;
  value: Json;
  disabled?: boolean;
  /** Id of the element listing the value's problems, when it has some. */
  problemsId?: string;
  onChange(v: Json, ok: boolean): void;
}) {
  const label = `Value of ${props.name}`;
  if (props.type === 'boolean') {
    return (
      <select
        aria-label={label}
        disabled={props.disabled}
        value={String(props.value)}
        onChange={(e) => props.onChange(e.target.value === 'true', true)}
      >
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  }
  if (props.type === 'string') {
    return (
      <input
        aria-label={label}
        disabled={props.disabled}
        value={String(props.value)}
        onChange={(e) => props.onChange(e.target.value, true)}
      />
    );
  }
  if (props.type === 'object') {
    return (
      <Suspense fallback={<span aria-busy="true">Loading editor…</span>}>
        <JsonEditor
          label={label}
          disabled={props.disabled}
          describedBy={props.problemsId}
          value={JSON.stringify(props.value, null, 2)}
          onChange={(text) => {
            try {
              const v = JSON.parse(text) as Json;
              props.onChange(v, v !== null && typeof v === 'object' && !Array.isArray(v));
            } catch {
              props.onChange(props.value, false);
            }
          }}
        />
      </Suspense>
    );
  }
  return (
    <input
      aria-label={label}
      type="number"
      step={props.type === 'integer' ? 1 : 'any'}
      disabled={props.disabled}
      defaultValue={String(props.value)}
      onChange={(e) => {
        const n = Number(e.target.value);
        props.onChange(
          n,
          e.target.value !== '' && Number.isFinite(n) && (props.type !== 'integer' || Number.isInteger(n)),
        );
      }}
    />
  );
}

/**
 * The check of `schema` (loaded with the validator on first use; `undefined` while loading or
 * without a schema).
 */
function useSchemaCheck(type: ValueType, schema: unknown): SchemaCheck | undefined {
  const [check, setCheck] = useState<{ schema: unknown; check: SchemaCheck }>();
  const wanted = type === 'object' && schema !== undefined && schema !== null;
  useEffect(() => {
    if (!wanted) return;
    let live = true;
    void import('../model/schema').then((m) => {
      if (live) setCheck({ schema, check: m.compileSchema(schema) });
    });
    return () => {
      live = false;
    };
  }, [wanted, schema]);
  return wanted && check?.schema === schema ? check.check : undefined;
}

/** The problems of each value that breaks the schema (values that do not parse are not checked). */
function useSchemaProblems(
  value: Variants,
  invalid: string[],
  check: SchemaCheck | undefined,
): Map<string, SchemaProblem[]> {
  return useMemo(() => {
    const out = new Map<string, SchemaProblem[]>();
    if (!check) return out;
    for (const [name, v] of Object.entries(value)) {
      if (invalid.includes(name)) continue;
      const problems = check(v);
      if (problems.length > 0) out.set(name, problems);
    }
    return out;
  }, [value, invalid, check]);
}

/** Edits variant names and values. */
export function VariantsEditor({
  type,
  value,
  onChange,
  disabled,
  schema,
  onSchemaInvalid,
}: VariantsEditorProps) {
  const [invalid, setInvalid] = useState<string[]>([]);
  const entries = Object.entries(value);
  const problems = useSchemaProblems(value, invalid, useSchemaCheck(type, schema));
  const failing = [...problems.keys()].join('\n');
  useEffect(() => {
    onSchemaInvalid?.(failing ? failing.split('\n') : []);
  }, [failing, onSchemaInvalid]);
  const emit = (next: [string, Json][], bad: string[]) => {
    setInvalid(bad);
    onChange(Object.fromEntries(next), bad);
  };
  return (
    <div className="variants">
      {entries.map(([name, v], i) => (
        <div
          className="variant"
          // biome-ignore lint/suspicious/noArrayIndexKey: a variant being renamed keeps its row
          key={`${i}-${type}`}
          data-invalid={invalid.includes(name) || problems.has(name) || undefined}
        >
          <input
            aria-label={`Name of variant ${i + 1}`}
            className="variant-name"
            disabled={disabled}
            defaultValue={name}
            onBlur={(e) => {
              const n = e.target.value.trim();
              if (!n || n === name || value[n] !== undefined) {
                e.target.value = name;
                return;
              }
              emit(
                entries.map(([k, x]) => (k === name ? [n, x] : [k, x])),
                invalid.map((k) => (k === name ? n : k)),
              );
            }}
          />
          <ValueInput
            type={type}
            name={name}
            value={v}
            disabled={disabled}
            problemsId={problems.has(name) ? `schema-problems-${i}` : undefined}
            onChange={(nv, ok) =>
              emit(
                entries.map(([k, x]) => (k === name ? [k, nv] : [k, x])),
                ok ? invalid.filter((k) => k !== name) : [...new Set([...invalid, name])],
              )
            }
          />
          {invalid.includes(name) && (
            <span className="error" role="alert">
              Not a valid {type === 'object' ? 'JSON object' : type}
            </span>
          )}
          {problems.has(name) && (
            <div className="schema-problems error" id={`schema-problems-${i}`} role="alert">
              <strong>{name} does not match the flag's JSON Schema:</strong>
              <ul>
                {problems.get(name)?.map((p) => (
                  <li key={`${p.path} ${p.message}`}>
                    <code>{p.path}</code> {p.message}
                  </li>
                ))}
              </ul>
            </div>
          )}
          {!disabled && entries.length > 1 && (
            <button
              type="button"
              className="small danger"
              aria-label={`Remove variant ${name}`}
              onClick={() =>
                emit(
                  entries.filter(([k]) => k !== name),
                  invalid.filter((k) => k !== name),
                )
              }
            >
              ✕
            </button>
          )}
        </div>
      ))}
      {!disabled && (
        <button
          type="button"
          className="small"
          onClick={() => {
            let n = entries.length + 1;
            while (value[`variant-${n}`] !== undefined) n++;
            emit([...entries, [`variant-${n}`, emptyValue(type)]], invalid);
          }}
        >
          + Variant
        </button>
      )}
    </div>
  );
}
