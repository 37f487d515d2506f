import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { ErrorNote, Field, Quorum, type Submit } from './components.js';
import { linkProps } from './router.js';
import { useNotify, useSession } from './session.js';
import type { Approval } from './types.js';

export type DecisionMode = 'approve' | 'reject';

/** Why the current person cannot decide this request, or undefined when they can. */
export function cannotDecide(request: Approval, session: ReturnType<typeof useSession>): string | undefined {
  if (request.status !== 'PENDING') return `This request is ${request.status.toLowerCase()}.`;
  if (!session.can('approvals:decide')) return 'You may read requests but not decide them.';
  if (request.requested_by === session.whoami.user.id) return 'You asked for this request: someone else must decide it.';
  if (request.approvals.some((approval) => approval.username === session.whoami.user.username)) {
    const missing = request.required_approvals - request.approvals.length;
    return `You approved this request. Waiting for ${missing} more ${missing === 1 ? 'person' : 'people'}.`;
  }
  return undefined;
}

/**
 * Approve or reject one request: a reason (required to reject), and the approver's current TOTP code
 * where the request needs a step-up (HIGH and CRITICAL). A CRITICAL request shows who approved so far.
 */
export function DecisionPanel(props: {
  request: Approval;
  mode: DecisionMode | undefined;
  onMode: (mode: DecisionMode | undefined) => void;
  onDecided: (request: Approval) => void;
}) {
  const { request, mode, onMode } = props;
  const session = useSession();
  const notify = useNotify();
  const [reason, setReason] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const first = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const blocked = cannotDecide(request, session);
  const needsCode = mode === 'approve' && request.step_up_required;
  const idBase = `decide-${request.request_id}`;

  useEffect(() => {
    setError(undefined);
    if (mode) first.current?.focus();
  }, [mode]);

  if (blocked) {
    return (
      <div class="decision">
        <Quorum request={request} />
        {request.status === 'PENDING' ? <p class="note">{blocked}</p> : null}
      </div>
    );
  }

  const submit = async (event: Submit) => {
    event.preventDefault();
    if (!mode) return;
    setBusy(true);
    setError(undefined);
    try {
      const body = { ...(reason.trim() ? { reason: reason.trim() } : {}), ...(needsCode ? { totp: code.trim() } : {}) };
      const { request: updated } = await api<{ request: Approval }>('POST', `/v1/approvals/${encodeURIComponent(request.request_id)}/${mode}`, body);
      setReason('');
      setCode('');
      onMode(undefined);
      if (updated.status === 'PENDING') notify(`Your approval is in: ${updated.approvals.length} of ${updated.required_approvals} approvals for “${updated.task_name}”.`, 'ok');
      else notify(`${updated.status === 'REJECTED' ? 'Rejected' : 'Approved'}: “${updated.task_name}”.`, 'ok');
      props.onDecided(updated);
    } catch (failure) {
      setError(failure);
      setCode('');
    } finally {
      setBusy(false);
    }
  };

  if (!mode) {
    return (
      <div class="decision">
        <Quorum request={request} />
        {request.step_up_required ? <p class="note">Approving needs your TOTP code{request.required_approvals > 1 ? `, and ${request.required_approvals} different people` : ''}.</p> : null}
        <div class="buttons">
          <button type="button" class="approve" onClick={() => onMode('approve')} aria-describedby={`${idBase}-title`}>
            Approve
          </button>
          <button type="button" class="reject" onClick={() => onMode('reject')} aria-describedby={`${idBase}-title`}>
            Reject
          </button>
        </div>
      </div>
    );
  }

  return (
    <form class={`decision decision-form ${mode}`} onSubmit={submit} aria-label={`${mode === 'approve' ? 'Approve' : 'Reject'} “${request.task_name}”`}>
      <Quorum request={request} />
      {needsCode && !session.totpEnrolled ? (
        <p class="warning">
          Approving a {request.risk_level} request needs a TOTP code, and you have not set up TOTP yet. <a {...linkProps('/account')}>Set it up in your account</a>.
        </p>
      ) : null}
      {needsCode ? (
        <Field label="Your TOTP code" hint="The 6-digit code from your authenticator app (or a recovery code).">
          <input
            ref={first}
            name="totp"
            required
            minLength={6}
            maxLength={32}
            autoCapitalize="none"
            spellcheck={false}
            autoComplete="one-time-code"
            value={code}
            onInput={(event) => setCode(event.currentTarget.value)}
          />
        </Field>
      ) : null}
      <Field label={mode === 'reject' ? 'Reason (required)' : 'Reason (optional)'}>
        <textarea
          ref={needsCode ? undefined : first}
          name="reason"
          rows={2}
          maxLength={2000}
          required={mode === 'reject'}
          value={reason}
          onInput={(event) => setReason(event.currentTarget.value)}
        />
      </Field>
      <ErrorNote error={error} />
      <div class="buttons">
        <button type="submit" class={mode} disabled={busy}>
          {busy ? 'Sending…' : mode === 'approve' ? 'Confirm approval' : 'Confirm rejection'}
        </button>
        <button type="button" class="secondary" onClick={() => onMode(undefined)} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
