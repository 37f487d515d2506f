import { api, query } from '../api.js';
import { EnvBadge, ErrorNote, Field, Loading, PageTitle, RiskBadge, StatusBadge, Time, useLoad, useNow } from '../components.js';
import { useLiveRefresh } from '../live.js';
import { linkProps, navigate } from '../router.js';
import type { Approval } from '../types.js';

const STATUSES = ['', 'PENDING', 'APPROVED', 'REJECTED', 'EXPIRED', 'EXECUTED'] as const;

/** Every request, newest first, by status: the way into each request's history. */
export function RequestsPage(props: { params: URLSearchParams }) {
  const status = props.params.get('status') ?? '';
  const now = useNow(10_000);
  const { data, error, reload } = useLoad(() => api<{ requests: Approval[] }>('GET', `/v1/approvals${query({ status: status || undefined, limit: 200 })}`).then((answer) => answer.requests), [status]);
  useLiveRefresh(reload, () => true, 1000);
  return (
    <section>
      <PageTitle>Requests</PageTitle>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <Field label="Status">
          <select value={status} onChange={(event) => navigate(`/requests${query({ status: event.currentTarget.value })}`, true)}>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {value === '' ? 'all' : value.toLowerCase()}
              </option>
            ))}
          </select>
        </Field>
      </form>
      <ErrorNote error={error} />
      {!data && !error ? <Loading what="requests" /> : null}
      {data && data.length === 0 ? <p class="empty">No requests{status ? ` that are ${status.toLowerCase()}` : ''}.</p> : null}
      {data && data.length > 0 ? (
        <div class="table-wrap" role="region" aria-label="Requests" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Asked</th>
                <th scope="col">Risk</th>
                <th scope="col">Status</th>
                <th scope="col">Task</th>
                <th scope="col">Command</th>
                <th scope="col">Where</th>
                <th scope="col">Requester</th>
              </tr>
            </thead>
            <tbody>
              {data.map((request) => (
                <tr key={request.request_id}>
                  <td>
                    <Time iso={request.created_at} now={now} relative />
                  </td>
                  <td>
                    <RiskBadge level={request.risk_level} />
                  </td>
                  <td>
                    <StatusBadge status={request.status} />
                  </td>
                  <td>
                    <a {...linkProps(`/requests/${request.request_id}`)}>{request.task_name}</a>
                  </td>
                  <td>
                    <code class="clip">{request.command}</code>
                  </td>
                  <td>
                    <EnvBadge env={request.environment} /> {request.target}
                  </td>
                  <td>{request.requester ?? request.requested_by}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
