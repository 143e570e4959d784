// History of an environment: published versions, the diff of any two, the exact signed
// envelope of a version, and rollback (republishing an old version's targeting) with
// confirmation.
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, atLeast, ok } from '../api/client';
import { keys, useActorNames, useVersions } from '../api/queries';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';

const time = (ms: number) => new Date(ms).toLocaleString();

/** The history screen. */
export default function History() {
  const { project, env, role } = useCurrent();
  const versions = useVersions(project, env);
  const queryClient = useQueryClient();
  const list = versions.data ?? [];
  const [from, setFrom] = useState<number | ''>('');
  const [to, setTo] = useState<number | ''>('');
  const [diff, setDiff] = useState<Awaited<ReturnType<typeof loadDiff>> | null>(null);
  const [envelope, setEnvelope] = useState<{ version: number; text: string } | null>(null);
  const [rollback, setRollback] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const canRollback = atLeast(role, 'publisher');
  const actor = useActorNames(atLeast(role, 'admin'));

  async function loadDiff(a: number, b: number) {
    return (
      await ok(
        api.GET('/v1/projects/{project}/environments/{env}/diff', {
          params: { path: { project, env }, query: { from: a, to: b } },
        }),
      )
    ).data;
  }

  async function compare(a: number, b: number) {
    setError(null);
    try {
      setDiff(await loadDiff(Math.min(a, b), Math.max(a, b)));
    } catch (e) {
      setError(e);
    }
  }

  async function showEnvelope(version: number) {
    setError(null);
    try {
      const e = await ok(
        api.GET('/v1/projects/{project}/environments/{env}/versions/{version}', {
          params: { path: { project, env, version } },
        }),
      );
      const body = e.data as { payload?: string };
      const payload = body.payload ? JSON.parse(atob(body.payload)) : null;
      setEnvelope({ version, text: JSON.stringify({ envelope: e.data, decoded_payload: payload }, null, 2) });
    } catch (err) {
      setError(err);
    }
  }

  async function doRollback(version: number) {
    setRollback(null);
    setError(null);
    try {
      const w = await ok(
        api.POST('/v1/projects/{project}/environments/{env}/rollback', {
          params: { path: { project, env } },
          body: { version },
        }),
      );
      const v = w.data.published.map((p) => p.version).join(', ');
      setDone(`Rolled back to version ${version}: published as version ${v}.`);
      await queryClient.invalidateQueries({ queryKey: keys.versions(project, env) });
      await queryClient.invalidateQueries({ queryKey: keys.flags(project) });
    } catch (e) {
      setError(e);
    }
  }

  return (
    <section aria-labelledby="h-title">
      <h1 id="h-title">History of {env}</h1>
      <ErrorNote error={versions.error ?? error} />
      {done && (
        <p className="ok" role="status">
          {done}
        </p>
      )}
      <div className="row compare">
        <label className="inline">
          Compare
          <select aria-label="From version" value={from} onChange={(e) => setFrom(Number(e.target.value))}>
            <option value="">version…</option>
            {list.map((v) => (
              <option key={v.version}>{v.version}</option>
            ))}
          </select>
        </label>
        <label className="inline">
          with
          <select aria-label="To version" value={to} onChange={(e) => setTo(Number(e.target.value))}>
            <option value="">version…</option>
            {list.map((v) => (
              <option key={v.version}>{v.version}</option>
            ))}
          </select>
        </label>
        <button
          type="button"
          disabled={from === '' || to === ''}
          onClick={() => void compare(Number(from), Number(to))}
        >
          Show diff
        </button>
      </div>
      {diff && (
        <section className="panel" aria-label="Diff">
          <h2>
            Version {diff.from} → {diff.to}
          </h2>
          {diff.changes.length === 0 && <p className="muted">No differences in flags or segments.</p>}
          <ul className="changes">
            {diff.changes.map((c) => (
              <li key={`${c.kind}/${c.key}`}>
                <span className={`tag ${c.change}`}>{c.change}</span> {c.kind} <strong>{c.key}</strong>
                {c.fields.length > 0 && <span className="muted"> ({c.fields.join(', ')})</span>}
              </li>
            ))}
          </ul>
        </section>
      )}
      {envelope && (
        <div className="panel">
          <h2>Signed envelope of version {envelope.version}</h2>
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
          <pre className="code" tabIndex={0}>
            {envelope.text}
          </pre>
        </div>
      )}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col" className="wide">
                Published
              </th>
              <th scope="col" className="wide">
                By
              </th>
              <th scope="col">Reason</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((v, i) => (
              <tr key={v.version} data-version={v.version}>
                <th scope="row">{v.version}</th>
                <td className="wide">{time(v.issued_at)}</td>
                <td className="wide">{actor(v.published_by)}</td>
                <td>
                  {v.reason}
                  <small className="desc narrow-only">
                    {time(v.issued_at)} · {actor(v.published_by)}
                  </small>
                </td>
                <td className="actions">
                  <div className="buttons">
                    <button type="button" className="small" onClick={() => void showEnvelope(v.version)}>
                      Envelope
                    </button>
                    {list[i + 1] && (
                      <button
                        type="button"
                        className="small"
                        onClick={() => void compare(list[i + 1]?.version ?? v.version, v.version)}
                      >
                        Diff with previous
                      </button>
                    )}
                    {canRollback && i > 0 && (
                      <button type="button" className="small" onClick={() => setRollback(v.version)}>
                        Roll back to {v.version}
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Confirm
        open={rollback !== null}
        title={`Roll ${env} back to version ${rollback}?`}
        confirmLabel="Roll back"
        onCancel={() => setRollback(null)}
        onConfirm={() => rollback !== null && void doRollback(rollback)}
      >
        <p>
          The targeting and segments of version {rollback} are published again as a new version; SDKs pick it
          up within seconds. Nothing is deleted.
        </p>
      </Confirm>
    </section>
  );
}
