import { parentPort, workerData } from 'node:worker_threads';
import { checkRange, type RangeTask } from './verify.js';

// Checks one range of the chain on its own connection and reports back (see verifyChain).
parentPort?.postMessage(await checkRange(workerData as RangeTask));
