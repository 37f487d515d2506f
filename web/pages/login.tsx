import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { ErrorNote, Field, type Submit } from '../components.js';

/** Password and, when the account has it, the current TOTP code; the server sets the session cookie. */
export function LoginPage(props: { onLoggedIn: (csrf: string) => void; ended?: boolean }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [needsCode, setNeedsCode] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  const codeInput = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const submit = async (event: Submit) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api<{ csrf_token: string }>('POST', '/v1/auth/login', { username: username.trim(), password, ...(totp.trim() ? { totp: totp.trim() } : {}) });
      props.onLoggedIn(answer.csrf_token);
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === 'totp_required') {
        setNeedsCode(true);
        setError(new ApiError(failure.status, failure.code, 'This account uses two-step verification: enter the current code from your authenticator app.'));
        setTimeout(() => codeInput.current?.focus(), 0);
      } else {
        setError(failure);
      }
      setTotp('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login">
      <form class="card login-form" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">
          <span class="logo" aria-hidden="true" /> Airlock
        </h1>
        <p class="muted">Log in to decide requests and read the audit chain.</p>
        {props.ended ? <p class="note">Your session has ended. Log in again.</p> : null}
        <Field label="Username">
          <input ref={first} name="username" autoComplete="username" autoCapitalize="none" spellcheck={false} required value={username} onInput={(event) => setUsername(event.currentTarget.value)} />
        </Field>
        <Field label="Password">
          <input name="password" type="password" autoComplete="current-password" required value={password} onInput={(event) => setPassword(event.currentTarget.value)} />
        </Field>
        <Field label={needsCode ? 'TOTP code' : 'TOTP code (if you set it up)'} hint="6 digits from your authenticator app, or a recovery code">
          <input
            ref={codeInput}
            name="totp"
            autoCapitalize="none"
            spellcheck={false}
            autoComplete="one-time-code"
            minLength={6}
            maxLength={32}
            required={needsCode}
            value={totp}
            onInput={(event) => setTotp(event.currentTarget.value)}
          />
        </Field>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
