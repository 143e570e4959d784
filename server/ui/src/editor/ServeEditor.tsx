// What a rule or the default serves: one variant, or a rollout over the variants.
import type { Serve } from '../api/client';
import { evenSplit } from '../model/rollout';
import { RolloutEditor } from './RolloutEditor';

/** Props of [`ServeEditor`]. */
export interface ServeEditorProps {
  /** The serve. */
  value: Serve;
  /** Variant keys. */
  variants: string[];
  /** Called with the new serve. */
  onChange(s: Serve): void;
  /** Accessible name, e.g. "Default". */
  label: string;
  /** Read-only. */
  disabled?: boolean;
}

/** Chooses a variant or a rollout. */
export function ServeEditor({ value, variants, onChange, label, disabled }: ServeEditorProps) {
  const isRollout = 'rollout' in value;
  return (
    <div className="serve">
      <label className="inline">
        {label} serves
        <select
          disabled={disabled}
          value={isRollout ? '\u0000rollout' : value.variant}
          onChange={(e) => {
            const v = e.target.value;
            if (v === '\u0000rollout') onChange({ rollout: { weights: evenSplit(variants) } });
            else onChange({ variant: v });
          }}
        >
          {variants.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
          <option value={'\u0000rollout'}>a percentage rollout…</option>
        </select>
      </label>
      {isRollout && (
        <RolloutEditor
          label={label}
          value={value.rollout}
          variants={variants}
          disabled={disabled}
          onChange={(rollout) => onChange({ rollout })}
        />
      )}
    </div>
  );
}
