// Projects and environments: every project the caller sees (admins of all projects create
// them: development, staging and a protected production by default) and the current project's
// environments with their protection, newest published version and signing-key variable
// (admins rename them, protect or unprotect them, add and delete them). Every write goes
// through the API with If-Match where the resource has a revision.
import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { api, atLeast, type Environment, ifMatch, ok } from '../api/client';
import { keys, useProjects } from '../api/queries';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';

/** The projects and environments screen. */
export default function Projects() {
  const { project, env, environments, role } = useCurrent();
  const projects = useProjects();
  const queryClient = useQueryClient();
  const isAdmin = atLeast(role, 'admin');
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState('');
  const [doomed, setDoomed] = useState<Environment | null>(null);

  async function run(what: () => Promise<unknown>, done: string) {
    setError(null);
    setNote('');
    try {
      await what();
      setNote(done);
    } catch (e) {
      setError(e);
    } finally {
      await queryClient.invalidateQueries({ queryKey: keys.projects });
      await queryClient.invalidateQueries({ queryKey: keys.environments(project) });
    }
  }

  function createProject(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const key = String(f.get('key') ?? '').trim();
    const name = String(f.get('name') ?? '').trim();
    const form = e.currentTarget;
    void run(async () => {
      await ok(api.POST('/v1/projects', { body: { key, name: name || null } }));
      form.reset();
    }, `Created project ${key} with development, staging and a protected production.`);
  }

  function createEnvironment(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const key = String(f.get('key') ?? '').trim();
    const form = e.currentTarget;
    void run(async () => {
      await ok(
        api.POST('/v1/projects/{project}/environments', {
          params: { path: { project } },
          body: { key, name: String(f.get('name') ?? '') || null, protected: f.get('protected') === 'on' },
        }),
      );
      form.reset();
    }, `Created environment ${key}; its first version is published.`);
  }

  function update(e: Environment, change: { name?: string; protected?: boolean }) {
    void run(
      () =>
        ok(
          api.PUT('/v1/projects/{project}/environments/{env}', {
            params: { path: { project, env: e.key }, header: ifMatch(e.revision) },
            body: { name: change.name ?? e.name, protected: change.protected ?? e.protected },
          }),
        ),
      change.protected === undefined
        ? `Renamed ${e.key}.`
        : `${e.key} is ${change.protected ? 'protected: changes need the publisher role' : 'no longer protected'}.`,
    );
  }

  function remove(e: Environment) {
    setDoomed(null);
    void run(
      () =>
        ok(
          api.DELETE('/v1/projects/{project}/environments/{env}', {
            params: { path: { project, env: e.key }, header: ifMatch(e.revision) },
          }),
        ),
      `Deleted environment ${e.key}; its SDK keys no longer work.`,
    );
  }

  return (
    <section aria-labelledby="p-title">
      <h1 id="p-title">Projects and environments</h1>
      <ErrorNote error={error ?? projects.error} />
      {note && (
        <p className="ok" role="status">
          {note}
        </p>
      )}
      <section className="panel" aria-labelledby="env-title">
        <h2 id="env-title">Environments of {project}</h2>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Environment</th>
                <th scope="col">Name</th>
                <th scope="col">Protected</th>
                <th scope="col">Published</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {environments.map((e) => (
                <tr key={e.key}>
                  <td>
                    <Link to={`/p/${project}/e/${e.key}/flags`}>{e.key}</Link>
                  </td>
                  <td>
                    {isAdmin ? (
                      <input
                        aria-label={`Name of ${e.key}`}
                        defaultValue={e.name}
                        onBlur={(x) => x.target.value !== e.name && update(e, { name: x.target.value })}
                      />
                    ) : (
                      e.name
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      role="switch"
                      className="switch"
                      aria-checked={e.protected}
                      aria-label={`${e.key} protected`}
                      disabled={!isAdmin}
                      onClick={() => update(e, { protected: !e.protected })}
                    >
                      <span>{e.protected ? 'Yes' : 'No'}</span>
                    </button>
                  </td>
                  <td>version {e.latest_version}</td>
                  <td>
                    {isAdmin && e.key !== env && (
                      <button type="button" className="small danger" onClick={() => setDoomed(e)}>
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {isAdmin && (
          <form className="row" onSubmit={createEnvironment} aria-label="Create an environment">
            <label>
              <span className="label">Key</span>
              <input name="key" required placeholder="qa" />
            </label>
            <label>
              <span className="label">Name</span>
              <input name="name" placeholder="QA" />
            </label>
            <label className="inline">
              <input type="checkbox" name="protected" /> Protected
            </label>
            <button type="submit">Create environment</button>
          </form>
        )}
      </section>
      <section className="panel" aria-labelledby="proj-title">
        <h2 id="proj-title">Projects</h2>
        <ul>
          {(projects.data ?? []).map((p) => (
            <li key={p.key}>
              <Link to={`/p/${p.key}`}>{p.name || p.key}</Link> <code>{p.key}</code>
              {p.description ? ` · ${p.description}` : ''}
            </li>
          ))}
        </ul>
        {isAdmin && (
          <form className="row" onSubmit={createProject} aria-label="Create a project">
            <label>
              <span className="label">Project key</span>
              <input name="key" required placeholder="mobile-app" />
            </label>
            <label>
              <span className="label">Project name</span>
              <input name="name" placeholder="Mobile app" />
            </label>
            <button type="submit">Create project</button>
          </form>
        )}
      </section>
      <Confirm
        open={doomed !== null}
        title={`Delete environment ${doomed?.key}?`}
        confirmLabel="Delete"
        onCancel={() => setDoomed(null)}
        onConfirm={() => doomed && remove(doomed)}
      >
        <p>Its targeting and SDK keys go with it; published snapshots and the audit log stay.</p>
      </Confirm>
    </section>
  );
}
