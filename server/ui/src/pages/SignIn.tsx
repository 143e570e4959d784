// The sign-in screen: e-mail and password, or an admin API token exchanged for a session.
import { type FormEvent, useState } from 'react';
import { useAuth } from '../auth';
import { ErrorNote } from '../components/ErrorNote';

/** Sign-in with a password or an API token. */
export function SignIn() {
  const { signIn } = useAuth();
  const [mode, setMode] = useState<'password' | 'token'>('password');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

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
