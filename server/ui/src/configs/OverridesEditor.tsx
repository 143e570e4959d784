// An entry's overrides (gradual release): for the instances a condition matches (every
// instance without one), a share of them by instance id (a percentage, stored in basis
// points), another value in the entry's format. The first matching override decides, so
// their order can be changed.
import { useId } from 'react';
import { FORMAT_NAMES, type Format, newOverride, type OverrideDraft, type Problems } from '../model/config';
import { fromPercent } from '../model/rollout';
import { FieldProblem, problemProps } from './FieldProblem';

/** Lines a text area of an override shows for `text`: 3 to 12. */
const rows = (text: string) => Math.min(12, Math.max(3, text.split('\n').length + 1));

/** Props of [`OverridesEditor`]. */
export interface OverridesEditorProps {
  /** The overrides, in order. */
  value: OverrideDraft[];
  /** The entry's format (the overrides' values are in it too). */
  format: Format;
  /** Read-only. */
  disabled: boolean;
  /** Problems by field (`overrides[0].when`, …): the browser's checks and the server's refusal. */
  problems: Problems;
  /** Whether the values are write-only (a secret entry): they start empty. */
  secret: boolean;
  /** Called with the new overrides. */
  onChange(overrides: OverrideDraft[]): void;
}

/** Edits the overrides of an entry. */
export function OverridesEditor({
  value,
  format,
  disabled,
  problems,
  secret,
  onChange,
}: OverridesEditorProps) {
  // Text areas are labelled with `for`: a label around one would take in its text.
  const id = useId();
  const set = (i: number, change: Partial<OverrideDraft>) =>
    onChange(value.map((o, j) => (j === i ? { ...o, ...change } : o)));
  const move = (i: number, to: number) => {
    const next = [...value];
    const [o] = next.splice(i, 1);
    if (o) next.splice(to, 0, o);
    onChange(next);
  };
  return (
    <div className="overrides">
      {value.length === 0 && <p className="muted">No overrides: every instance gets the value above.</p>}
      <ol>
        {value.map((o, i) => {
          const f = `overrides[${i}]`;
          const bp = fromPercent(o.percentage);
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: the position is the override's identity while its id is typed
            <li key={i} className="override" data-override={o.id}>
              <fieldset>
                <legend>Override {i + 1}</legend>
                <div className="row">
                  <label>
                    Override id
                    <input
                      value={o.id}
                      disabled={disabled}
                      pattern="[A-Za-z0-9_\-]{1,64}"
                      onChange={(e) => set(i, { id: e.target.value })}
                      {...problemProps(problems, `${f}.id`)}
                    />
                  </label>
                  <label>
                    Share of matching instances (%)
                    <input
                      className="percent"
                      inputMode="decimal"
                      value={o.percentage}
                      disabled={disabled}
                      placeholder="all"
                      aria-describedby={problems[`${f}.percentage`] ? undefined : `${f}-bp`}
                      onChange={(e) => set(i, { percentage: e.target.value })}
                      {...problemProps(problems, `${f}.percentage`)}
                    />
                  </label>
                  <span className="muted" id={`${f}-bp`}>
                    {o.percentage.trim() === ''
                      ? 'every matching instance'
                      : bp === undefined
                        ? ''
                        : `${bp} basis points of the instances, by instance id`}
                  </span>
                  {!disabled && (
                    <span className="node-tools">
                      <button
                        type="button"
                        className="small"
                        aria-label={`Move override ${o.id || i + 1} up`}
                        disabled={i === 0}
                        onClick={() => move(i, i - 1)}
                      >
                        ↑
                      </button>
                      <button
                        type="button"
                        className="small"
                        aria-label={`Move override ${o.id || i + 1} down`}
                        disabled={i === value.length - 1}
                        onClick={() => move(i, i + 1)}
                      >
                        ↓
                      </button>
                      <button
                        type="button"
                        className="small danger"
                        onClick={() => onChange(value.filter((_, j) => j !== i))}
                      >
                        Remove override {o.id || i + 1}
                      </button>
                    </span>
                  )}
                </div>
                <FieldProblem problems={problems} field={`${f}.id`} />
                <FieldProblem problems={problems} field={`${f}.percentage`} />
                <div className="row">
                  <div className="field grow">
                    <label htmlFor={`${id}-${i}-when`}>Condition (JSON; empty: every instance)</label>
                    <textarea
                      id={`${id}-${i}-when`}
                      className="mono"
                      rows={rows(o.when)}
                      spellCheck={false}
                      value={o.when}
                      disabled={disabled}
                      placeholder={'{"attribute": "zone", "op": "in", "values": ["eu-west-1a"]}'}
                      onChange={(e) => set(i, { when: e.target.value })}
                      {...problemProps(problems, `${f}.when`)}
                    />
                  </div>
                  <div className="field grow">
                    <label htmlFor={`${id}-${i}-value`}>Override value ({FORMAT_NAMES[format]})</label>
                    <textarea
                      id={`${id}-${i}-value`}
                      className="mono"
                      rows={rows(o.value)}
                      spellCheck={false}
                      value={o.value}
                      disabled={disabled}
                      placeholder={secret ? 'Secret: write-only, enter the value again' : ''}
                      onChange={(e) => set(i, { value: e.target.value })}
                      {...problemProps(problems, `${f}.value`)}
                    />
                  </div>
                </div>
                <FieldProblem problems={problems} field={`${f}.when`} />
                <FieldProblem problems={problems} field={`${f}.value`} />
              </fieldset>
            </li>
          );
        })}
      </ol>
      {!disabled && (
        <button
          type="button"
          className="small"
          onClick={() => onChange([...value, newOverride(value.map((o) => o.id))])}
        >
          + Override
        </button>
      )}
    </div>
  );
}
