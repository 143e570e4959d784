// Console users (admins): who can sign in, with which role and scope; a new user's generated
// password is shown once; disabling ends the user's sessions.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, ok, ROLES, type Role, type Schemas } from '../api/client';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';

type User = Schemas['User'];

/** The users panel of the access screen. */
export function Users({ project }: { project: string }) {
  const queryClient = useQueryClient();
  const users = useQuery({
    queryKey: ['users'],
    queryFn: async () => (await ok(api.GET('/v1/users'))).data,
  });
  const [created, setCreated] = useState<{ email: string; password: string } | null>(null);
  const [disable, setDisable] = useState<User | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setError(null);
    try {
      const c = await ok(
        api.POST('/v1/users', {
          body: {
            email: String(f.get('email') ?? ''),
            name: String(f.get('name') ?? '') || null,
            role: String(f.get('user-role')) as Role,
            project: f.get('scope') === 'project' ? project : null,
          },
        }),
      );
      if (c.data.password) setCreated({ email: c.data.user.email, password: c.data.password });
      form.reset();
      await queryClient.invalidateQueries({ queryKey: ['users'] });
    } catch (err) {
      setError(err);
    }
  }

  async function doDisable(u: User) {
    setDisable(null);
    try {
      await ok(api.DELETE('/v1/users/{id}', { params: { path: { id: u.id } } }));
      await queryClient.invalidateQueries({ queryKey: ['users'] });
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section aria-labelledby="users-title" className="panel">
      <h2 id="users-title">Users</h2>
      <form className="row" onSubmit={create} aria-label="Add a user">
        <label>
          E-mail
          <input name="email" type="email" required autoComplete="off" />
        </label>
        <label>
          Display name
          <input name="name" autoComplete="off" />
        </label>
        <label>
          User role
          <select name="user-role" defaultValue="viewer">
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          Scope
          <select name="scope" defaultValue="project">
            <option value="project">this project</option>
            <option value="all">every project</option>
          </select>
        </label>
        <button type="submit">Add user</button>
      </form>
      {created && (
        <div className="secret" role="alert">
          <p>
            One-time password for <strong>{created.email}</strong>, shown only now:
          </p>
          <input readOnly value={created.password} aria-label="New user's password" />
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      <ErrorNote error={users.error ?? error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Scope</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {(users.data ?? []).map((u) => (
              <tr key={u.id} data-user={u.email}>
                <th scope="row">
                  {u.name || u.email} <small className="muted">{u.email}</small>
                </th>
                <td>{u.role}</td>
                <td>{u.project ?? 'every project'}</td>
                <td>
                  {u.disabled_at ? (
                    <span className="muted">disabled</span>
                  ) : (
                    <button type="button" className="small danger" onClick={() => setDisable(u)}>
                      Disable
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Confirm
        open={disable !== null}
        title={`Disable ${disable?.email}?`}
        confirmLabel="Disable"
        onCancel={() => setDisable(null)}
        onConfirm={() => disable && void doDisable(disable)}
      >
        <p>They can no longer sign in, and their open sessions end.</p>
      </Confirm>
    </section>
  );
}
