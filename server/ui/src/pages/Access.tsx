// Access: each environment's public keys (everyone), and for admins console users
// (Users.tsx) and the API tokens, SDK keys and client-side keys of the project; a new secret is
// shown once; revocation asks first.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, atLeast, ok, ROLES, type Role, type Schemas } from '../api/client';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';
import { PublicKeys } from '../components/PublicKeys';
import { useCurrent } from '../components/Shell';
import { Users } from './Users';

type Token = Schemas['TokenInfo'];

/** The access screen. */
export default function Access() {
  const { project, role, environments } = useCurrent();
  const queryClient = useQueryClient();
  const isAdmin = atLeast(role, 'admin');
  const tokens = useQuery({
    queryKey: ['tokens', project],
    enabled: isAdmin,
    queryFn: async () => (await ok(api.GET('/v1/tokens', { params: { query: { project } } }))).data,
  });
  const [kind, setKind] = useState('admin');
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const [revoke, setRevoke] = useState<Token | null>(null);
  const [error, setError] = useState<unknown>(null);

  if (!isAdmin) {
    return (
      <section>
        <h1>Access</h1>
        <p className="note">Tokens and keys are managed by admins; your role is {role}.</p>
        <PublicKeys project={project} environments={environments} />
      </section>
    );
  }

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setError(null);
    try {
      const c = await ok(
        api.POST('/v1/tokens', {
          body: {
            kind,
            name: String(f.get('name') ?? ''),
            project,
            role: kind === 'admin' ? (String(f.get('role')) as Role) : null,
            environment: kind === 'admin' ? null : String(f.get('environment') ?? ''),
          },
        }),
      );
      setSecret({ name: c.data.info.name, token: c.data.token });
      e.currentTarget?.reset();
      await queryClient.invalidateQueries({ queryKey: ['tokens', project] });
    } catch (err) {
      setError(err);
    }
  }

  async function doRevoke(t: Token) {
    setRevoke(null);
    try {
      await ok(api.DELETE('/v1/tokens/{id}', { params: { path: { id: t.id } } }));
      await queryClient.invalidateQueries({ queryKey: ['tokens', project] });
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section aria-labelledby="x-title">
      <h1 id="x-title">Access</h1>
      <Users project={project} />
      <form className="panel" onSubmit={create} aria-label="Create a token">
        <h2>Tokens and keys</h2>
        <div className="row">
          <label>
            Kind
            <select value={kind} onChange={(e) => setKind(e.target.value)}>
              <option value="admin">API token (a role)</option>
              <option value="sdk">SDK key (server-side, one environment)</option>
              <option value="client">Client-side key (public, one environment)</option>
            </select>
          </label>
          <label>
            Name
            <input name="name" required placeholder="e.g. ci-deploys" />
          </label>
          {kind === 'admin' ? (
            <label>
              Role
              <select name="role" defaultValue="viewer">
                {ROLES.map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            </label>
          ) : (
            <label>
              Environment
              <select name="environment">
                {environments.map((e) => (
                  <option key={e.key}>{e.key}</option>
                ))}
              </select>
            </label>
          )}
          <button type="submit" className="primary">
            Create
          </button>
        </div>
      </form>
      {secret && (
        <div className="panel secret" role="alert">
          <h2>Secret of {secret.name}</h2>
          <p>Copy it now: it is shown only this once (the server keeps only its hash).</p>
          <input readOnly value={secret.token} aria-label="New secret" onFocus={(e) => e.target.select()} />
          <div className="row">
            <button type="button" onClick={() => void navigator.clipboard?.writeText(secret.token)}>
              Copy
            </button>
            <button type="button" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <ErrorNote error={tokens.error ?? error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Role or environment</th>
              <th scope="col">Created</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {(tokens.data ?? []).map((t) => (
              <tr key={t.id} data-token={t.name}>
                <th scope="row">
                  {t.name || <span className="muted">(unnamed)</span>} <small className="muted">{t.id}</small>
                </th>
                <td>{t.kind}</td>
                <td>{t.role ?? t.environment ?? ''}</td>
                <td>
                  {new Date(t.created_at).toLocaleDateString()} by {t.created_by}
                </td>
                <td>
                  {t.revoked_at ? (
                    <span className="muted">revoked</span>
                  ) : (
                    <button type="button" className="small danger" onClick={() => setRevoke(t)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Confirm
        open={revoke !== null}
        title={`Revoke ${revoke?.name || revoke?.id}?`}
        confirmLabel="Revoke"
        onCancel={() => setRevoke(null)}
        onConfirm={() => revoke && void doRevoke(revoke)}
      >
        <p>It is refused from now on; this cannot be undone.</p>
      </Confirm>
      <PublicKeys project={project} environments={environments} />
    </section>
  );
}
