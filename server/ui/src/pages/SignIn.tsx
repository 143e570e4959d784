// The sign-in screen: e-mail and password, or an admin API token exchanged for a session; and,
// when the server has an OpenID provider, "Sign in with <provider>" (a full-page navigation to
// /v1/session/oidc/start; the provider sends the browser back to /ui/, signed in or with
// ?sso_error=CODE, explained here).
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, ok } from '../api/client';
import { useAuth } from '../auth';
import { ErrorNote } from '../components/ErrorNote';

/** What a refused single sign-on (`?sso_error=CODE` from the callback) means, by code. */
const SSO_ERRORS: Record<string, string> = {
  FORBIDDEN:
    'Your account has no role in Burgee: no role mapping matches your groups or e-mail domain, or your user is disabled. Ask an administrator.',
  UNAUTHORIZED: 'The identity provider did not sign you in, or its answer could not be verified. Try again.',
  UNAVAILABLE: 'The identity provider could not be reached. Try again later.',
  INTERNAL: 'Signing you in failed on the server; see its log.',
};

/** The refusal named in the page's URL, if any. */
function ssoError(): string | undefined {
  const code = new URLSearchParams(window.location.search).get('sso_error');
  if (!code) return undefined;
  return SSO_ERRORS[code] ?? `Single sign-on failed (${code}).`;
}

/** Sign-in with a password or an API token. */
export function SignIn() {
  const { signIn } = useAuth();
  const [mode, setMode] = useState<'password' | 'token'>('password');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [refused] = useState(ssoError);
  const sso = useQuery({
    queryKey: ['sso'],
    queryFn: async () => (await ok(api.GET('/v1/session/oidc'))).data,
    staleTime: Number.POSITIVE_INFINITY,
  });

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await signIn(
        mode === 'password'
          ? { email: String(form.get('email') ?? ''), password: String(form.get('password') ?? '') }
          : { token: String(form.get('token') ?? '').trim() },
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="signin">
      <h1>Sign in to Burgee</h1>
      {refused && (
        <p className="error" role="alert">
          <strong>Single sign-on refused: </strong>
          {refused}
        </p>
      )}
      {sso.data?.enabled && sso.data.start_url && (
        <>
          <a className="button primary sso" href={sso.data.start_url}>
            Sign in with {sso.data.name}
          </a>
          <p className="separator" aria-hidden="true">
            or
          </p>
        </>
      )}
      <div role="tablist" aria-label="Sign-in method" className="tabs">
        <button
          type="button"
          role="tab"
          aria-selected={mode === 'password'}
          onClick={() => setMode('password')}
        >
          E-mail and password
        </button>
        <button type="button" role="tab" aria-selected={mode === 'token'} onClick={() => setMode('token')}>
          API token
        </button>
      </div>
      <form onSubmit={submit} aria-label="Sign in">
        {mode === 'password' ? (
          <>
            <label>
              E-mail
              <input name="email" type="email" autoComplete="username" required />
            </label>
            <label>
              Password
              <input name="password" type="password" autoComplete="current-password" required />
            </label>
          </>
        ) : (
          <label>
            API token
            <input name="token" type="password" autoComplete="off" placeholder="bga_…" required />
            <small>The token is exchanged for a session cookie; the page does not keep it.</small>
          </label>
        )}
        <ErrorNote error={error} />
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <p className="hint">
        The first start of <code>burgee serve</code> prints the admin’s e-mail and one-time password and an
        admin token (also in <code>credentials.env</code>).
      </p>
    </main>
  );
}
