// A flag's variants, typed by the flag's value type; object values in a JSON editor.
import { lazy, Suspense, useState } from 'react';
import type { Json, ValueType, Variants } from '../api/client';

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

/** Edits variant names and values. */
export function VariantsEditor({ type, value, onChange, disabled }: VariantsEditorProps) {
  const [invalid, setInvalid] = useState<string[]>([]);
  const entries = Object.entries(value);
  const emit = (next: [string, Json][], bad: string[]) => {
    setInvalid(bad);
    onChange(Object.fromEntries(next), bad);
  };
  return (
    <div className="variants">
      {entries.map(([name, v], i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a variant being renamed keeps its row
        <div className="variant" key={`${i}-${type}`} data-invalid={invalid.includes(name) || undefined}>
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
