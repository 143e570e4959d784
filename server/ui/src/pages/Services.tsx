// The configuration centre's first screen: the services of the project (each has its own
// entries in every environment, published as one signed config document per environment),
// a form to create one, and their descriptions (editors change them in place).
import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { atLeast } from '../api/client';
import { configKeys, putService, useServices } from '../api/configs';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';
import '../configs.css';

const time = (ms: number) => new Date(ms).toLocaleString();

/** The services screen. */
export default function Services() {
  const { project, env, role } = useCurrent();
  const services = useServices(project);
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const canEdit = atLeast(role, 'editor');
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState('');
  const list = services.data ?? [];

  async function run(what: () => Promise<unknown>, done: string) {
    setError(null);
    setNote('');
    try {
      await what();
      setNote(done);
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      await queryClient.invalidateQueries({ queryKey: configKeys.services(project) });
    }
  }

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const key = String(f.get('key') ?? '').trim();
    const description = String(f.get('description') ?? '').trim();
    if (list.some((s) => s.key === key)) {
      setError(new Error(`${key} is already a service of ${project}.`));
      return;
    }
    if (await run(() => putService(project, key, description), `Created service ${key}.`)) {
      navigate(`/p/${project}/e/${env}/configs/${encodeURIComponent(key)}`);
    }
  }

  return (
    <section aria-labelledby="svc-title">
      <h1 id="svc-title">Configuration</h1>
      <p className="muted">
        Each service has its own configuration entries in every environment, published as one signed document
        its SDKs read.
      </p>
      <ErrorNote error={error ?? services.error} />
      {note && (
        <p className="ok" role="status">
          {note}
        </p>
      )}
      {canEdit && (
        <form className="row panel" onSubmit={(e) => void create(e)} aria-label="Create a service">
          <label>
            <span className="label">Service name</span>
            <input name="key" required pattern="[A-Za-z0-9_\-]{1,64}" placeholder="e.g. checkout-api" />
          </label>
          <label className="grow">
            <span className="label">Description</span>
            <input name="description" placeholder="What the service is" />
          </label>
          <button type="submit" className="primary">
            Create service
          </button>
        </form>
      )}
      {services.isPending && <p aria-busy="true">Loading…</p>}
      {services.data && list.length === 0 && (
        <p className="muted">
          No services in {project} yet{canEdit ? ': create the first one above.' : '.'}
        </p>
      )}
      {list.length > 0 && (
        <div className="table-wrap">
          <table className="services">
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Description</th>
                <th scope="col" className="wide">
                  Created
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((s) => (
                <tr key={s.key} data-service={s.key}>
                  <th scope="row">
                    <Link to={`/p/${project}/e/${env}/configs/${encodeURIComponent(s.key)}`}>{s.key}</Link>
                  </th>
                  <td>
                    {canEdit ? (
                      <input
                        className="description"
                        aria-label={`Description of ${s.key}`}
                        defaultValue={s.description}
                        onBlur={(x) =>
                          x.target.value !== s.description &&
                          void run(
                            () => putService(project, s.key, x.target.value),
                            `Saved the description of ${s.key}.`,
                          )
                        }
                      />
                    ) : (
                      s.description || <span className="muted">—</span>
                    )}
                  </td>
                  <td className="wide">{time(s.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
