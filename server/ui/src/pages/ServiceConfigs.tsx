// A service's configuration entries in the current environment: key, format, a one-line
// preview of the value (a secret's masked), overrides, revision and last change; filtered by
// key prefix on the server (`?prefix=`, kept in the URL).
import { Link, useLocation, useParams, useSearchParams } from 'react-router';
import { atLeast } from '../api/client';
import { useConfigs, useServices } from '../api/configs';
import { useActorNames } from '../api/queries';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';
import { FORMAT_NAMES, valuePreview } from '../model/config';
import '../configs.css';

const time = (ms: number) => new Date(ms).toLocaleString();

/** The entries screen of one service. */
export default function ServiceConfigs() {
  const { project, env, environment, role, canWrite } = useCurrent();
  const service = useParams().service ?? '';
  const [params, setParams] = useSearchParams();
  const prefix = params.get('prefix') ?? '';
  const entries = useConfigs(project, env, service, prefix);
  const services = useServices(project);
  const description = services.data?.find((s) => s.key === service)?.description;
  const actor = useActorNames(atLeast(role, 'admin'));
  const list = entries.data ?? [];
  const base = `/p/${project}/e/${env}/configs/${encodeURIComponent(service)}`;
  // What the entry editor said when it came back here (a deletion).
  const note = (useLocation().state as { note?: string } | null)?.note;

  return (
    <section aria-labelledby="cfg-title">
      <p className="crumbs">
        <Link to={`/p/${project}/e/${env}/configs`}>Configuration</Link> /
      </p>
      <header className="title-row">
        <h1 id="cfg-title">
          {service} <span className="muted">in {env}</span>
        </h1>
        {canWrite && (
          <Link className="button primary" to={`${base}/new`}>
            New entry
          </Link>
        )}
      </header>
      {description && <p className="muted">{description}</p>}
      {note && (
        <p className="ok" role="status">
          {note}
        </p>
      )}
      {!canWrite && (
        <p className="note" role="note">
          Your role ({role}) can view these entries but not change them in {env}
          {environment?.protected ? ' (a protected environment needs publisher)' : ''}.
        </p>
      )}
      <div className="filters">
        <label>
          <span className="label">Key prefix</span>
          <input
            type="search"
            value={prefix}
            placeholder="e.g. db."
            onChange={(e) => {
              const next = new URLSearchParams(params);
              if (e.target.value) next.set('prefix', e.target.value);
              else next.delete('prefix');
              setParams(next, { replace: true });
            }}
          />
        </label>
      </div>
      <ErrorNote error={entries.error} />
      {entries.isPending && <p aria-busy="true">Loading…</p>}
      {entries.data && (
        <p className="count" aria-live="polite">
          {list.length} {list.length === 1 ? 'entry' : 'entries'}
          {prefix ? ` starting with “${prefix}”` : ''}
        </p>
      )}
      {list.length > 0 && (
        <div className="table-wrap">
          <table className="configs">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Format</th>
                <th scope="col">Value</th>
                <th scope="col" className="wide">
                  Overrides
                </th>
                <th scope="col">Revision</th>
                <th scope="col" className="wide">
                  Updated
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((e) => (
                <tr key={e.key} data-entry={e.key}>
                  <th scope="row">
                    <Link to={`${base}/entries/${encodeURIComponent(e.key)}`}>{e.key}</Link>
                    {e.description && <span className="desc">{e.description}</span>}
                  </th>
                  <td>
                    <span className="tag">{FORMAT_NAMES[e.format]}</span>
                  </td>
                  <td className="preview">
                    {e.secret && (
                      <span className="badge secret-badge" title="Encrypted at rest; the value is write-only">
                        Secret
                      </span>
                    )}{' '}
                    <code>{valuePreview(e)}</code>
                  </td>
                  <td className="wide">{e.overrides.length || <span className="muted">none</span>}</td>
                  <td>r{e.revision}</td>
                  <td className="wide">
                    {time(e.updated_at)}
                    <small className="desc">{actor(e.updated_by)}</small>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {entries.data && list.length === 0 && (
        <p className="muted">
          {prefix
            ? `No entry of ${service} in ${env} starts with “${prefix}”.`
            : `${service} has no entries in ${env} yet.`}
        </p>
      )}
    </section>
  );
}
