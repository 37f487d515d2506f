import { useEffect, useState } from 'preact/hooks';
import { api, apiLines, query } from '../api.js';
import { Actor, ErrorNote, Field, Loading, PageTitle, Time, useLoad, type Submit } from '../components.js';
import { compactJson, count, duration } from '../format.js';
import { linkProps, navigate } from '../router.js';
import { useNotify, useSession } from '../session.js';
import type { AuditEntry, AuditStatus, VerificationRecord } from '../types.js';

const FILTERS = ['actor', 'action', 'target', 'environment', 'subject_id', 'since', 'until'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

const KNOWN_ACTIONS = [
  'approval.requested', 'approval.decided', 'approval.expired', 'approval.refused', 'approval.decision_refused', 'token.minted', 'token.refused',
  'execution.started', 'execution.finished', 'execution.refused', 'auth.login', 'auth.login_failed', 'auth.logout', 'auth.failed', 'auth.denied',
  'key.created', 'key.revoked', 'user.created', 'user.disabled', 'user.enabled', 'user.role_changed', 'totp.enrolled', 'totp.reset', 'totp.failed',
  'audit.verified', 'audit.exported', 'policy.denied', 'targets.reloaded', 'server.started', 'server.stopped',
];

/** datetime-local value ↔ ISO time. */
function toIso(local: string): string {
  const time = new Date(local);
  return Number.isNaN(time.getTime()) ? '' : time.toISOString();
}
function toLocal(iso: string): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return '';
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}T${pad(time.getHours())}:${pad(time.getMinutes())}`;
}

/** Cursors of the pages before this one, so "Newer" goes back the way "Older" came. */
const newerPages: string[] = [];

function VerificationResult(props: { record: VerificationRecord }) {
  const { record } = props;
  return record.ok ? (
    <p class="ok">
      <strong>Chain intact</strong>: {count(record.count)} events and {count(record.checkpoints)} signed checkpoints verified in {duration(record.duration_ms)} (
      <Time iso={record.time} />, by {record.actor}).
    </p>
  ) : (
    <p class="error">
      <strong>Chain broken at event {record.problem?.seq}</strong>: {record.problem?.reason}. {count(record.count)} events verified before it (<Time iso={record.time} />, by{' '}
      {record.actor}).
    </p>
  );
}

function ChainStatus() {
  const notify = useNotify();
  const { data, error, reload } = useLoad(() => api<AuditStatus>('GET', '/v1/audit/status'), []);
  const [progress, setProgress] = useState<{ checked: number; total: number } | undefined>(undefined);
  const [running, setRunning] = useState(false);
  const [failure, setFailure] = useState<unknown>(undefined);

  const verify = async () => {
    setRunning(true);
    setFailure(undefined);
    setProgress(undefined);
    try {
      let result: VerificationRecord | undefined;
      await apiLines('POST', '/v1/audit/verify', (line) => {
        if (line.type === 'progress') setProgress({ checked: Number(line.checked), total: Number(line.total) });
        else if (line.type === 'result') result = line as unknown as VerificationRecord;
        else if (line.type === 'error') throw new Error(String(line.message));
      });
      if (result) notify(result.ok ? `Audit chain verified: ${count(result.count)} events intact.` : `Audit chain broken at event ${result.problem?.seq}.`, result.ok ? 'ok' : 'error');
      reload();
    } catch (problem) {
      setFailure(problem);
    } finally {
      setRunning(false);
    }
  };

  return (
    <section class="card chain" aria-labelledby="chain-title">
      <h2 id="chain-title">Chain status</h2>
      <ErrorNote error={error} />
      {!data && !error ? <Loading what="the chain status" /> : null}
      {data ? (
        <dl class="facts">
          <div>
            <dt>Head</dt>
            <dd>
              event {count(data.head.seq)} <code class="hash">{data.head.hash}</code>
            </dd>
          </div>
          <div>
            <dt>Checkpoints</dt>
            <dd>
              {count(data.checkpoints.count)} signed
              {data.checkpoints.last ? (
                <>
                  , the last at event {count(data.checkpoints.last.seq)} (<Time iso={data.checkpoints.last.time} />, key <code>{data.checkpoints.last.key_id}</code>)
                </>
              ) : null}
              ; {count(data.checkpoints.unsigned_events)} events since
            </dd>
          </div>
          <div class="wide">
            <dt>Last verification</dt>
            <dd>{data.last_verification ? <VerificationResult record={data.last_verification} /> : 'never through the console'}</dd>
          </div>
        </dl>
      ) : null}
      <div class="buttons">
        <button type="button" onClick={verify} disabled={running}>
          {running ? 'Verifying…' : 'Verify the chain now'}
        </button>
        <a class="button secondary" href="/v1/audit/export" download>
          Export all events (JSONL)
        </a>
      </div>
      {running || progress ? (
        <div class="progress" role="status">
          <label>
            {running ? 'Verifying' : 'Verified'} {progress ? `${count(progress.checked)} of ${count(progress.total)} events` : ''}
            <progress max={Math.max(progress?.total ?? 1, 1)} value={progress?.checked ?? 0} />
          </label>
        </div>
      ) : null}
      <ErrorNote error={failure} />
    </section>
  );
}

/** The audit chain: its status and verification, and its events filtered and paged, newest first. */
export function AuditPage(props: { params: URLSearchParams }) {
  const session = useSession();
  const { params } = props;
  const key = params.toString();
  const limit = Number(params.get('limit') ?? 50);
  const before = params.get('before_seq') ?? '';
  const current = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? ''])) as Filters;
  const [form, setForm] = useState<Filters>(current);
  useEffect(() => setForm(current), [key]);
  const { data, error } = useLoad(
    () => api<{ events: AuditEntry[]; scope: string; next_before_seq: number | null }>('GET', `/v1/audit/events${query({ ...current, limit, before_seq: before })}`),
    [key],
  );

  const go = (values: Partial<Filters> & { before_seq?: string; limit?: number }) => {
    const merged = { ...current, limit: limit === 50 ? undefined : limit, ...values };
    navigate(`/audit${query(merged)}`);
  };
  const submit = (event: Submit) => {
    event.preventDefault();
    newerPages.length = 0;
    go({ ...form, before_seq: '' });
  };
  const set = (name: keyof Filters) => (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) => setForm({ ...form, [name]: event.currentTarget.value });

  return (
    <section>
      <PageTitle>Audit</PageTitle>
      {session.can('audit:read') ? <ChainStatus /> : <p class="note">You see the events of your own requests. The whole chain needs the audit:read scope.</p>}
      <section class="card" aria-labelledby="events-title">
        <h2 id="events-title">Events</h2>
        <form class="filters" onSubmit={submit}>
          <Field label="Actor" hint="e.g. user:alice or key:…">
            <input name="actor" value={form.actor} onInput={set('actor')} />
          </Field>
          <Field label="Action">
            <input name="action" list="audit-actions" value={form.action} onInput={set('action')} />
            <datalist id="audit-actions">
              {KNOWN_ACTIONS.map((action) => (
                <option key={action} value={action} />
              ))}
            </datalist>
          </Field>
          <Field label="Target">
            <input name="target" value={form.target} onInput={set('target')} />
          </Field>
          <Field label="Environment">
            <input name="environment" value={form.environment} onInput={set('environment')} />
          </Field>
          <Field label="Subject id" hint="a request or execution">
            <input name="subject_id" value={form.subject_id} onInput={set('subject_id')} />
          </Field>
          <Field label="From">
            <input type="datetime-local" name="since" value={toLocal(form.since)} onInput={(event) => setForm({ ...form, since: toIso(event.currentTarget.value) })} />
          </Field>
          <Field label="Until">
            <input type="datetime-local" name="until" value={toLocal(form.until)} onInput={(event) => setForm({ ...form, until: toIso(event.currentTarget.value) })} />
          </Field>
          <Field label="Per page">
            <select value={String(limit)} onChange={(event) => go({ limit: Number(event.currentTarget.value), before_seq: '' })}>
              {[25, 50, 100, 200].map((size) => (
                <option key={size} value={size}>
                  {size}
                </option>
              ))}
            </select>
          </Field>
          <div class="buttons">
            <button type="submit">Filter</button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                newerPages.length = 0;
                navigate('/audit');
              }}
            >
              Clear
            </button>
          </div>
        </form>
        <ErrorNote error={error} />
        {!data && !error ? <Loading what="events" /> : null}
        {data && data.events.length === 0 ? <p class="empty">No events match.</p> : null}
        {data && data.events.length > 0 ? (
          <div class="table-wrap" role="region" aria-label="Audit events" tabIndex={0}>
            <table class="audit">
              <thead>
                <tr>
                  <th scope="col">Seq</th>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Where</th>
                  <th scope="col">Data</th>
                </tr>
              </thead>
              <tbody>
                {data.events.map((event) => (
                  <tr key={event.seq}>
                    <td class="num">{event.seq}</td>
                    <td>
                      <Time iso={event.time} />
                    </td>
                    <td>
                      <Actor actor={event.actor} />
                    </td>
                    <td>{event.action}</td>
                    <td>
                      {event.subject?.type === 'approval' ? (
                        <a {...linkProps(`/requests/${event.subject.id}`)}>request {event.subject.id.slice(-8)}</a>
                      ) : event.subject ? (
                        `${event.subject.type} ${event.subject.id.slice(-8)}`
                      ) : (
                        ''
                      )}
                    </td>
                    <td>{[event.environment, event.target].filter(Boolean).join(' / ')}</td>
                    <td>
                      <details>
                        <summary>
                          <code>{compactJson(event.data, 60)}</code>
                        </summary>
                        <pre>{JSON.stringify(event.data, null, 2)}</pre>
                        <p class="muted">
                          hash <code class="hash">{event.hash}</code>
                        </p>
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <nav class="pager" aria-label="Pages of events">
          <button type="button" class="secondary" disabled={!before} onClick={() => go({ before_seq: newerPages.pop() ?? '' })}>
            Newer
          </button>
          <button
            type="button"
            class="secondary"
            disabled={!data?.next_before_seq}
            onClick={() => {
              newerPages.push(before);
              go({ before_seq: String(data?.next_before_seq ?? '') });
            }}
          >
            Older
          </button>
          {data ? <span class="muted">{data.scope === 'all' ? 'all events' : 'your own requests’ events'}</span> : null}
        </nav>
      </section>
    </section>
  );
}
