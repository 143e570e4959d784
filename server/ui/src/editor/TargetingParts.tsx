// The parts of one environment's targeting: individual targets, prerequisites and rules (each
// rule: id, condition, what it serves; reorderable with buttons).
import type { Flag, Rule, Serve, Targeting } from '../api/client';
import { ConditionBuilder } from './ConditionBuilder';
import { ServeEditor } from './ServeEditor';

type Targets = NonNullable<Targeting['targets']>;
type Prereqs = NonNullable<Targeting['prerequisites']>;

/** Individual targets: per variant, the targeting keys that get it (one per line). */
export function TargetsEditor(props: {
  value: Targets;
  variants: string[];
  disabled?: boolean;
  onChange(t: Targets): void;
}) {
  const byVariant = (v: string) => props.value.find((t) => t.variant === v)?.keys ?? [];
  const set = (variant: string, text: string) => {
    const keys = text
      .split(/[\n,]/)
      .map((s) => s.trim())
      .filter(Boolean);
    const rest = props.value.filter((t) => t.variant !== variant);
    const next = keys.length ? [...rest, { variant, keys }] : rest;
    props.onChange(props.variants.flatMap((v) => next.filter((t) => t.variant === v)));
  };
  return (
    <div className="targets">
      {props.variants.map((v) => (
        <label key={v}>
          <span>
            Targeting keys served <strong>{v}</strong>
          </span>
          <textarea
            rows={2}
            disabled={props.disabled}
            defaultValue={byVariant(v).join('\n')}
            placeholder="one key per line"
            onBlur={(e) => set(v, e.target.value)}
          />
        </label>
      ))}
    </div>
  );
}

/** Prerequisites: flags that must serve one of the chosen variants first. */
export function PrereqEditor(props: {
  value: Prereqs;
  flags: Flag[];
  self: string;
  disabled?: boolean;
  onChange(p: Prereqs): void;
}) {
  const others = props.flags.filter((f) => f.key !== props.self);
  const setAt = (i: number, p: Prereqs[number]) =>
    props.onChange(props.value.map((x, j) => (j === i ? p : x)));
  return (
    <div className="prereqs">
      {props.value.length === 0 && <p className="muted">No prerequisites.</p>}
      {props.value.map((p, i) => {
        const flag = others.find((f) => f.key === p.flag);
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: prerequisites have no identity but their position
          <fieldset key={`${p.flag}-${i}`} className="prereq">
            <legend>Prerequisite {i + 1}</legend>
            <label className="inline">
              Flag
              <select
                value={p.flag}
                disabled={props.disabled}
                onChange={(e) => {
                  const f = others.find((x) => x.key === e.target.value);
                  setAt(i, { flag: e.target.value, variants: Object.keys(f?.variants ?? {}).slice(0, 1) });
                }}
              >
                {others.map((f) => (
                  <option key={f.key}>{f.key}</option>
                ))}
              </select>
            </label>
            <span>serves one of</span>
            {Object.keys(flag?.variants ?? {}).map((v) => (
              <label key={v} className="inline">
                <input
                  type="checkbox"
                  disabled={props.disabled}
                  checked={p.variants.includes(v)}
                  onChange={(e) =>
                    setAt(i, {
                      ...p,
                      variants: e.target.checked ? [...p.variants, v] : p.variants.filter((x) => x !== v),
                    })
                  }
                />
                {v}
              </label>
            ))}
            {!props.disabled && (
              <button
                type="button"
                className="small danger"
                onClick={() => props.onChange(props.value.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            )}
          </fieldset>
        );
      })}
      {!props.disabled && others.length > 0 && (
        <button
          type="button"
          className="small"
          onClick={() => {
            const f = others[0];
            if (f)
              props.onChange([
                ...props.value,
                { flag: f.key, variants: Object.keys(f.variants ?? {}).slice(0, 1) },
              ]);
          }}
        >
          + Prerequisite
        </button>
      )}
    </div>
  );
}

function nextRuleId(rules: Rule[]): string {
  for (let i = rules.length + 1; ; i++) {
    const id = `rule-${i}`;
    if (!rules.some((r) => r.id === id)) return id;
  }
}

/** Rules in order (first match wins), each with a condition and what it serves. */
export function RulesEditor(props: {
  value: Rule[];
  variants: string[];
  segments: string[];
  disabled?: boolean;
  /** Index of a rule the server named in an error, and its message. */
  fieldError?: { index: number; message: string };
  onChange(r: Rule[]): void;
}) {
  const { value: rules, onChange } = props;
  const setAt = (i: number, r: Rule) => onChange(rules.map((x, j) => (j === i ? r : x)));
  const move = (i: number, d: number) => {
    const next = [...rules];
    const [r] = next.splice(i, 1);
    if (r) next.splice(i + d, 0, r);
    onChange(next);
  };
  return (
    <ol className="rules">
      {rules.map((r, i) => (
        <li key={r.id} className="rule" aria-label={`Rule ${r.id}`} data-rule={r.id}>
          <div className="rule-head">
            <label className="inline">
              Rule
              <input
                className="rule-id"
                aria-label="Rule id"
                disabled={props.disabled}
                defaultValue={r.id}
                onBlur={(e) =>
                  e.target.value && e.target.value !== r.id && setAt(i, { ...r, id: e.target.value })
                }
              />
            </label>
            {!props.disabled && (
              <span className="node-tools">
                <button
                  type="button"
                  className="small"
                  aria-label={`Move rule ${r.id} up`}
                  disabled={i === 0}
                  onClick={() => move(i, -1)}
                >
                  ↑
                </button>
                <button
                  type="button"
                  className="small"
                  aria-label={`Move rule ${r.id} down`}
                  disabled={i === rules.length - 1}
                  onClick={() => move(i, 1)}
                >
                  ↓
                </button>
                <button
                  type="button"
                  className="small danger"
                  aria-label={`Remove rule ${r.id}`}
                  onClick={() => onChange(rules.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </span>
            )}
          </div>
          {props.fieldError?.index === i && (
            <p className="error" role="alert">
              {props.fieldError.message}
            </p>
          )}
          <ConditionBuilder
            label={`Rule ${r.id}`}
            value={r.when}
            segments={props.segments}
            disabled={props.disabled}
            onChange={(when) => setAt(i, { ...r, when })}
          />
          <ServeEditor
            label={`Rule ${r.id}`}
            value={r.serve}
            variants={props.variants}
            disabled={props.disabled}
            onChange={(serve: Serve) => setAt(i, { ...r, serve })}
          />
        </li>
      ))}
      {!props.disabled && (
        <li className="add-rule">
          <button
            type="button"
            onClick={() =>
              onChange([
                ...rules,
                { id: nextRuleId(rules), when: { all: [] }, serve: { variant: props.variants[0] ?? '' } },
              ])
            }
          >
            + Rule
          </button>
        </li>
      )}
    </ol>
  );
}
