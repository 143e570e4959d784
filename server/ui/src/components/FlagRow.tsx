// One row of the flag list: a selection checkbox, the key (a link to the editor), type, tags
// and owner, and an on/off switch per environment. Memoised: selecting one flag or toggling
// one switch re-renders that row only, not the other thousand.
import { memo } from 'react';
import { Link } from 'react-router';
import type { Environment, Flag } from '../api/client';

/** Props of [`FlagRow`]. */
export interface FlagRowProps {
  /** The flag. */
  flag: Flag;
  /** Project key (for the editor's link). */
  project: string;
  /** The current environment's key. */
  env: string;
  /** Every environment of the project, in column order. */
  environments: Environment[];
  /** Per environment key: whether the user may switch flags there. */
  allowed: Record<string, boolean>;
  /** Whether the row is selected for a bulk change. */
  selected: boolean;
  /** Environment key whose switch is being written (disabled meanwhile), if any. */
  busyEnv: string | undefined;
  /** Selects or unselects the row. */
  onSelect(key: string, on: boolean): void;
  /** Asks to switch the flag in an environment. */
  onToggle(flag: Flag, env: Environment, enabled: boolean): void;
}

/** A flag list row. */
export const FlagRow = memo(function FlagRow(props: FlagRowProps) {
  const { flag: f, env } = props;
  return (
    <tr data-flag={f.key} data-selected={props.selected || undefined}>
      <td className="select">
        <input
          type="checkbox"
          aria-label={`Select ${f.key}`}
          checked={props.selected}
          onChange={(e) => props.onSelect(f.key, e.target.checked)}
        />
      </td>
      <th scope="row">
        <Link to={`/p/${props.project}/e/${env}/flags/${encodeURIComponent(f.key)}`}>{f.key}</Link>
        {f.description && <small className="desc">{f.description}</small>}
      </th>
      <td>{f.type}</td>
      <td className="wide">
        {(f.tags ?? []).map((t) => (
          <span className="tag" key={t}>
            {t}
          </span>
        ))}
        {f.owner && <small className="owner">{f.owner}</small>}
      </td>
      {props.environments.map((e) => {
        const t = f.environments?.[e.key];
        const on = t?.enabled ?? false;
        const allowed = props.allowed[e.key] ?? false;
        return (
          <td key={e.key} className={e.key === env ? 'current' : 'other-env'}>
            <button
              type="button"
              role="switch"
              aria-checked={on}
              aria-label={`${f.key} in ${e.key}`}
              className="switch"
              disabled={!allowed || !t || props.busyEnv === e.key}
              title={allowed ? undefined : `Your role cannot change ${e.key}`}
              onClick={() => props.onToggle(f, e, !on)}
            >
              <span>{on ? 'On' : 'Off'}</span>
            </button>
          </td>
        );
      })}
    </tr>
  );
});
