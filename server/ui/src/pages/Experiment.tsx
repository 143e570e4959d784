// One experiment: its results in the current environment (refreshed while shown) and its
// definition, editable. The environment switch of the header chooses whose events are analysed.
import '../experiments.css';
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { atLeast, type Flag } from '../api/client';
import { useExperimentResults, useFlag } from '../api/queries';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';
import { ResultsView } from '../experiments/Results';
import { SpecEditor } from '../experiments/SpecEditor';
import { DEFAULTS, experimentRollout } from '../model/experiment';

/** The page of one experiment; a new instance per flag and environment. */
export default function Experiment() {
  const { project, env, flag } = useParams();
  return <ExperimentPage key={`${project}/${env}/${flag}`} />;
}

function ExperimentPage() {
  const { project, env, environment, environments, role } = useCurrent();
  const key = useParams().flag ?? '';
  const loaded = useFlag(project, key);
  const [opened, setOpened] = useState<Flag>();
  const [generation, setGeneration] = useState(0);
  const [saved, setSaved] = useState('');
  // The definition editor starts from the flag as opened; a background refetch does not replace
  // a draft (someone else's change shows as a 412 on save).
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset only on first load and after a save or reload
  useEffect(() => {
    if (loaded.data) setOpened(loaded.data.data);
  }, [loaded.data === undefined, generation]);
  const flag = loaded.data?.data;
  const spec = flag?.experiment ?? undefined;
  const rollout = flag && spec ? experimentRollout(flag, spec, env) : undefined;
  const results = useExperimentResults(project, key, env, !!rollout?.weights);
  const canDefine = atLeast(role, environments.some((e) => e.protected) ? 'publisher' : 'editor');
  const elsewhere =
    flag && spec
      ? environments.filter((e) => e.key !== env && experimentRollout(flag, spec, e.key).weights)
      : [];

  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!flag || !opened) return <p aria-busy="true">Loading…</p>;
  return (
    <article className="experiment" aria-labelledby="experiment-title">
      <header className="title-row">
        <h1 id="experiment-title">
          Experiment {key} <span className="muted">{flag.type}</span>
        </h1>
        <span className={`badge ${environment?.protected ? 'protected' : ''}`}>{env}</span>
        <Link to={`/p/${project}/e/${env}/flags/${encodeURIComponent(key)}`}>Targeting of {key}</Link>
      </header>
      {!spec && (
        <p className="note">
          {key} is not an experiment yet. Name its primary metric below (and guardrails) and choose the
          rollout to analyse; results appear once SDKs send exposures and track events.
        </p>
      )}
      {spec && rollout && !rollout.weights && (
        <p className="note">
          In {env}, {rollout.where} of {key} does not serve a percentage rollout, so there is nothing to
          analyse here.
          {elsewhere.length > 0 && (
            <>
              {' '}
              Results in:{' '}
              {elsewhere.map((e, i) => (
                <span key={e.key}>
                  {i > 0 && ', '}
                  <Link to={`/p/${project}/e/${e.key}/experiments/${encodeURIComponent(key)}`}>{e.key}</Link>
                </span>
              ))}
              .
            </>
          )}
        </p>
      )}
      <ErrorNote error={results.error} />
      {results.data && (
        <>
          <p className="muted refresh">
            Results of {env} at {new Date(results.dataUpdatedAt).toLocaleTimeString()}, refreshed every 30 s.{' '}
            <button type="button" className="small" onClick={() => void results.refetch()}>
              Refresh now
            </button>
          </p>
          <ResultsView results={results.data} confidence={spec?.confidence ?? DEFAULTS.confidence} />
        </>
      )}
      {saved && <p className="ok">{saved}</p>}
      <SpecEditor
        key={`${opened.revision}-${generation}`}
        project={project}
        flag={opened}
        canEdit={canDefine}
        onSaved={(note) => {
          setSaved(note);
          void loaded.refetch().then(() => setGeneration((g) => g + 1));
        }}
      />
    </article>
  );
}
