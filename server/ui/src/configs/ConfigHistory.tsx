// An entry's history: every revision with its action, author and time; the unified diff of any
// two (or of one with the one before), added and removed lines coloured; and rollback to an
// earlier revision (a new revision with its value), with confirmation.
import { useState } from 'react';
import { ApiError, atLeast, type Role } from '../api/client';
import {
  type ConfigDiff,
  type ConfigRevision,
  configDiff,
  rollbackConfig,
  type Scope,
  useConfigHistory,
} from '../api/configs';
import { useActorNames } from '../api/queries';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';
import { changedFields, draftOf } from '../model/config';
import { UnifiedDiff } from './UnifiedDiff';

const time = (ms: number) => new Date(ms).toLocaleString();

/**
 * What else differs between two revisions (the server's diff is of the value's text): format,
 * schema, description, secret, overrides.
 */
function OtherChanges({ from, to }: { from?: ConfigRevision | undefined; to?: ConfigRevision | undefined }) {
  if (!from?.entry || !to?.entry) return null;
  const other = changedFields(draftOf(from.entry), draftOf(to.entry)).filter((f) => f !== 'value');
  return (
    <p className="other-changes">
      {other.length === 0
        ? 'Nothing else differs.'
        : `Also different: ${other.join(', ')} (the diff above is of the value's text).`}
    </p>
  );
}

/** Props of [`ConfigHistory`]. */
export interface ConfigHistoryProps {
  /** Where the entry lives. */
  scope: Scope;
  /** Entry key. */
  entryKey: string;
  /** The signed-in user's role (admins see names instead of ids). */
  role: Role | undefined;
  /** Whether the user may roll back here. */
  canWrite: boolean;
  /** Called after a rollback, with the message to show. */
  onRolledBack(message: string): void;
}

/** The history panel of an entry. */
export function ConfigHistory({ scope, entryKey, role, canWrite, onRolledBack }: ConfigHistoryProps) {
  const history = useConfigHistory(scope.project, scope.env, scope.service, entryKey);
  const actor = useActorNames(atLeast(role, 'admin'));
  const list = history.data ?? [];
  const [from, setFrom] = useState<number | ''>('');
  const [to, setTo] = useState<number | ''>('');
  const [diff, setDiff] = useState<ConfigDiff | null>(null);
  const [rollback, setRollback] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const current = list[0]?.revision;

  async function compare(a: number, b: number) {
    setError(null);
    try {
      setDiff(await configDiff(scope, entryKey, Math.min(a, b), Math.max(a, b)));
    } catch (e) {
      setError(e);
    }
  }

  async function doRollback(revision: number) {
    setRollback(null);
    setError(null);
    try {
      const w = await rollbackConfig(scope, entryKey, revision);
      const v = w.data.published.map((p) => `version ${p.version}`).join(', ');
      onRolledBack(
        `Rolled ${entryKey} back to revision ${revision}: now revision ${w.data.item?.revision ?? '?'}, published as ${v}.`,
      );
      await history.refetch();
      setDiff(null);
    } catch (e) {
      setError(e);
    }
  }

  // An entry never written has no history (the page says it does not exist).
  if (history.error instanceof ApiError && history.error.status === 404) return null;

  const options = list.map((r) => (
    <option key={r.revision} value={r.revision}>
      r{r.revision} ({r.action})
    </option>
  ));

  return (
    <section className="panel" aria-labelledby="hist-title">
      <h2 id="hist-title">History of {entryKey}</h2>
      <ErrorNote error={history.error ?? error} />
      <div className="row compare">
        <label className="inline">
          Compare
          <select aria-label="From revision" value={from} onChange={(e) => setFrom(Number(e.target.value))}>
            <option value="">revision…</option>
            {options}
          </select>
        </label>
        <label className="inline">
          with
          <select aria-label="To revision" value={to} onChange={(e) => setTo(Number(e.target.value))}>
            <option value="">revision…</option>
            {options}
          </select>
        </label>
        <button
          type="button"
          disabled={from === '' || to === '' || from === to}
          onClick={() => void compare(Number(from), Number(to))}
        >
          Show diff
        </button>
      </div>
      {diff && (
        <section className="diff-result" aria-label={`Diff of revisions ${diff.from} and ${diff.to}`}>
          {diff.diff === '' ? (
            <p className="muted">
              Revisions {diff.from} and {diff.to} have the same text.
            </p>
          ) : (
            <>
              <UnifiedDiff diff={diff.diff} label={`Revision ${diff.from} → ${diff.to}`} />
              {!diff.changed && (
                <p className="muted">The parsed values are equal: only the text's layout differs.</p>
              )}
            </>
          )}
          <OtherChanges
            from={list.find((r) => r.revision === diff.from)}
            to={list.find((r) => r.revision === diff.to)}
          />
        </section>
      )}
      <div className="table-wrap">
        <table className="history">
          <thead>
            <tr>
              <th scope="col">Revision</th>
              <th scope="col">Action</th>
              <th scope="col" className="wide">
                When
              </th>
              <th scope="col" className="wide">
                By
              </th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((r, i) => {
              const previous = list[i + 1];
              return (
                <tr key={r.revision} data-revision={r.revision}>
                  <th scope="row">
                    r{r.revision}
                    {r.revision === current && <span className="muted"> (current)</span>}
                  </th>
                  <td>
                    <span className={`tag action-${r.action}`}>{r.action}</span>
                    <small className="desc narrow-only">
                      {time(r.at)} · {actor(r.actor)}
                    </small>
                  </td>
                  <td className="wide">{time(r.at)}</td>
                  <td className="wide">{actor(r.actor)}</td>
                  <td className="actions">
                    <div className="buttons">
                      {previous && (
                        <button
                          type="button"
                          className="small"
                          onClick={() => void compare(previous.revision, r.revision)}
                        >
                          Diff with r{previous.revision}
                        </button>
                      )}
                      {canWrite && r.revision !== current && r.entry && (
                        <button type="button" className="small" onClick={() => setRollback(r.revision)}>
                          Roll back to r{r.revision}
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <Confirm
        open={rollback !== null}
        title={`Roll ${entryKey} back to revision ${rollback}?`}
        confirmLabel="Roll back"
        onCancel={() => setRollback(null)}
        onConfirm={() => rollback !== null && void doRollback(rollback)}
      >
        <p>
          The value, schema, overrides and settings of revision {rollback} become current again as a new
          revision, and {scope.service}'s configuration in {scope.env} is published; SDKs pick it up within
          seconds. Nothing is deleted.
        </p>
      </Confirm>
    </section>
  );
}
