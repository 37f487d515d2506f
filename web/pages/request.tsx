import { api } from '../api.js';
import { Actor, EnvBadge, ErrorNote, Expiry, InstructionScore, Loading, OperationView, PageTitle, RiskBadge, StatusBadge, Time, useLoad, useNow } from '../components.js';
import { DecisionPanel, type DecisionMode } from '../decision.js';
import { actionLabel, compactJson, count, duration } from '../format.js';
import { useLiveRefresh } from '../live.js';
import { linkProps } from '../router.js';
import { useState } from 'preact/hooks';
import type { AuditEntry, Execution, History } from '../types.js';

/** What a timeline entry says beyond its name. */
function describe(event: AuditEntry): string {
  const data = event.data;
  switch (event.action) {
    case 'approval.requested':
      return `${String(data.risk_level ?? '')} by the rules ${Array.isArray(data.rules) ? data.rules.join(', ') : ''}; instruction score ${String(data.score ?? '–')}`;
    case 'approval.decided': {
      const verb = data.decision === 'reject' ? 'rejected' : 'approved';
      const quorum = data.required && Number(data.required) > 1 ? ` (${String(data.approvals)} of ${String(data.required)})` : '';
      const final = data.final === false ? ', waiting for more approvals' : '';
      const stepUp = data.step_up ? `, with ${String(data.step_up).startsWith('challenge') ? 'a step-up challenge' : 'a TOTP code'}` : '';
      const reason = data.reason ? `: “${String(data.reason)}”` : '';
      return `${verb}${quorum}${stepUp}${final}${reason}`;
    }
    case 'approval.expired':
      return `nobody ${data.was === 'APPROVED' ? 'used the approval' : 'decided'} before ${String(data.expires_at ?? '')}`;
    case 'token.minted':
      return `single use, valid until ${String(data.expires_at ?? '')} (jti ${String(data.jti ?? '')})`;
    case 'execution.started':
      return `on instance ${String(data.instance ?? '')}`;
    case 'execution.finished':
      return `${String(data.status)}, exit code ${data.exit_code === null || data.exit_code === undefined ? '–' : String(data.exit_code)}, ${duration(Number(data.duration_ms ?? 0))}`;
    default:
      return compactJson(data);
  }
}

function receiptClaims(receipt: string): Record<string, unknown> | undefined {
  try {
    const payload = receipt.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function ExecutionView(props: { execution: Execution }) {
  const { execution } = props;
  const claims = execution.receipt ? receiptClaims(execution.receipt) : undefined;
  return (
    <article class="card execution" aria-labelledby={`execution-${execution.id}`}>
      <h3 id={`execution-${execution.id}`}>
        Execution <StatusBadge status={execution.status} />{' '}
        <span class="exit">
          exit code <strong>{execution.exit_code ?? '–'}</strong>
        </span>
      </h3>
      <p class="muted">
        <Time iso={execution.started_at} />
        {execution.duration_ms !== null ? ` · ${duration(execution.duration_ms)}` : ''} · id <code>{execution.id}</code>
      </p>
      {execution.error ? <p class="warning">{execution.error}</p> : null}
      <h4>Output{execution.truncated ? ' (truncated)' : ''}</h4>
      <pre class="output" tabIndex={0} aria-label="Output">
        <code>{execution.output || '(no output)'}</code>
      </pre>
      {execution.output_sha256 ? (
        <p class="muted">
          sha256 <code class="hash">{execution.output_sha256}</code>
        </p>
      ) : null}
      {execution.receipt ? (
        <div class="receipt">
          <h4>Receipt</h4>
          {claims ? (
            <dl class="facts">
              <div>
                <dt>Status</dt>
                <dd>{String(claims.status)}</dd>
              </div>
              <div>
                <dt>Exit code</dt>
                <dd>{String(claims.exit_code ?? '–')}</dd>
              </div>
              <div>
                <dt>Audit event</dt>
                <dd>{String(claims.audit_seq)}</dd>
              </div>
              <div>
                <dt>Operation hash</dt>
                <dd>
                  <code class="hash">{String(claims.op_hash)}</code>
                </dd>
              </div>
            </dl>
          ) : null}
          <button type="button" onClick={() => download(`receipt-${execution.id}.jws`, `${execution.receipt ?? ''}\n`, 'application/jose')}>
            Download receipt
          </button>
          <p class="muted">
            Signed by the server; check it anywhere with <code>airlock receipt verify receipt-{execution.id}.jws --jwks {location.origin}/.well-known/jwks.json</code>
          </p>
        </div>
      ) : null}
    </article>
  );
}

/** One request: what it asks, its instruction, the decision, and its whole history from the audit chain. */
export function RequestPage(props: { id: string }) {
  const now = useNow(1000);
  const { data, error, reload } = useLoad(() => api<History>('GET', `/v1/approvals/${encodeURIComponent(props.id)}/history`), [props.id]);
  useLiveRefresh(reload, (event) => event.subject?.id === props.id || event.data.approval_id === props.id);
  const [mode, setMode] = useState<DecisionMode | undefined>(undefined);

  if (!data) {
    return (
      <section>
        <PageTitle>Request</PageTitle>
        <ErrorNote error={error} />
        {!error ? <Loading what="the request" /> : null}
      </section>
    );
  }
  const { request, events, executions, instruction } = data;
  return (
    <section class="request-page">
      <PageTitle>{request.task_name}</PageTitle>
      <p class="badges">
        <RiskBadge level={request.risk_level} /> <StatusBadge status={request.status} /> <EnvBadge env={request.environment} />
        {request.status === 'PENDING' ? (
          <span class="muted">
            {' '}
            <Expiry iso={request.expires_at} now={now} />
          </span>
        ) : null}
      </p>
      <ErrorNote error={error} />
      <div class="columns">
        <div>
          <section class="card" aria-labelledby="what-title">
            <h2 id="what-title">What it runs</h2>
            <OperationView op={request.op} command={request.command} />
            <dl class="facts">
              <div>
                <dt>Target</dt>
                <dd>{request.target}</dd>
              </div>
              <div>
                <dt>Environment</dt>
                <dd>{request.environment}</dd>
              </div>
              <div>
                <dt>Requester</dt>
                <dd>
                  {request.requester ?? request.requested_by} <span class="muted">for {request.worker_id}</span>
                </dd>
              </div>
              <div>
                <dt>Asked</dt>
                <dd>
                  <Time iso={request.created_at} />
                </dd>
              </div>
              <div>
                <dt>Operation hash</dt>
                <dd>
                  <code class="hash">{request.op_hash}</code>
                </dd>
              </div>
            </dl>
            <h3>Why {request.risk_level}</h3>
            <ul class="reasons">
              {request.risk_reasons.map((reason) => (
                <li key={reason.rule}>
                  {reason.reason} <span class="muted">({reason.rule}, {reason.level})</span>
                </li>
              ))}
            </ul>
            {request.status === 'PENDING' ? <DecisionPanel request={request} mode={mode} onMode={setMode} onDecided={reload} /> : null}
            {request.decision_reason ? (
              <p>
                <span class="label">Decision:</span> {request.decision_reason}
              </p>
            ) : null}
          </section>
          <section class="card" aria-labelledby="instruction-title">
            <h2 id="instruction-title">Instruction</h2>
            <InstructionScore score={request.instruction_score} findings={request.instruction_findings} sections={instruction.sections} />
          </section>
        </div>
        <div>
          <section class="card" aria-labelledby="timeline-title">
            <h2 id="timeline-title">History</h2>
            <ol class="timeline">
              {events.map((event) => (
                <li key={event.seq} class={`event action-${event.action.replace(/\./g, '-')}`}>
                  <p class="event-head">
                    <strong>{actionLabel(event.action)}</strong> <Time iso={event.time} />
                  </p>
                  <p class="event-body">
                    <Actor actor={event.actor} /> {describe(event)}
                  </p>
                  <p class="muted">
                    <a {...linkProps(`/audit?subject_id=${encodeURIComponent(event.subject?.id ?? '')}`)}>audit event {count(event.seq)}</a>
                  </p>
                </li>
              ))}
            </ol>
          </section>
          {executions.map((execution) => (
            <ExecutionView key={execution.id} execution={execution} />
          ))}
        </div>
      </div>
    </section>
  );
}
