export { TargetRegistry, type RegistryState, type Target } from './registry.js';
export { builtinTargets, loadTargetsFile } from './load.js';
export { checkGate, type GateAnswer, type GateDenial, type GateQuestion } from './policy-gate.js';
export { enforceGate } from './enforce.js';
export { CAPABILITIES, CapabilitySchema, type Capability } from './schema.js';
export { targetRoutes, targetView } from './routes.js';
export { ExecutorPool, checkTarget, executorFor, type ExecutorFactories } from './executors.js';
