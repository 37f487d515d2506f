import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorNote, Field, Loading, PageTitle, ShownOnce, Time, useLoad, type Submit } from '../components.js';
import { count } from '../format.js';
import { linkProps } from '../router.js';
import { useNotify, useSession } from '../session.js';
import type { AdminStatus, ApiKey, Health, PolicyView, Rule, Target, User, Validation } from '../types.js';

const ROLES = ['admin', 'approver', 'requester', 'auditor'] as const;
const SCOPES = ['approvals:request', 'approvals:read', 'approvals:decide', 'gateway:execute', 'audit:read', 'targets:admin', 'workspaces:use', 'admin'] as const;

interface Tab {
  readonly path: string;
  readonly label: string;
  readonly allowed: boolean;
}

function tabsFor(can: (scope: string) => boolean): Tab[] {
  return [
    { path: '/admin/users', label: 'Users', allowed: can('admin') },
    { path: '/admin/keys', label: 'API keys', allowed: true },
    { path: '/admin/targets', label: 'Targets & policy', allowed: true },
    { path: '/admin/system', label: 'System', allowed: true },
  ];
}

/** A button that asks once more, in place, before it acts. */
function ConfirmButton(props: { label: string; confirm: string; onConfirm: () => Promise<void>; danger?: boolean }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" class={props.danger ? 'reject small' : 'secondary small'} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm">
      <button
        type="button"
        class={props.danger ? 'reject small' : 'small'}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await props.onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {props.confirm}
      </button>
      <button type="button" class="secondary small" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

function UsersTab() {
  const notify = useNotify();
  const { data, error, reload } = useLoad(() => api<{ users: User[] }>('GET', '/v1/users').then((answer) => answer.users), []);
  const [form, setForm] = useState({ username: '', role: 'approver', kind: 'human', password: '' });
  const [created, setCreated] = useState<{ username: string; password: string } | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);

  const act = (work: () => Promise<unknown>, message: string) => async () => {
    setFailure(undefined);
    try {
      await work();
      notify(message, 'ok');
      reload();
    } catch (problem) {
      setFailure(problem);
    }
  };

  const create = async (event: Submit) => {
    event.preventDefault();
    setFailure(undefined);
    setCreated(undefined);
    try {
      const answer = await api<{ user: User; password?: string }>('POST', '/v1/users', {
        username: form.username.trim(),
        role: form.role,
        kind: form.kind,
        ...(form.password ? { password: form.password } : {}),
      });
      if (answer.password) setCreated({ username: answer.user.username, password: answer.password });
      notify(`Created ${answer.user.username} (${answer.user.role}).`, 'ok');
      setForm({ username: '', role: form.role, kind: form.kind, password: '' });
      reload();
    } catch (problem) {
      setFailure(problem);
    }
  };

  return (
    <>
      <section class="card" aria-labelledby="new-user-title">
        <h2 id="new-user-title">New user</h2>
        <form class="inline-form" onSubmit={create}>
          <Field label="Username" hint="lower case: letters, digits, . _ -">
            <input name="username" required pattern="[a-z][a-z0-9._\-]{1,62}" value={form.username} onInput={(event) => setForm({ ...form, username: event.currentTarget.value })} />
          </Field>
          <Field label="Role">
            <select name="role" value={form.role} onChange={(event) => setForm({ ...form, role: event.currentTarget.value })}>
              {ROLES.map((role) => (
                <option key={role}>{role}</option>
              ))}
            </select>
          </Field>
          <Field label="Kind">
            <select name="kind" value={form.kind} onChange={(event) => setForm({ ...form, kind: event.currentTarget.value })}>
              <option value="human">person</option>
              <option value="service">service account</option>
            </select>
          </Field>
          <Field label="Password" hint="leave empty to generate one">
            <input name="password" type="password" autoComplete="new-password" value={form.password} onInput={(event) => setForm({ ...form, password: event.currentTarget.value })} />
          </Field>
          <div class="buttons">
            <button type="submit">Create user</button>
          </div>
        </form>
        {created ? <ShownOnce label={`Password of ${created.username}`} value={created.password} /> : null}
      </section>
      <ErrorNote error={failure} />
      <ErrorNote error={error} />
      {!data && !error ? <Loading what="users" /> : null}
      {data ? (
        <div class="table-wrap" role="region" aria-label="Users" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">TOTP</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {data.map((user) => (
                <tr key={user.id}>
                  <th scope="row">
                    {user.username}
                    {user.kind === 'service' ? <span class="muted"> (service)</span> : null}
                  </th>
                  <td>
                    <select
                      aria-label={`Role of ${user.username}`}
                      value={user.role}
                      onChange={(event) => {
                        const role = event.currentTarget.value;
                        void act(() => api('POST', `/v1/users/${encodeURIComponent(user.username)}/role`, { role }), `${user.username} is now ${role}.`)();
                      }}
                    >
                      {ROLES.map((role) => (
                        <option key={role}>{role}</option>
                      ))}
                    </select>
                  </td>
                  <td>
                    {user.status}
                    {user.locked_until && Date.parse(user.locked_until) > Date.now() ? <span class="warning-text"> (locked)</span> : null}
                  </td>
                  <td>{user.kind === 'human' ? (user.totp_enrolled ? 'enrolled' : 'not set up') : '–'}</td>
                  <td>
                    <Time iso={user.created_at} />
                  </td>
                  <td class="actions">
                    {user.status === 'active' ? (
                      <ConfirmButton label="Disable" confirm={`Disable ${user.username}`} danger onConfirm={act(() => api('POST', `/v1/users/${encodeURIComponent(user.username)}/disable`), `${user.username} is disabled; their sessions and keys are revoked.`)} />
                    ) : (
                      <button type="button" class="secondary small" onClick={act(() => api('POST', `/v1/users/${encodeURIComponent(user.username)}/enable`), `${user.username} is enabled.`)}>
                        Enable
                      </button>
                    )}
                    {user.kind === 'human' && user.totp_enrolled ? (
                      <ConfirmButton label="Reset TOTP" confirm={`Reset TOTP of ${user.username}`} onConfirm={act(() => api('POST', `/v1/users/${encodeURIComponent(user.username)}/reset-totp`), `TOTP of ${user.username} is reset.`)} />
                    ) : null}
                    {user.kind === 'human' ? (
                      <ConfirmButton
                        label="New password"
                        confirm={`Reset the password of ${user.username}`}
                        onConfirm={async () => {
                          setFailure(undefined);
                          try {
                            const answer = await api<{ password?: string }>('POST', `/v1/users/${encodeURIComponent(user.username)}/password`);
                            if (answer.password) setCreated({ username: user.username, password: answer.password });
                          } catch (problem) {
                            setFailure(problem);
                          }
                        }}
                      />
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

const EXPIRIES: ReadonlyArray<readonly [string, string]> = [
  ['', 'never'],
  ['7', 'in 7 days'],
  ['30', 'in 30 days'],
  ['90', 'in 90 days'],
  ['365', 'in a year'],
];

function list(text: string): string[] | undefined {
  const names = text.split(/[\s,]+/).filter(Boolean);
  return names.length > 0 ? names : undefined;
}

function KeysTab() {
  const session = useSession();
  const notify = useNotify();
  const { data, error, reload } = useLoad(() => api<{ keys: ApiKey[] }>('GET', '/v1/keys').then((answer) => answer.keys), []);
  const [form, setForm] = useState({ name: '', scopes: new Set<string>(['approvals:request', 'approvals:read']), owner: '', environments: '', targets: '', expires: '' });
  const [created, setCreated] = useState<{ name: string; key: string } | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);

  const toggle = (scope: string) => {
    const scopes = new Set(form.scopes);
    if (scopes.has(scope)) scopes.delete(scope);
    else scopes.add(scope);
    setForm({ ...form, scopes });
  };

  const create = async (event: Submit) => {
    event.preventDefault();
    setFailure(undefined);
    setCreated(undefined);
    try {
      const environments = list(form.environments);
      const targets = list(form.targets);
      const answer = await api<{ key: string; name: string }>('POST', '/v1/keys', {
        name: form.name.trim(),
        scopes: [...form.scopes],
        ...(form.owner.trim() ? { user: form.owner.trim() } : {}),
        ...(environments ? { environments } : {}),
        ...(targets ? { targets } : {}),
        ...(form.expires ? { expires_at: new Date(Date.now() + Number(form.expires) * 86_400_000).toISOString() } : {}),
      });
      setCreated({ name: answer.name, key: answer.key });
      notify(`Created the key ${answer.name}. Copy it now: it is shown only once.`, 'ok');
      setForm({ ...form, name: '' });
      reload();
    } catch (problem) {
      setFailure(problem);
    }
  };

  return (
    <>
      <section class="card" aria-labelledby="new-key-title">
        <h2 id="new-key-title">New API key</h2>
        <form class="inline-form" onSubmit={create}>
          <Field label="Name">
            <input name="name" required maxLength={100} value={form.name} onInput={(event) => setForm({ ...form, name: event.currentTarget.value })} />
          </Field>
          <fieldset class="scopes">
            <legend>Scopes</legend>
            {SCOPES.map((scope) => (
              <label key={scope} class="check">
                <input type="checkbox" name="scope" value={scope} checked={form.scopes.has(scope)} onChange={() => toggle(scope)} /> {scope}
              </label>
            ))}
          </fieldset>
          {session.can('admin') ? (
            <Field label="Owner" hint="a user; empty: a service account named after the key">
              <input name="owner" value={form.owner} onInput={(event) => setForm({ ...form, owner: event.currentTarget.value })} />
            </Field>
          ) : null}
          <Field label="Environments" hint="empty: all; or e.g. dev, stg">
            <input name="environments" value={form.environments} onInput={(event) => setForm({ ...form, environments: event.currentTarget.value })} />
          </Field>
          <Field label="Targets" hint="empty: all">
            <input name="targets" value={form.targets} onInput={(event) => setForm({ ...form, targets: event.currentTarget.value })} />
          </Field>
          <Field label="Expires">
            <select name="expires" value={form.expires} onChange={(event) => setForm({ ...form, expires: event.currentTarget.value })}>
              {EXPIRIES.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </Field>
          <div class="buttons">
            <button type="submit" disabled={form.scopes.size === 0}>
              Create key
            </button>
          </div>
        </form>
        {created ? (
          <ShownOnce label={`API key ${created.name}`} value={created.key} note="Shown only now: Airlock keeps only a hash of it. Copy it into your agent's configuration." />
        ) : null}
      </section>
      <ErrorNote error={failure} />
      <ErrorNote error={error} />
      {!data && !error ? <Loading what="keys" /> : null}
      {data ? (
        <div class="table-wrap" role="region" aria-label="API keys" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Owner</th>
                <th scope="col">Scopes</th>
                <th scope="col">Limits</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {data.map((key) => (
                <tr key={key.id} class={key.revoked_at ? 'revoked' : undefined}>
                  <th scope="row">
                    {key.name} <code class="muted">{key.prefix}</code>
                  </th>
                  <td>{key.owner ?? '–'}</td>
                  <td>{key.scopes.join(', ')}</td>
                  <td>{[key.environments ? `env ${key.environments.join(', ')}` : '', key.targets ? `targets ${key.targets.join(', ')}` : ''].filter(Boolean).join('; ') || 'none'}</td>
                  <td>
                    <Time iso={key.created_at} />
                  </td>
                  <td>{key.last_used_at ? <Time iso={key.last_used_at} /> : 'never'}</td>
                  <td class="actions">
                    {key.revoked_at ? (
                      'revoked'
                    ) : (
                      <>
                        {key.expires_at ? (
                          <span class="muted">
                            expires <Time iso={key.expires_at} />{' '}
                          </span>
                        ) : null}
                        <ConfirmButton
                          label="Revoke"
                          confirm={`Revoke ${key.name}`}
                          danger
                          onConfirm={async () => {
                            setFailure(undefined);
                            try {
                              await api('DELETE', `/v1/keys/${encodeURIComponent(key.id)}`);
                              notify(`Revoked the key ${key.name}.`, 'ok');
                              reload();
                            } catch (problem) {
                              setFailure(problem);
                            }
                          }}
                        />
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

function RulesTable(props: { rules: readonly Rule[]; label: string }) {
  return (
    <div class="table-wrap" role="region" aria-label={props.label} tabIndex={0}>
      <table>
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">Level</th>
            <th scope="col">Reason</th>
            <th scope="col">Matches</th>
          </tr>
        </thead>
        <tbody>
          {props.rules.map((rule) => (
            <tr key={rule.id}>
              <th scope="row">
                {rule.id}
                {rule.final ? <span class="muted"> (final)</span> : null}
              </th>
              <td>{rule.level}</td>
              <td>{rule.reason}</td>
              <td>
                <code class="clip">{JSON.stringify(rule.match)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TargetsTab() {
  const session = useSession();
  const targets = useLoad(() => api<{ source: string; loaded_at: string; targets: Target[] }>('GET', '/v1/targets'), []);
  const policy = useLoad(() => (session.can('approvals:read') ? api<{ policy: PolicyView }>('GET', '/v1/policy').then((answer) => answer.policy) : Promise.resolve(undefined)), []);
  const [validation, setValidation] = useState<Validation | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const validate = async () => {
    setBusy(true);
    setFailure(undefined);
    try {
      setValidation((await api<{ validation: Validation }>('POST', '/v1/admin/validate')).validation);
    } catch (problem) {
      setFailure(problem);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <section class="card" aria-labelledby="targets-title">
        <h2 id="targets-title">Targets</h2>
        {session.can('targets:admin') ? (
          <div class="buttons">
            <button type="button" onClick={validate} disabled={busy}>
              {busy ? 'Validating…' : 'Validate targets.yaml and policy.yaml'}
            </button>
          </div>
        ) : null}
        <ErrorNote error={failure} />
        {validation ? (
          <div class={validation.ok ? 'ok' : 'error'} role="status">
            <p>
              <strong>{validation.ok ? 'Both files are valid.' : 'There are problems.'}</strong>
            </p>
            <ul>
              <li>
                Targets ({validation.targets.source}): {validation.targets.ok ? `valid, ${validation.targets.targets.join(', ')}` : 'invalid'}
                {validation.targets.ok && !validation.targets.in_force ? ' — differs from the registry in force: reload to apply it' : ''}
                {validation.targets.problems.length > 0 ? (
                  <ul>
                    {validation.targets.problems.map((problem) => (
                      <li key={problem}>{problem}</li>
                    ))}
                  </ul>
                ) : null}
              </li>
              <li>
                Policy ({validation.policy.source}): {validation.policy.ok ? `valid, ${validation.policy.rules} rule(s) of its own` : 'invalid'}
                {validation.policy.problems.length > 0 ? (
                  <ul>
                    {validation.policy.problems.map((problem) => (
                      <li key={problem}>{problem}</li>
                    ))}
                  </ul>
                ) : null}
              </li>
            </ul>
          </div>
        ) : null}
        <ErrorNote error={targets.error} />
        {targets.data ? (
          <>
            <p class="muted">
              From {targets.data.source}, loaded <Time iso={targets.data.loaded_at} />.
            </p>
            <div class="table-wrap" role="region" aria-label="Targets" tabIndex={0}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Target</th>
                    <th scope="col">Executor</th>
                    <th scope="col">Environments</th>
                    <th scope="col">Capabilities</th>
                    <th scope="col">Constraints</th>
                  </tr>
                </thead>
                <tbody>
                  {targets.data.targets.map((target) => (
                    <tr key={target.id}>
                      <th scope="row">
                        {target.id}
                        {target.mode === 'shadow' ? <span class="muted"> (shadow)</span> : null}
                        {target.description ? <span class="muted block">{target.description}</span> : null}
                      </th>
                      <td>{target.executor}</td>
                      <td>{target.environments.join(', ')}</td>
                      <td>{target.capabilities.join(', ')}</td>
                      <td>
                        timeout {target.constraints.timeout} s, {target.constraints.concurrency} at once, shell {target.constraints.shell ? 'allowed' : 'no'}, sudo {target.constraints.sudo_policy}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        ) : null}
      </section>
      {policy.data ? (
        <section class="card" aria-labelledby="policy-title">
          <h2 id="policy-title">Policy</h2>
          <p class="muted">
            From {policy.data.source}; a command no rule knows is {policy.data.default_level}.
          </p>
          <h3>Environments</h3>
          <div class="table-wrap" role="region" aria-label="Environments" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Environment</th>
                  <th scope="col">Approved automatically</th>
                  <th scope="col">TOTP step-up</th>
                  <th scope="col">Approvers</th>
                  <th scope="col">Raise</th>
                  <th scope="col">Min. score</th>
                  <th scope="col">Expires after</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(policy.data.environments).map(([name, environment]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>{environment.autoApprove.join(', ') || 'nothing'}</td>
                    <td>{environment.stepUp.join(', ') || 'never'}</td>
                    <td>
                      {Object.entries(environment.approvers)
                        .map(([level, people]) => `${level}: ${String(people)}`)
                        .join(', ') || '1 each'}
                    </td>
                    <td>{environment.raise}</td>
                    <td>{environment.minScore}</td>
                    <td>{environment.pendingMinutes} min</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {policy.data.rules.length > 0 ? (
            <>
              <h3>Rules of the policy file</h3>
              <RulesTable rules={policy.data.rules} label="Rules of the policy file" />
            </>
          ) : null}
          <h3>Built-in rules</h3>
          {policy.data.builtin_rules.length > 0 ? <RulesTable rules={policy.data.builtin_rules} label="Built-in rules" /> : <p>Switched off.</p>}
          <h3>Sensitive paths</h3>
          <p>
            {policy.data.sensitive_paths.map((path) => (
              <code key={path} class="chip">
                {path}
              </code>
            ))}
          </p>
        </section>
      ) : null}
    </>
  );
}

function IntegrationEndpoint(props: { path: string }) {
  const { data, error } = useLoad(() => api<unknown>('GET', props.path), [props.path]);
  const text = data === undefined ? '' : JSON.stringify(data, null, 2);
  return (
    <div>
      <p>
        <code>GET {props.path}</code>
      </p>
      <ErrorNote error={error} />
      {data !== undefined ? <pre class="output">{text.length > 4000 ? `${text.slice(0, 4000)}…` : text}</pre> : null}
    </div>
  );
}

function Integration(props: { name: string; endpoints: readonly string[]; detail: string }) {
  return (
    <section aria-label={props.name}>
      <h3>{props.name}</h3>
      {props.endpoints.length === 0 ? (
        <p class="muted">Not part of this server.</p>
      ) : (
        <>
          <p class="muted">{props.detail}</p>
          {props.endpoints.map((path) => (
            <IntegrationEndpoint key={path} path={path} />
          ))}
        </>
      )}
    </section>
  );
}

function SystemTab() {
  const session = useSession();
  const health = useLoad(() => api<Health>('GET', '/health'), []);
  const status = useLoad(() => (session.can('admin') ? api<{ status: AdminStatus }>('GET', '/v1/admin/status').then((answer) => answer.status) : Promise.resolve(undefined)), []);
  return (
    <>
      <section class="card" aria-labelledby="health-title">
        <h2 id="health-title">Health</h2>
        <ErrorNote error={health.error} />
        {health.data ? (
          <>
            <p class={health.data.status === 'healthy' ? 'ok' : 'error'}>
              <strong>{health.data.status}</strong>, version {health.data.version}, <Time iso={health.data.timestamp} />
            </p>
            <dl class="facts">
              {Object.entries(health.data.checks).map(([name, check]) => (
                <div key={name}>
                  <dt>{name}</dt>
                  <dd>
                    {check.status}{' '}
                    <span class="muted">
                      {Object.entries(check)
                        .filter(([key]) => key !== 'status')
                        .map(([key, value]) => `${key} ${typeof value === 'string' && value.length > 20 ? `${value.slice(0, 16)}…` : String(value)}`)
                        .join(', ')}
                    </span>
                  </dd>
                </div>
              ))}
            </dl>
          </>
        ) : null}
      </section>
      {session.can('admin') ? (
        <section class="card" aria-labelledby="server-title">
          <h2 id="server-title">Server and integrations</h2>
          <ErrorNote error={status.error} />
          {status.data ? (
            <>
              <dl class="facts">
                <div>
                  <dt>Version</dt>
                  <dd>{status.data.version}</dd>
                </div>
                <div>
                  <dt>Store</dt>
                  <dd>{status.data.store}</dd>
                </div>
                <div>
                  <dt>Instance</dt>
                  <dd>{status.data.instance ?? 'default'}</dd>
                </div>
                <div>
                  <dt>Environments</dt>
                  <dd>{status.data.environments.join(', ')}</dd>
                </div>
              </dl>
              <h3>Deliveries</h3>
              {Object.keys(status.data.deliveries).length === 0 ? (
                <p class="muted">Nothing has been delivered to webhooks or Telegram yet.</p>
              ) : (
                <ul>
                  {Object.entries(status.data.deliveries).map(([channel, byStatus]) => (
                    <li key={channel}>
                      <strong>{channel}</strong>:{' '}
                      {Object.entries(byStatus)
                        .map(([state, number]) => `${count(number)} ${state}`)
                        .join(', ')}
                    </li>
                  ))}
                </ul>
              )}
              <Integration name="Webhooks" endpoints={status.data.integrations.webhooks.endpoints} detail={`${count(status.data.integrations.webhooks.subscriptions)} active subscription(s).`} />
              <Integration name="Telegram" endpoints={status.data.integrations.telegram.endpoints} detail={`${count(status.data.integrations.telegram.messages)} request message(s) sent.`} />
            </>
          ) : null}
        </section>
      ) : null}
    </>
  );
}

/** Users, API keys, targets and policy, and the server's health: each tab for whoever may see it. */
export function AdminPage(props: { path: string }) {
  const session = useSession();
  const tabs = tabsFor(session.can).filter((tab) => tab.allowed);
  const current = tabs.find((tab) => tab.path === props.path) ?? tabs[0];
  return (
    <section>
      <PageTitle>Admin</PageTitle>
      <nav class="tabs" aria-label="Admin sections">
        <ul>
          {tabs.map((tab) => (
            <li key={tab.path}>
              <a {...linkProps(tab.path)} aria-current={tab === current ? 'page' : undefined}>
                {tab.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {current?.path === '/admin/users' ? <UsersTab /> : null}
      {current?.path === '/admin/keys' ? <KeysTab /> : null}
      {current?.path === '/admin/targets' ? <TargetsTab /> : null}
      {current?.path === '/admin/system' ? <SystemTab /> : null}
    </section>
  );
}
