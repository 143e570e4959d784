// A rollout's weights: one bar for the split and a percentage box per variant; the total must
// be exactly 100 % (model: src/model/rollout.ts).
import { useId } from 'react';
import {
  barSegments,
  evenSplit,
  fillRemainder,
  fromPercent,
  setWeight,
  toPercent,
  totalMessage,
  type Weight,
} from '../model/rollout';

/** The rollout part of a serve. */
export interface Rollout {
  /** Weights in basis points. */
  weights: Weight[];
  /** Context attribute to bucket by (default the targeting key). */
  bucket_by?: string;
  /** Seed instead of the flag key. */
  seed?: string;
}

/** Props of [`RolloutEditor`]. */
export interface RolloutEditorProps {
  /** The rollout. */
  value: Rollout;
  /** The flag's variant keys. */
  variants: string[];
  /** Called with the changed rollout. */
  onChange(r: Rollout): void;
  /** Read-only. */
  disabled?: boolean;
  /** Accessible name prefix, e.g. "Rule beta". */
  label: string;
}

/** Colour slot of a variant by its position (CSS classes v0…v5). */
export function variantSlot(variants: string[], v: string): string {
  return `v${Math.max(0, variants.indexOf(v)) % 6}`;
}

/** Edits a rollout's weights. */
export function RolloutEditor({ value, variants, onChange, disabled, label }: RolloutEditorProps) {
  const id = useId();
  const weights = variants.map(
    (v) => value.weights.find((w) => w.variant === v) ?? { variant: v, weight: 0 },
  );
  const message = totalMessage(weights);
  const update = (w: Weight[]) =>
    onChange({ ...value, weights: w.filter((x) => x.weight > 0 || w.length === 1) });
  return (
    <fieldset className="rollout" disabled={disabled}>
      <legend>{label}: rollout</legend>
      <div
        className="bar"
        role="img"
        aria-label={weights.map((w) => `${w.variant} ${toPercent(w.weight)} %`).join(', ')}
      >
        {barSegments(weights).map((s) =>
          s.width > 0 ? (
            <span
              key={s.variant}
              className={`seg ${variantSlot(variants, s.variant)}`}
              style={{ left: `${s.start}%`, width: `${s.width}%` }}
              title={`${s.variant}: ${toPercent(s.weight)} %`}
            >
              {s.width > 8 ? `${s.variant} ${toPercent(s.weight)}%` : ''}
            </span>
          ) : null,
        )}
      </div>
      <div className="weights">
        {weights.map((w, i) => (
          <div key={w.variant} className="weight">
            <label htmlFor={`${id}-${i}`}>
              <span className={`dot ${variantSlot(variants, w.variant)}`} aria-hidden="true" />
              {w.variant}
            </label>
            <input
              id={`${id}-${i}`}
              inputMode="decimal"
              defaultValue={toPercent(w.weight)}
              key={`${w.variant}-${w.weight}`}
              aria-label={`${label}: ${w.variant} percent`}
              onBlur={(e) => {
                const bp = fromPercent(e.target.value);
                if (bp !== undefined) update(setWeight(weights, i, bp));
                else e.target.value = toPercent(w.weight);
              }}
              onKeyDown={(e) => {
                if (e.key === 'Enter') e.currentTarget.blur();
              }}
            />
            <span aria-hidden="true">%</span>
            <button type="button" className="small" onClick={() => update(fillRemainder(weights, i))}>
              Rest
            </button>
          </div>
        ))}
      </div>
      <div className="row">
        <button type="button" className="small" onClick={() => update(evenSplit(variants))}>
          Split evenly
        </button>
        <label className="inline">
          Bucket by
          <input
            value={value.bucket_by ?? ''}
            placeholder="targetingKey"
            onChange={(e) => onChange({ ...value, bucket_by: e.target.value || undefined })}
          />
        </label>
      </div>
      <p className={message ? 'error' : 'ok'} role="status">
        {message || 'Weights total 100 %'}
      </p>
    </fieldset>
  );
}
