import { durationAxis, hourLabel, seconds } from './format.js';
import { LEVELS, type HourStats } from './types.js';

const WIDTH = 720;
const HEIGHT = 240;
const PAD = { top: 12, right: 12, bottom: 36, left: 56 };

/** 1, 2, 5 × 10^n at or above `value`: a round top for an axis. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function Axes(props: { top: number; format: (value: number) => string; hours: readonly HourStats[]; unit: string }) {
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const every = Math.max(1, Math.ceil(props.hours.length / 8));
  const long = props.hours.length > 24;
  const slot = innerWidth / Math.max(props.hours.length, 1);
  return (
    <g class="axes" aria-hidden="true">
      {[0, 0.5, 1].map((fraction) => {
        const y = PAD.top + innerHeight * (1 - fraction);
        return (
          <g key={fraction}>
            <line class="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y} y2={y} />
            <text class="tick" x={PAD.left - 6} y={y + 4} text-anchor="end">
              {props.format(props.top * fraction)}
            </text>
          </g>
        );
      })}
      {props.hours.map((hour, index) =>
        index % every === 0 ? (
          <text key={hour.hour} class="tick" x={PAD.left + slot * index + slot / 2} y={HEIGHT - PAD.bottom + 16} text-anchor="middle">
            {hourLabel(hour.hour, long)}
          </text>
        ) : null,
      )}
      <text class="unit" x={PAD.left} y={HEIGHT - 4}>
        {props.unit}
      </text>
    </g>
  );
}

/** Requests per hour, stacked by risk level (LOW at the bottom). */
export function RequestsChart(props: { hours: readonly HourStats[] }) {
  const { hours } = props;
  const totals = hours.map((hour) => LEVELS.reduce((sum, level) => sum + (hour.requests[level] ?? 0), 0));
  const top = niceCeiling(Math.max(...totals, 1));
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = innerWidth / Math.max(hours.length, 1);
  const barWidth = Math.max(2, slot * 0.7);
  return (
    <figure class="chart">
      <figcaption id="requests-chart-title">Requests per hour by risk level</figcaption>
      <ul class="legend">
        {LEVELS.map((level) => (
          <li key={level}>
            <span class={`swatch level-${level.toLowerCase()}`} aria-hidden="true" /> {level}
          </li>
        ))}
      </ul>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby="requests-chart-title" preserveAspectRatio="xMidYMid meet">
        <Axes top={top} format={(value) => String(Math.round(value))} hours={hours} unit="requests" />
        {hours.map((hour, index) => {
          let base = PAD.top + innerHeight;
          return (
            <g key={hour.hour}>
              {LEVELS.map((level) => {
                const value = hour.requests[level] ?? 0;
                if (value === 0) return null;
                const height = (value / top) * innerHeight;
                base -= height;
                return (
                  <rect key={level} class={`bar level-${level.toLowerCase()}`} x={PAD.left + slot * index + (slot - barWidth) / 2} y={base} width={barWidth} height={height}>
                    <title>{`${hourLabel(hour.hour, true)}: ${value} ${level}`}</title>
                  </rect>
                );
              })}
            </g>
          );
        })}
      </svg>
      <details class="chart-data">
        <summary>Show the numbers</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Hour</th>
                {LEVELS.map((level) => (
                  <th scope="col" key={level}>
                    {level}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {hours.map((hour) => (
                <tr key={hour.hour}>
                  <th scope="row">{hourLabel(hour.hour, true)}</th>
                  {LEVELS.map((level) => (
                    <td key={level} class="num">
                      {hour.requests[level] ?? 0}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

/** How long people took to decide, per hour: the median as a bar, the 90th percentile as a mark. */
export function LatencyChart(props: { hours: readonly HourStats[] }) {
  const { hours } = props;
  const axis = durationAxis(Math.max(...hours.map((hour) => hour.p90_seconds ?? hour.median_seconds ?? 0), 1));
  const top = axis.top;
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = innerWidth / Math.max(hours.length, 1);
  const barWidth = Math.max(2, slot * 0.7);
  const y = (value: number) => PAD.top + innerHeight * (1 - value / top);
  return (
    <figure class="chart">
      <figcaption id="latency-chart-title">Decision latency per hour (median bar, 90th percentile mark)</figcaption>
      <ul class="legend">
        <li>
          <span class="swatch latency" aria-hidden="true" /> median
        </li>
        <li>
          <span class="swatch p90" aria-hidden="true" /> 90th percentile
        </li>
      </ul>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby="latency-chart-title" preserveAspectRatio="xMidYMid meet">
        <Axes top={top} format={axis.label} hours={hours} unit="time to decide" />
        {hours.map((hour, index) => {
          if (hour.median_seconds === null) return null;
          const x = PAD.left + slot * index + (slot - barWidth) / 2;
          return (
            <g key={hour.hour}>
              <rect class="bar latency" x={x} y={y(hour.median_seconds)} width={barWidth} height={Math.max(1, PAD.top + innerHeight - y(hour.median_seconds))}>
                <title>{`${hourLabel(hour.hour, true)}: median ${seconds(hour.median_seconds)}, 90th percentile ${seconds(hour.p90_seconds)}, ${hour.decisions} decisions`}</title>
              </rect>
              {hour.p90_seconds !== null ? <line class="p90" x1={x - 2} x2={x + barWidth + 2} y1={y(hour.p90_seconds)} y2={y(hour.p90_seconds)} /> : null}
            </g>
          );
        })}
      </svg>
      <details class="chart-data">
        <summary>Show the numbers</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Hour</th>
                <th scope="col">Decisions</th>
                <th scope="col">Median</th>
                <th scope="col">90th percentile</th>
              </tr>
            </thead>
            <tbody>
              {hours.map((hour) => (
                <tr key={hour.hour}>
                  <th scope="row">{hourLabel(hour.hour, true)}</th>
                  <td class="num">{hour.decisions}</td>
                  <td class="num">{seconds(hour.median_seconds)}</td>
                  <td class="num">{seconds(hour.p90_seconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
