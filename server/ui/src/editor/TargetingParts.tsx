// The parts of one environment's targeting: individual targets and prerequisites (the rules
// are RulesEditor.tsx).
import type { Flag, Targeting } from '../api/client';

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
