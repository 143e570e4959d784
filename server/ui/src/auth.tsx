// Sign-in state, on the server's session routes: `POST /v1/session` with e-mail and password
// (or an admin API token to exchange) sets an HttpOnly SameSite=Strict cookie and answers the
// user with a CSRF token; `GET /v1/session` gives the same while signed in (so a reload keeps
// the session); `DELETE /v1/session` signs out, `DELETE /v1/sessions` everywhere. The page never
// holds a credential: the cookie is the browser's, the CSRF token lives in memory.
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import {
  ApiError,
  api,
  clearCredentials,
  ok,
  type Schemas,
  SIGNED_OUT,
  setSessionCredentials,
} from './api/client';

/** The signed-in caller: a user, or an exchanged API token. */
export type User = Schemas['SessionUser'];

/** What [`useAuth`] gives. */
export interface Auth {
  /** The caller, or null when signed out; undefined while the first check runs. */
  user: User | null | undefined;
  /** Signs in with e-mail and password, or with an API token. Throws [`ApiError`]. */
  signIn(body: { email: string; password: string } | { token: string }): Promise<void>;
  /** Signs out (here, or on every device). */
  signOut(everywhere?: boolean): Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

/** Provides [`useAuth`]: asks the server for the session once on start. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);

  const accept = useCallback((u: User) => {
    setSessionCredentials(u.csrf_token);
    setUser(u);
  }, []);

  useEffect(() => {
    let live = true;
    api
      .GET('/v1/session')
      .then(({ data }) => live && (data ? accept(data) : setUser(null)))
      .catch(() => live && setUser(null));
    const ended = () => {
      clearCredentials();
      setUser(null);
    };
    window.addEventListener(SIGNED_OUT, ended);
    return () => {
      live = false;
      window.removeEventListener(SIGNED_OUT, ended);
    };
  }, [accept]);

  const signIn = useCallback<Auth['signIn']>(
    async (body) => accept((await ok(api.POST('/v1/session', { body }))).data),
    [accept],
  );

  const signOut = useCallback<Auth['signOut']>(async (everywhere = false) => {
    const { response, error } = everywhere
      ? await api.DELETE('/v1/sessions')
      : await api.DELETE('/v1/session');
    if (!response.ok && response.status !== 401) throw new ApiError(response.status, error);
    clearCredentials();
    setUser(null);
  }, []);

  const value = useMemo(() => ({ user, signIn, signOut }), [user, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The sign-in state (inside [`AuthProvider`]). */
export function useAuth(): Auth {
  const a = useContext(AuthContext);
  if (!a) throw new Error('useAuth outside AuthProvider');
  return a;
}
