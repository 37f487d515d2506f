/**
 * Notification latency of one `airlock serve` (SQLite) with Telegram on, against the local Bot API
 * stand-in of the tests (in this process): for each pending MEDIUM request (`kill -0 1` in dev), the
 * time from sending POST /approvals/request to
 *   - the stand-in receiving the announcement (sendMessage with the request's buttons), and
 *   - an SSE client of GET /v1/events receiving its request.created event,
 * next to the time the POST itself took to answer (the baseline: notifying cannot be faster than the
 * commit it announces). Requests go one at a time, so none waits behind another.
 * Usage: npm run bench:notify
 */
import { createParser } from 'eventsource-parser';
import { Pool } from 'undici';
import { TelegramStandIn } from '../test/helpers/telegram.js';
import { CLI, benchWorkspace, json, percentile } from './lib.js';

const REQUESTS = 500;
const WARM_UP = 30;
const GOAL_P99_MS = 200;
const TOKEN = '123456789:bench-stand-in-token_abcdefghijkl';
const CHAT = '1001';

async function main(): Promise<void> {
  const standIn = await TelegramStandIn.start(TOKEN);
  const bench = benchWorkspace('notify', { AIRLOCK_TELEGRAM_BOT_TOKEN: TOKEN, AIRLOCK_TELEGRAM_API_ROOT: standIn.apiRoot, AIRLOCK_TELEGRAM_CHATS: `${CHAT}=alice` });
  const stream = new AbortController();
  try {
    const key = await bench.initKey();
    await bench.cli(['users', 'add', 'alice', '--role', 'approver']);
    const url = await bench.startProcess([CLI, 'serve', '--port', '0']);
    const pool = new Pool(url, { connections: 2 });
    const auth = { authorization: `Bearer ${key}` };
    console.log(`airlock notification benchmark, node ${process.version}, SQLite store, airlock at ${url}, Telegram stand-in at ${standIn.apiRoot}\n`);

    // When each request was seen where: by id, performance.now() of this process.
    const telegramAt = new Map<string, number>();
    const sseAt = new Map<string, number>();
    let wake: (() => void) | undefined;
    const seen = () => wake?.();
    standIn.onCall = (call) => {
      const data = call.params.reply_markup?.inline_keyboard?.[0]?.[0]?.callback_data as string | undefined;
      if (call.method === 'sendMessage' && data?.startsWith('approve:')) {
        telegramAt.set(data.slice('approve:'.length), call.at);
        seen();
      }
    };

    const response = await fetch(`${url}/v1/events?types=request.created`, { headers: { ...auth, accept: 'text/event-stream' }, signal: stream.signal });
    if (!response.ok || !response.body) throw new Error(`GET /v1/events answered ${response.status}`);
    const parser = createParser({
      onEvent: (message) => {
        const event = JSON.parse(message.data) as { subject?: { id: string } };
        if (event.subject) sseAt.set(event.subject.id, performance.now());
        seen();
      },
    });
    void (async () => {
      try {
        for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) parser.feed(chunk);
      } catch {
        // aborted at the end
      }
    })();

    const answered: number[] = [];
    const toTelegram: number[] = [];
    const toSse: number[] = [];
    for (let i = 0; i < WARM_UP + REQUESTS; i++) {
      const started = performance.now();
      const { request } = await json(pool, 'POST', '/approvals/request', auth, { worker_id: 'bench', task_name: 'notify bench', command: 'kill -0 1', deployment_env: 'dev' });
      const answeredAt = performance.now();
      if (request.status !== 'PENDING') throw new Error(`expected a pending request, got ${request.status}`);
      const id = request.request_id as string;
      const deadline = Date.now() + 30_000;
      while (!(telegramAt.has(id) && sseAt.has(id))) {
        if (Date.now() > deadline) throw new Error(`request ${id} was not announced within 30 s (telegram: ${telegramAt.has(id)}, sse: ${sseAt.has(id)})`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      if (i < WARM_UP) continue;
      answered.push(answeredAt - started);
      toTelegram.push((telegramAt.get(id) as number) - started);
      toSse.push((sseAt.get(id) as number) - started);
    }

    const fmt = (ms: number) => ms.toFixed(2).padStart(8);
    const line = (label: string, values: number[]) => {
      const p99 = percentile(values, 99);
      const goal = label.startsWith('POST') ? '' : `   goal p99 < ${GOAL_P99_MS} ms: ${p99 < GOAL_P99_MS ? 'met' : 'NOT met'}`;
      console.log(`  ${label.padEnd(48)} p50 ${fmt(percentile(values, 50))} ms   p99 ${fmt(p99)} ms${goal}`);
    };
    console.log(`${REQUESTS} pending MEDIUM requests (kill -0 1, dev) one at a time, after ${WARM_UP} to warm up; times from sending the POST`);
    line('POST /approvals/request answered (baseline)', answered);
    line('Telegram sendMessage at the stand-in', toTelegram);
    line('SSE request.created at a GET /v1/events client', toSse);
    const ratio = (values: number[]) => (percentile(values, 50) / percentile(answered, 50)).toFixed(2);
    console.log(`  p50 ratios to the POST's own answer: Telegram ${ratio(toTelegram)}, SSE ${ratio(toSse)}`);
    await pool.close();
  } finally {
    stream.abort();
    await bench.close();
    await standIn.close();
  }
}

await main();
