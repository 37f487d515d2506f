import { useMemo, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorNote, Field, PageTitle, ShownOnce, Time, type Submit } from '../components.js';
import { useNotify, useSession } from '../session.js';

interface Enrollment {
  readonly secret: string;
  readonly otpauth_uri: string;
  readonly qr: { readonly svg: string };
}

/**
 * The QR code of an enrollment, drawn from the server's SVG: only its view box and path data are
 * taken, so no markup from a string ever reaches the page.
 */
function QrCode(props: { svg: string; label: string }) {
  const shape = useMemo(() => {
    const document = new DOMParser().parseFromString(props.svg, 'image/svg+xml');
    const root = document.documentElement;
    const paths = [...document.querySelectorAll('path')].map((path) => ({ d: path.getAttribute('d') ?? '', fill: path.getAttribute('fill'), stroke: path.getAttribute('stroke') }));
    return { viewBox: root.getAttribute('viewBox') ?? '0 0 33 33', paths };
  }, [props.svg]);
  return (
    <svg class="qr" viewBox={shape.viewBox} role="img" aria-label={props.label} shape-rendering="crispEdges">
      {shape.paths.map((path, index) => (
        <path key={index} d={path.d} fill={path.fill ?? 'none'} stroke={path.stroke ?? undefined} />
      ))}
    </svg>
  );
}

/** Who you are, your session, and TOTP: set up with a QR code, confirmed with a first code, recovery codes shown once. */
export function AccountPage() {
  const session = useSession();
  const notify = useNotify();
  const [enrollment, setEnrollment] = useState<Enrollment | undefined>(undefined);
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState<readonly string[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const { whoami } = session;
  const person = whoami.kind !== 'api_key';

  const start = async () => {
    setError(undefined);
    try {
      setEnrollment(await api<Enrollment>('POST', '/v1/auth/totp/enroll'));
    } catch (failure) {
      setError(failure);
    }
  };

  const confirm = async (event: Submit) => {
    event.preventDefault();
    setError(undefined);
    try {
      const answer = await api<{ recovery_codes: string[] }>('POST', '/v1/auth/totp/confirm', { code: code.trim() });
      setRecovery(answer.recovery_codes);
      setEnrollment(undefined);
      notify('TOTP is on. Store the recovery codes now.', 'ok');
      await session.refresh();
    } catch (failure) {
      setError(failure);
      setCode('');
    }
  };

  return (
    <section>
      <PageTitle>Account</PageTitle>
      <section class="card" aria-labelledby="me-title">
        <h2 id="me-title">You</h2>
        <dl class="facts">
          <div>
            <dt>User</dt>
            <dd>{whoami.user.username}</dd>
          </div>
          <div>
            <dt>Role</dt>
            <dd>{whoami.role}</dd>
          </div>
          <div>
            <dt>Scopes</dt>
            <dd>{whoami.scopes.join(', ')}</dd>
          </div>
          {session.expiresAt ? (
            <div>
              <dt>Session ends</dt>
              <dd>
                <Time iso={session.expiresAt} />
              </dd>
            </div>
          ) : null}
        </dl>
        <div class="buttons">
          <button type="button" class="secondary" onClick={() => void session.logout()}>
            Log out
          </button>
        </div>
      </section>
      {person ? (
        <section class="card" aria-labelledby="totp-title">
          <h2 id="totp-title">Two-step verification (TOTP)</h2>
          {recovery ? (
            <div>
              <p>TOTP is on. These recovery codes each work once in place of a code, if you lose your device. They are shown only now.</p>
              <ShownOnce label="Recovery codes" value={recovery.join(' ')} note="Shown only now: print them or keep them in a password manager." />
            </div>
          ) : session.totpEnrolled ? (
            <p>TOTP is on: you log in and approve HIGH and CRITICAL requests with a code from your authenticator app. An admin can reset it if you lose your device.</p>
          ) : enrollment ? (
            <form onSubmit={confirm}>
              <p>Scan this code with an authenticator app, or enter the secret by hand, then type the code the app shows.</p>
              <QrCode svg={enrollment.qr.svg} label="QR code of your TOTP secret" />
              <ShownOnce label="Secret" value={enrollment.secret} note="Only needed if you cannot scan the code." />
              <Field label="Code from the app">
                <input name="code" required minLength={6} maxLength={8} inputMode="numeric" autoComplete="one-time-code" value={code} onInput={(event) => setCode(event.currentTarget.value)} />
              </Field>
              <div class="buttons">
                <button type="submit">Turn on TOTP</button>
              </div>
            </form>
          ) : (
            <>
              <p>TOTP is off. Approving HIGH and CRITICAL requests needs a code from an authenticator app.</p>
              <div class="buttons">
                <button type="button" onClick={start}>
                  Set up TOTP
                </button>
              </div>
            </>
          )}
          <ErrorNote error={error} />
        </section>
      ) : null}
    </section>
  );
}
