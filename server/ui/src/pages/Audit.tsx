// The audit log (admins): filters by actor, action, resource, environment and time range,
// newest first, with the hash chain's links checked over the entries shown and the whole
// chain verified by the server (`GET /v1/audit/verify`, admins of all projects).
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, atLeast, ok, type Schemas } from '../api/client';
import { useActorNames } from '../api/queries';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';

type Entry = Schemas['AuditEntry'];

/** Sequence numbers whose `prev_hash` is not the previous entry's `hash` (consecutive entries only). */
export function brokenLinks(entries: Entry[]): number[] {
  const bySeq = new Map(entries.map((e) => [e.seq, e]));
  return entries
    .filter((e) => {
      const prev = bySeq.get(e.seq - 1);
      return prev !== undefined && prev.hash !== e.prev_hash;
    })
    .map((e) => e.seq);
}

const toMs = (local: string) => (local ? new Date(local).getTime() : undefined);

/** The audit screen. */
export default function Audit() {
  const { project, role } = useCurrent();
  const [filters, setFilters] = useState({
    actor: '',
    action: '',
    resource: '',
    environment: '',
    since: '',
    until: '',
  });
  const query = {
    project,
    actor: filters.actor || undefined,
    action: filters.action || undefined,
    resource: filters.resource || undefined,
    environment: filters.environment || undefined,
    since: toMs(filters.since),
    until: toMs(filters.until),
    limit: 1000,
  };
  const actor = useActorNames(atLeast(role, 'admin'));
  const audit = useQuery({
    queryKey: ['audit', query],
    enabled: atLeast(role, 'admin'),
    queryFn: async () => (await ok(api.GET('/v1/audit', { params: { query } }))).data,
  });
  const chain = useQuery({
    queryKey: ['audit', 'verify'],
    enabled: atLeast(role, 'admin'),
    queryFn: async () => (await ok(api.GET('/v1/audit/verify'))).data,
  });
  if (!atLeast(role, 'admin')) {
    return (
      <section>
        <h1>Audit log</h1>
        <p className="note">The audit log is for admins; your role is {role}.</p>
      </section>
    );
  }
  const entries = [...(audit.data ?? [])].reverse();
  const broken = brokenLinks(entries);
  const field = (name: keyof typeof filters, label: string, type = 'text') => (
    <label>
      <span className="label">{label}</span>
      <input
        type={type}
        value={filters[name]}
        onChange={(e) => setFilters({ ...filters, [name]: e.target.value })}
      />
    </label>
  );
  return (
    <section aria-labelledby="a-title">
      <h1 id="a-title">Audit log</h1>
      <search className="filters" aria-label="Filter the audit log">
        {field('actor', 'Actor')}
        {field('action', 'Action')}
        {field('resource', 'Resource')}
        {field('environment', 'Environment')}
        {field('since', 'From', 'datetime-local')}
        {field('until', 'Until', 'datetime-local')}
      </search>
      <ErrorNote error={audit.error} />
      <p className="count" role="status">
        {entries.length} entries ·{' '}
        {broken.length === 0 ? (
          <span className="ok">hash chain links intact over these entries</span>
        ) : (
          <span className="error">chain broken at {broken.join(', ')}</span>
        )}
      </p>
      <p className="count" data-testid="chain-status">
        Whole log:{' '}
        {chain.data ? (
          chain.data.intact ? (
            <span className="ok">{chain.data.entries} entries, hash chain verified</span>
          ) : (
            <span className="error">
              chain broken at #{chain.data.broken_at}: {chain.data.problem}
            </span>
          )
        ) : chain.error ? (
          <span className="muted">verification needs an admin of all projects</span>
        ) : (
          <span aria-busy="true">verifying…</span>
        )}
      </p>
      <div className="table-wrap">
        <table className="audit">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Resource</th>
              <th scope="col">Env</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.seq}>
                <th scope="row">{e.seq}</th>
                <td>{new Date(e.at).toLocaleString()}</td>
                <td>{actor(e.actor)}</td>
                <td>{e.action}</td>
                <td>{e.resource}</td>
                <td>{e.environment ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
