import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { ago, dateTime, remaining, shellQuote } from './format.js';
import { SECTIONS } from '../src/approvals/sections.js';
import type { Approval, Finding, Operation, RiskLevel } from './types.js';

/** The page's heading: focused when the page opens, so screen readers and keyboards start there. */
export function PageTitle(props: { children: ComponentChildren; actions?: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <div class="page-title">
      <h1 tabIndex={-1} ref={heading}>
        {props.children}
      </h1>
      {props.actions ? <div class="page-actions">{props.actions}</div> : null}
    </div>
  );
}

const RISK_HINT: Record<RiskLevel, string> = {
  LOW: 'low risk',
  MEDIUM: 'medium risk',
  HIGH: 'high risk',
  CRITICAL: 'critical risk',
};

export function RiskBadge(props: { level: RiskLevel }) {
  return (
    <span class={`badge risk risk-${props.level.toLowerCase()}`} title={RISK_HINT[props.level]}>
      <span class="risk-mark" aria-hidden="true" />
      {props.level}
      <span class="sr-only"> risk</span>
    </span>
  );
}

export function StatusBadge(props: { status: string }) {
  return <span class={`badge status status-${props.status.toLowerCase()}`}>{props.status}</span>;
}

export function EnvBadge(props: { env: string }) {
  return <span class={`badge env env-${props.env === 'prd' ? 'prod' : 'other'}`}>{props.env}</span>;
}

/** A time as a person reads it, with the exact time on hover and for machines. */
export function Time(props: { iso: string; now?: number; relative?: boolean }) {
  const text = props.relative && props.now !== undefined ? ago(props.iso, props.now) : dateTime(props.iso);
  return (
    <time dateTime={props.iso} title={dateTime(props.iso)}>
      {text}
    </time>
  );
}

export function Expiry(props: { iso: string; now: number }) {
  const left = Date.parse(props.iso) - props.now;
  return (
    <time dateTime={props.iso} title={dateTime(props.iso)} class={left < 5 * 60_000 ? 'soon' : undefined}>
      {left <= 0 ? 'expired' : `expires ${remaining(props.iso, props.now)}`}
    </time>
  );
}

/**
 * The operation exactly as it will run. An argv is shown one argument per box, numbered, so spaces,
 * quotes and empty arguments cannot hide; the shell-quoted line below can be copied as is.
 */
export function OperationView(props: { op: Operation; command: string }) {
  const { op } = props;
  if (op.kind === 'exec') {
    return (
      <div class="operation">
        <ol class="argv" aria-label={`Command: ${op.argv.length} arguments`}>
          {op.argv.map((arg, index) => (
            <li key={index}>
              <span class="argv-index" aria-hidden="true">
                {index}
              </span>
              <code class={arg === '' ? 'argv-empty' : undefined}>{arg === '' ? '(empty)' : arg}</code>
            </li>
          ))}
        </ol>
        <p class="command-line">
          <span class="label">as a command line:</span> <code>{op.argv.map(shellQuote).join(' ')}</code>
        </p>
      </div>
    );
  }
  if (op.kind === 'shell') {
    return (
      <div class="operation">
        <p class="warning">Runs through a shell (/bin/sh -c):</p>
        <pre class="script">
          <code>{op.script}</code>
        </pre>
      </div>
    );
  }
  return (
    <div class="operation">
      <p>
        Typed operation <code>{op.name}</code>
      </p>
      <dl class="op-args">
        {Object.entries(op.args).map(([key, value]) => (
          <div key={key}>
            <dt>{key}</dt>
            <dd>
              <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
            </dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

/**
 * The instruction's score and its ten sections, the weak ones marked with what is wrong. Without the
 * section texts (the inbox), a complete instruction is one line; with them (a request's page), every
 * section is shown with what it says.
 */
export function InstructionScore(props: { score: number; findings: readonly Finding[]; sections?: Readonly<Record<string, string | null>> }) {
  const weak = new Map<string, Finding[]>();
  for (const finding of props.findings) weak.set(finding.section, [...(weak.get(finding.section) ?? []), finding]);
  const compact = !props.sections && weak.size === 0;
  return (
    <div class="instruction">
      <p class="score">
        <span class="label">Instruction score</span>{' '}
        <meter min={0} max={100} low={40} high={80} optimum={100} value={props.score} aria-label="Instruction score" />{' '}
        <span class="nowrap">
          <strong>{props.score}</strong>/100
        </span>
        {weak.size > 0 ? <span class="weak-count"> · {weak.size} weak section{weak.size === 1 ? '' : 's'}</span> : null}
        {compact ? <span class="muted"> · all ten sections filled in</span> : null}
      </p>
      {compact ? null : (
        <ul class="sections">
          {SECTIONS.map((section) => {
            const problems = weak.get(section);
            const text = props.sections?.[section];
            return (
              <li key={section} class={problems ? 'section weak' : 'section ok'}>
                <span class="section-name">
                  <span aria-hidden="true">{problems ? '!' : '✓'}</span> {section.replace(/_/g, ' ').toLowerCase()}
                  <span class="sr-only">{problems ? ': weak' : ': fine'}</span>
                </span>
                {text ? <span class="section-text">{text}</span> : null}
                {problems ? <span class="section-problem">{problems.map((p) => p.message).join('; ')}</span> : null}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

/** An audit actor: keys and tokens by the start of their id (the whole id on hover). */
export function Actor(props: { actor: string }) {
  const long = /^(key|token):([0-9a-f-]{36})$/.exec(props.actor);
  if (!long) return <span class="actor">{props.actor}</span>;
  return (
    <span class="actor" title={props.actor}>
      {long[1]}:{long[2]?.slice(0, 8)}…
    </span>
  );
}

/** Who has approved so far, out of how many are needed. */
export function Quorum(props: { request: Approval }) {
  const { request } = props;
  const names = request.approvals.map((approval) => approval.username);
  if (request.required_approvals <= 1 && names.length === 0) return null;
  return (
    <p class="quorum">
      <strong>
        {names.length} of {request.required_approvals} approvals
      </strong>
      {names.length > 0 ? `: ${names.join(', ')}` : ''}
    </p>
  );
}

export function ErrorNote(props: { error: unknown }) {
  if (!props.error) return null;
  const message = props.error instanceof ApiError ? props.error.message : props.error instanceof Error ? props.error.message : String(props.error);
  const code = props.error instanceof ApiError ? props.error.code : undefined;
  return (
    <p class="error" role="alert">
      {message}
      {code ? <span class="error-code"> ({code})</span> : null}
    </p>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <p class="loading" role="status">
      Loading{props.what ? ` ${props.what}` : ''}…
    </p>
  );
}

/** A secret shown once: read-only, selectable, with a copy button. */
export function ShownOnce(props: { label: string; value: string; note?: string }) {
  const [copied, setCopied] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied(true);
    } catch {
      input.current?.select();
    }
  };
  return (
    <div class="shown-once" role="region" aria-label={props.label}>
      <label>
        {props.label}
        <input ref={input} class="secret" readOnly value={props.value} onFocus={(event) => (event.currentTarget as HTMLInputElement).select()} />
      </label>
      <button type="button" onClick={copy}>
        {copied ? 'Copied' : 'Copy'}
      </button>
      <span class="sr-only" aria-live="polite">
        {copied ? 'Copied to the clipboard' : ''}
      </span>
      <p class="note">{props.note ?? 'Shown only now: store it somewhere safe.'}</p>
    </div>
  );
}

/** A small loader for a page's data: the value, the error, and a reload that keeps showing the last value. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): { data: T | undefined; error: unknown; reload: () => void; loading: boolean } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const run = () => {
    const mine = ++generation.current;
    setLoading(true);
    load()
      .then((value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(undefined);
      })
      .catch((failure: unknown) => {
        if (mine === generation.current) setError(failure);
      })
      .finally(() => {
        if (mine === generation.current) setLoading(false);
      });
  };
  useEffect(run, deps);
  return { data, error, reload: run, loading };
}

/** The current time, every `ms`: for ages and countdowns. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export function Field(props: { label: string; hint?: string; children: ComponentChildren; class?: string }) {
  return (
    <label class={`field ${props.class ?? ''}`}>
      <span class="field-label">{props.label}</span>
      {props.children}
      {props.hint ? <span class="hint">{props.hint}</span> : null}
    </label>
  );
}

export type Submit = JSX.TargetedEvent<HTMLFormElement, Event>;
