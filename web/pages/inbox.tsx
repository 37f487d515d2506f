import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { EnvBadge, ErrorNote, Expiry, InstructionScore, Loading, OperationView, PageTitle, RiskBadge, Time, useLoad, useNow } from '../components.js';
import { cannotDecide, DecisionPanel, type DecisionMode } from '../decision.js';
import { useLiveRefresh } from '../live.js';
import { linkProps, navigate } from '../router.js';
import { useNotify, useSession } from '../session.js';
import type { Approval } from '../types.js';

const SHORTCUTS: ReadonlyArray<readonly [string, string]> = [
  ['j', 'next request'],
  ['k', 'previous request'],
  ['a', 'approve the selected request'],
  ['r', 'reject the selected request'],
  ['o or Enter', 'open the selected request'],
  ['Esc', 'cancel the decision'],
  ['?', 'show or hide these shortcuts'],
];

function typingIn(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

export function RequestCard(props: {
  request: Approval;
  now: number;
  selected: boolean;
  mode: DecisionMode | undefined;
  onMode: (mode: DecisionMode | undefined) => void;
  onSelect: () => void;
  onDecided: (request: Approval) => void;
}) {
  const { request, now } = props;
  const titleId = `decide-${request.request_id}-title`;
  return (
    <article
      class={`card request level-${request.risk_level.toLowerCase()}${props.selected ? ' selected' : ''}`}
      data-request-id={request.request_id}
      tabIndex={-1}
      aria-labelledby={titleId}
      onFocusIn={props.onSelect}
    >
      <header class="request-head">
        <div class="badges">
          <RiskBadge level={request.risk_level} />
          <EnvBadge env={request.environment} />
        </div>
        <h2 id={titleId}>
          <a {...linkProps(`/requests/${request.request_id}`)}>{request.task_name}</a>
        </h2>
        <p class="times">
          asked <Time iso={request.created_at} now={now} relative /> · <Expiry iso={request.expires_at} now={now} />
        </p>
      </header>
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
            {request.requester ?? request.requested_by}
            {request.worker_id && request.worker_id !== request.requester ? <span class="muted"> for {request.worker_id}</span> : null}
          </dd>
        </div>
      </dl>
      <div class="reasons">
        <h3>Why {request.risk_level}</h3>
        <ul>
          {request.risk_reasons.map((reason) => (
            <li key={reason.rule}>
              <span class={`dot level-${reason.level.toLowerCase()}`} aria-hidden="true" /> {reason.reason} <span class="muted">({reason.rule}, {reason.level})</span>
            </li>
          ))}
        </ul>
      </div>
      <InstructionScore score={request.instruction_score} findings={request.instruction_findings} />
      <DecisionPanel request={request} mode={props.mode} onMode={props.onMode} onDecided={props.onDecided} />
    </article>
  );
}

/** Pending requests, newest first, kept current by the event stream; decided from here. */
export function InboxPage() {
  const session = useSession();
  const notify = useNotify();
  const now = useNow(1000);
  const { data, error, reload } = useLoad(() => api<{ requests: Approval[] }>('GET', '/v1/approvals?status=pending&limit=200').then((answer) => answer.requests), []);
  useLiveRefresh(reload, (event) => event.type.startsWith('request.'));
  const [requests, setRequests] = useState<Approval[] | undefined>(undefined);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [open, setOpen] = useState<{ id: string; mode: DecisionMode } | undefined>(undefined);
  const [help, setHelp] = useState(false);
  const known = useRef<Set<string> | undefined>(undefined);

  useEffect(() => {
    if (!data) return;
    // Still pending on the server, but past their time here: the server's expiry follows within seconds.
    setRequests(data);
    const ids = new Set(data.map((request) => request.request_id));
    if (known.current) {
      const fresh = data.filter((request) => !known.current?.has(request.request_id));
      if (fresh.length === 1 && fresh[0]) notify(`New ${fresh[0].risk_level} request: ${fresh[0].task_name}`, 'info');
      else if (fresh.length > 1) notify(`${fresh.length} new requests`, 'info');
    }
    known.current = ids;
    if (selected && !ids.has(selected)) setSelected(undefined);
  }, [data]);

  const list = requests ?? [];
  const index = list.findIndex((request) => request.request_id === selected);

  const focusCard = (id: string | undefined) => {
    setSelected(id);
    if (id) document.querySelector<HTMLElement>(`[data-request-id="${CSS.escape(id)}"]`)?.focus();
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.metaKey || event.ctrlKey || event.altKey) return;
      if (event.key === 'Escape' && open) {
        const id = open.id;
        setOpen(undefined);
        focusCard(id);
        return;
      }
      if (typingIn(event.target)) return;
      const current = list[index];
      switch (event.key) {
        case 'j':
          focusCard(list[Math.min(list.length - 1, index + 1)]?.request_id);
          break;
        case 'k':
          focusCard(list[Math.max(0, index - 1)]?.request_id);
          break;
        case 'a':
        case 'r':
          if (!current || cannotDecide(current, session)) return;
          event.preventDefault();
          setOpen({ id: current.request_id, mode: event.key === 'a' ? 'approve' : 'reject' });
          break;
        case 'o':
        case 'Enter':
          if (!current || (event.key === 'Enter' && event.target !== document.querySelector(`[data-request-id="${CSS.escape(current.request_id)}"]`))) return;
          navigate(`/requests/${current.request_id}`);
          break;
        case '?':
          setHelp((shown) => !shown);
          break;
        default:
          return;
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [list, index, open, session]);

  const decided = (updated: Approval) => {
    setRequests((current) => (current ?? []).flatMap((request) => (request.request_id !== updated.request_id ? [request] : updated.status === 'PENDING' ? [updated] : [])));
    reload();
  };

  return (
    <section aria-labelledby="inbox-title">
      <PageTitle>
        <span id="inbox-title">Inbox</span>
        {requests ? <span class="count"> · {requests.length} waiting</span> : null}
      </PageTitle>
      <details class="shortcuts" open={help} onToggle={(event) => setHelp(event.currentTarget.open)}>
        <summary>Keyboard shortcuts</summary>
        <dl>
          {SHORTCUTS.map(([key, what]) => (
            <div key={key}>
              <dt>
                <kbd>{key}</kbd>
              </dt>
              <dd>{what}</dd>
            </div>
          ))}
        </dl>
      </details>
      <ErrorNote error={error} />
      {!requests && !error ? <Loading what="pending requests" /> : null}
      {requests && requests.length === 0 ? <p class="empty">Nothing is waiting for a decision.</p> : null}
      <div class="cards" aria-live="off">
        {list.map((request) => (
          <RequestCard
            key={request.request_id}
            request={request}
            now={now}
            selected={request.request_id === selected}
            mode={open?.id === request.request_id ? open.mode : undefined}
            onMode={(mode) => setOpen(mode ? { id: request.request_id, mode } : undefined)}
            onSelect={() => setSelected(request.request_id)}
            onDecided={decided}
          />
        ))}
      </div>
    </section>
  );
}
