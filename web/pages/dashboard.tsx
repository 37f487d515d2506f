import { api } from '../api.js';
import { LatencyChart, RequestsChart } from '../charts.js';
import { ErrorNote, Field, Loading, PageTitle, useLoad } from '../components.js';
import { count, seconds } from '../format.js';
import { useLiveRefresh } from '../live.js';
import { linkProps, navigate } from '../router.js';
import type { Stats } from '../types.js';

const RANGES: ReadonlyArray<readonly [number, string]> = [
  [12, 'last 12 hours'],
  [24, 'last 24 hours'],
  [72, 'last 3 days'],
  [168, 'last 7 days'],
];

/** Requests per hour by risk level and how long decisions take. */
export function DashboardPage(props: { params: URLSearchParams }) {
  const hours = Number(props.params.get('hours') ?? 24);
  const { data, error, reload } = useLoad(() => api<{ stats: Stats }>('GET', `/v1/stats?hours=${hours}`).then((answer) => answer.stats), [hours]);
  useLiveRefresh(reload, (event) => event.type.startsWith('request.'), 2000);
  return (
    <section>
      <PageTitle>Dashboard</PageTitle>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <Field label="Period">
          <select value={String(hours)} onChange={(event) => navigate(`/dashboard?hours=${event.currentTarget.value}`, true)}>
            {RANGES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </Field>
      </form>
      <ErrorNote error={error} />
      {!data && !error ? <Loading what="statistics" /> : null}
      {data ? (
        <>
          <ul class="tiles">
            <li>
              <span class="tile-value">{count(data.totals.requests)}</span> requests
            </li>
            <li>
              <a {...linkProps('/inbox')}>
                <span class="tile-value">{count(data.totals.by_status.PENDING ?? 0)}</span> pending
              </a>
            </li>
            <li>
              <span class="tile-value">{count(data.totals.auto_approved)}</span> approved by policy
            </li>
            <li>
              <span class="tile-value">{count(data.totals.by_status.REJECTED ?? 0)}</span> rejected
            </li>
            <li>
              <span class="tile-value">{seconds(data.decision_latency.median_seconds)}</span> median time to decide
            </li>
            <li>
              <span class="tile-value">{seconds(data.decision_latency.p90_seconds)}</span> 90th percentile
            </li>
          </ul>
          <div class="charts">
            <RequestsChart hours={data.per_hour} />
            <LatencyChart hours={data.per_hour} />
          </div>
        </>
      ) : null}
    </section>
  );
}
