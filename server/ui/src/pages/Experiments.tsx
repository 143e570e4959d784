// The experiments of a project: its flags with an experiment definition, each with its
// metrics and the rollout it analyses in the current environment, linking to its results; and
// a way to set up an experiment on another flag.
import '../experiments.css';
import { type FormEvent, useMemo } from 'react';
import { Link, useNavigate } from 'react-router';
import { atLeast } from '../api/client';
import { useFlags } from '../api/queries';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';
import { experimentRollout } from '../model/experiment';
import { toPercent } from '../model/rollout';

/** The experiment list. */
export default function Experiments() {
  const { project, env, environments, role } = useCurrent();
  const flags = useFlags(project, {});
  const navigate = useNavigate();
  const experiments = useMemo(() => (flags.data ?? []).filter((f) => f.experiment), [flags.data]);
  const others = useMemo(() => (flags.data ?? []).filter((f) => !f.experiment), [flags.data]);
  const canDefine = atLeast(role, environments.some((e) => e.protected) ? 'publisher' : 'editor');
  const base = `/p/${project}/e/${env}/experiments`;

  function setUp(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const key = String(new FormData(e.currentTarget).get('flag') ?? '');
    if (key) navigate(`${base}/${encodeURIComponent(key)}`);
  }

  return (
    <section aria-labelledby="experiments-title">
      <h1 id="experiments-title">Experiments</h1>
      <ErrorNote error={flags.error} />
      <p className="count" aria-live="polite">
        {flags.isPending ? 'Loading…' : `${experiments.length} experiments; results shown for ${env}.`}
      </p>
      {experiments.length > 0 && (
        <div className="table-wrap">
          <table className="experiments">
            <thead>
              <tr>
                <th scope="col">Flag</th>
                <th scope="col">Primary metric</th>
                <th scope="col">Guardrail metrics</th>
                <th scope="col">Rollout in {env}</th>
                <th scope="col">Owner</th>
              </tr>
            </thead>
            <tbody>
              {experiments.map((f) => {
                const spec = f.experiment;
                if (!spec) return null;
                const rollout = experimentRollout(f, spec, env);
                return (
                  <tr key={f.key} data-experiment={f.key}>
                    <th scope="row">
                      <Link to={`${base}/${encodeURIComponent(f.key)}`}>{f.key}</Link>
                      {f.description && <small className="desc">{f.description}</small>}
                    </th>
                    <td>
                      {spec.primary_metric.key} <span className="muted">({spec.primary_metric.kind})</span>
                    </td>
                    <td>
                      {(spec.guardrail_metrics ?? []).map((m) => (
                        <span className="tag" key={m.key}>
                          {m.key}
                        </span>
                      ))}
                    </td>
                    <td>
                      {rollout.where}:{' '}
                      {rollout.weights ? (
                        rollout.weights.map((w) => `${w.variant} ${toPercent(w.weight)} %`).join(' · ')
                      ) : (
                        <span className="muted">not a rollout here</span>
                      )}
                    </td>
                    <td>{f.owner}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {canDefine && others.length > 0 && (
        <form className="panel row set-up" onSubmit={setUp} aria-label="Set up an experiment">
          <label>
            Set up an experiment on
            <select name="flag">
              {others.map((f) => (
                <option key={f.key}>{f.key}</option>
              ))}
            </select>
          </label>
          <button type="submit">Set up</button>
        </form>
      )}
    </section>
  );
}
