import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import type { IContainer, IPodSpec, IPodTemplateSpec } from 'kubernetes-models/v1';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { knownVariable } from './variables.js';

/**
 * deploy/kubernetes: every document validated against the Kubernetes OpenAPI schemas that the
 * kubernetes-models package compiles (`new Deployment(doc).validate()` throws on a schema error), then
 * the properties the deployment depends on: probes, the sandbox, selectors that really select, network
 * policies, secrets by reference. There is no cluster here: `kubectl apply` is a manual step.
 */
const DIR = join(REPO_ROOT, 'deploy/kubernetes');
const files = readdirSync(DIR).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}
const docs: (Doc & { file: string })[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((document) => {
    expect(document.errors, file).toEqual([]);
    return { ...(document.toJS() as Doc), file };
  }),
);

/** The kubernetes-models class of each kind used here. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};
function validate(doc: Doc): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  const { file: _file, ...data } = doc as Doc & { file?: string };
  new Model(data as never).validate();
}

const find = <T>(kind: string, name: string): T => {
  const found = docs.find((doc) => doc.kind === kind && doc.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return found as unknown as T;
};
type Workload = Doc & { spec: { replicas?: number; selector?: { matchLabels: Record<string, string> }; template: IPodTemplateSpec } };
const api = find<Workload>('Deployment', 'airlock-api');
const gateway = find<Workload>('Deployment', 'airlock-gateway');
const migrate = find<Workload>('Job', 'airlock-migrate');
const podSpec = (workload: Workload): IPodSpec => workload.spec.template.spec as IPodSpec;
const main = (workload: Workload): IContainer => podSpec(workload).containers[0] as IContainer;
const allContainers = (workload: Workload): IContainer[] => [...(podSpec(workload).initContainers ?? []), ...podSpec(workload).containers];
const podLabels = (workload: Workload): Record<string, string> => workload.spec.template.metadata?.labels ?? {};
/** Whether a label selector (matchLabels only, as used here) selects these labels. */
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.entries(selector).every(([key, value]) => labels[key] === value);
const workloads = [api, gateway, migrate];

describe('deploy/kubernetes: schemas', () => {
  it('every document validates against its Kubernetes schema', () => {
    expect(docs.length).toBeGreaterThanOrEqual(12);
    for (const doc of docs) expect(() => validate(doc), `${doc.file}: ${doc.kind} ${doc.metadata.name}`).not.toThrow();
  });

  it('the validator catches broken manifests (so the check above is not vacuous)', () => {
    const broken = structuredClone(api) as unknown as { spec: Record<string, unknown> & { template: { spec: { containers: Record<string, unknown>[] } } } };
    broken.spec.replicas = 'two';
    delete (broken.spec.template.spec.containers[0] as Record<string, unknown>).name;
    expect(() => validate(broken as unknown as Doc)).toThrow(/replicas must be integer/);
    expect(() => validate(broken as unknown as Doc)).toThrow(/containers\/0 must have required property name/);
    const policy = structuredClone(find<Doc>('NetworkPolicy', 'airlock-api')) as unknown as { spec: { policyTypes: unknown } };
    policy.spec.policyTypes = 'Ingress';
    expect(() => validate(policy as unknown as Doc)).toThrow(/policyTypes must be array/);
    const pdb = structuredClone(find<Doc>('PodDisruptionBudget', 'airlock-api')) as unknown as { spec: { selector: unknown } };
    pdb.spec.selector = ['app'];
    expect(() => validate(pdb as unknown as Doc)).toThrow();
  });

  it('everything lives in the airlock namespace and is labelled part-of airlock', () => {
    for (const doc of docs) {
      if (doc.kind !== 'Namespace') expect(doc.metadata.namespace, `${doc.kind} ${doc.metadata.name}`).toBe('airlock');
      expect(doc.metadata.labels?.['app.kubernetes.io/part-of'], `${doc.kind} ${doc.metadata.name}`).toBe('airlock');
    }
    expect(find<Doc>('Namespace', 'airlock').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('kustomization.yaml lists every manifest but the optional HTTPS egress policy, and names the image', () => {
    const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]?.toJS() as { resources: string[]; namespace: string; images: { name: string }[] };
    expect(kustomization.namespace).toBe('airlock');
    expect([...kustomization.resources].sort()).toEqual(files.filter((file) => file !== 'networkpolicy-api-https.yaml').sort());
    for (const workload of workloads) for (const container of allContainers(workload)) expect(container.image?.split(':')[0]).toBe(kustomization.images[0]?.name);
  });
});

describe('deploy/kubernetes: workloads', () => {
  it('runs the roles and the migration', () => {
    expect(main(api).args).toEqual(['serve', '--role', 'api']);
    expect(main(gateway).args).toEqual(['serve', '--role', 'gateway']);
    expect(main(migrate).args).toEqual(['migrate']);
    expect(podSpec(migrate).restartPolicy).toBe('OnFailure');
    expect(api.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(gateway.spec.replicas).toBeGreaterThanOrEqual(2);
  });

  it('each Deployment selects its own pods, and no other', () => {
    for (const workload of [api, gateway]) expect(selects(workload.spec.selector?.matchLabels, podLabels(workload))).toBe(true);
    expect(selects(api.spec.selector?.matchLabels, podLabels(gateway))).toBe(false);
    expect(selects(gateway.spec.selector?.matchLabels, podLabels(api))).toBe(false);
  });

  it('probes: readiness on /ready, liveness and startup on /metrics (never /health or /ready: a database outage must not restart pods)', () => {
    for (const workload of [api, gateway]) {
      const container = main(workload);
      const ports = (container.ports ?? []).map((port) => port.name);
      expect(container.readinessProbe?.httpGet?.path).toBe('/ready');
      expect(container.livenessProbe?.httpGet?.path).toBe('/metrics');
      expect(container.startupProbe?.httpGet?.path).toBe('/metrics');
      for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) expect(ports).toContain(probe?.httpGet?.port);
      expect(container.ports?.[0]).toMatchObject({ name: 'http', containerPort: 5002 });
    }
  });

  it('runs as the image\'s non-root user with a read-only root, no capabilities, RuntimeDefault seccomp, and limits', () => {
    const dockerfileUser = /^USER (\d+):(\d+)$/m.exec(readFileSync(join(REPO_ROOT, 'deploy/Dockerfile'), 'utf8'));
    for (const workload of workloads) {
      const pod = podSpec(workload);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(dockerfileUser?.[1]), runAsGroup: Number(dockerfileUser?.[2]), seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.hostNetwork ?? false).toBe(false);
      for (const container of allContainers(workload)) {
        expect(container.securityContext, container.name).toMatchObject({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(container.securityContext?.privileged ?? false).toBe(false);
        expect(container.resources?.requests?.cpu, container.name).toBeDefined();
        expect(container.resources?.requests?.memory, container.name).toBeDefined();
        expect(container.resources?.limits?.memory, container.name).toBeDefined();
        // A read-only root: the data folder and /tmp are volumes.
        if (container.name !== 'keys') expect((container.volumeMounts ?? []).map((mount) => mount.mountPath)).toEqual(expect.arrayContaining(['/var/lib/airlock', '/tmp']));
      }
    }
  });

  it('lets the gateway finish executions in flight when it stops', () => {
    expect(podSpec(gateway).terminationGracePeriodSeconds).toBeGreaterThan(60);
    for (const workload of [api, gateway]) expect(main(workload).lifecycle?.preStop?.exec?.command).toEqual(['sleep', '5']);
  });

  it('every AIRLOCK_* variable is one Airlock reads, and targets.yaml is where AIRLOCK_TARGETS_FILE says', () => {
    const envConfig = find<Doc & { data: Record<string, string> }>('ConfigMap', 'airlock-env');
    for (const key of Object.keys(envConfig.data)) expect(knownVariable(key), key).toBe(true);
    for (const workload of workloads) for (const variable of main(workload).env ?? []) if (variable.name.startsWith('AIRLOCK_')) expect(knownVariable(variable.name), variable.name).toBe(true);
    for (const workload of [api, gateway]) {
      const mount = main(workload).volumeMounts?.find((m) => m.name === 'targets');
      const volume = podSpec(workload).volumes?.find((v) => v.name === 'targets');
      expect(volume?.configMap?.name).toBe('airlock-targets');
      expect(`${mount?.mountPath}/targets.yaml`).toBe(envConfig.data.AIRLOCK_TARGETS_FILE);
      expect(main(workload).envFrom).toEqual([{ configMapRef: { name: 'airlock-env' } }]);
    }
  });

  it('the targets.yaml of the ConfigMap is valid for Airlock', async () => {
    const cwd = tmpDir();
    const file = join(cwd, 'targets.yaml');
    writeFileSync(file, find<Doc & { data: Record<string, string> }>('ConfigMap', 'airlock-targets').data['targets.yaml'] as string);
    const result = await runCli(['config', 'validate', '--json', '--data-dir', join(cwd, 'data')], { cwd, env: { AIRLOCK_TARGETS_FILE: file } });
    expect(JSON.parse(result.stdout)).toMatchObject({ valid: true, problems: [] });
  });
});

describe('deploy/kubernetes: secrets and keys', () => {
  const secrets = find<Doc & { stringData: Record<string, string> }>('Secret', 'airlock-secrets');

  it('Deployments and the Job take secrets by reference, never inline', () => {
    const secretish = /DATABASE_URL|REDIS_URL|SECRET|PASSWORD|TOKEN|PRIVATE/;
    for (const workload of workloads) {
      for (const variable of main(workload).env ?? []) {
        if (!secretish.test(variable.name)) continue;
        expect(variable.value, variable.name).toBeUndefined();
        const ref = variable.valueFrom?.secretKeyRef;
        expect(ref?.name, variable.name).toBe('airlock-secrets');
        expect(Object.keys(secrets.stringData), variable.name).toContain(ref?.key);
      }
    }
    for (const name of ['AIRLOCK_DATABASE_URL', 'AIRLOCK_REDIS_URL', 'AIRLOCK_SECRET_KEY']) {
      for (const workload of [api, gateway]) expect(main(workload).env?.some((variable) => variable.name === name)).toBe(true);
    }
  });

  it('the Secret is a marked template whose placeholders Airlock refuses', async () => {
    const text = readFileSync(join(DIR, 'secret.yaml'), 'utf8');
    expect(text.split('\n')[0]).toMatch(/^# TEMPLATE: REPLACE EVERY VALUE/);
    for (const [key, value] of Object.entries(secrets.stringData)) expect(value, key).toContain('REPLACE');
    const cwd = tmpDir();
    const result = await runCli(['config', 'validate', '--data-dir', join(cwd, 'data')], { cwd, env: { AIRLOCK_SECRET_KEY: secrets.stringData.AIRLOCK_SECRET_KEY as string } });
    expect(result.code).toBe(2);
    expect(result.stdout + result.stderr).toContain('auth.secretKey: must be at least 32 characters');
  });

  it('the api holds the signing keys; the gateway gets only its own Secret and the public keys from the API', () => {
    const secretVolumes = (workload: Workload): string[] => (podSpec(workload).volumes ?? []).flatMap((volume) => (volume.secret?.secretName ? [volume.secret.secretName] : []));
    expect(secretVolumes(api)).toEqual(['airlock-api-keys']);
    expect(secretVolumes(gateway).sort()).toEqual(['airlock-gateway-keys', 'airlock-ssh']);
    const envOf = (workload: Workload, name: string): string | undefined => main(workload).env?.find((variable) => variable.name === name)?.value;
    expect(envOf(gateway, 'AIRLOCK_JWKS_URL')).toBe('http://airlock-api:5002/.well-known/jwks.json');
    expect(envOf(api, 'AIRLOCK_GATEWAY_URL')).toBe('http://airlock-gateway:5002');
    expect(envOf(api, 'AIRLOCK_JWKS_URL')).toBeUndefined();
    for (const workload of [api, gateway]) {
      expect(envOf(workload, 'AIRLOCK_KEYS_DIR')).toBe('/var/lib/airlock/keys');
      // The keys live in memory, never on the node's disk.
      expect(podSpec(workload).volumes?.find((volume) => volume.name === 'keys')?.emptyDir?.medium).toBe('Memory');
    }
  });

  it('the keys init container turns Secret files (group-readable, symlinked) into 0600 files Airlock accepts', async () => {
    // A Secret volume as the kubelet writes it: ..data -> a timestamped folder, each key a symlink into
    // ..data, files 0440 with fsGroup. The keys are made as docs/OPERATIONS.md says: openssl genpkey.
    const root = tmpDir();
    const secretDir = join(root, 'keys-secret');
    const stamped = join(secretDir, '..2026_01_01_00_00_00.000000000');
    mkdirSync(stamped, { recursive: true });
    symlinkSync('..2026_01_01_00_00_00.000000000', join(secretDir, '..data'));
    const names = ['token-ed25519.pem', 'access-ed25519.pem', 'receipt-ed25519.pem', 'audit-ed25519.pem'];
    for (const name of names) {
      execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(stamped, name)]);
      chmodSync(join(stamped, name), 0o440);
      symlinkSync(join('..data', name), join(secretDir, name));
    }
    const dataDir = join(root, 'data');
    const keysDir = join(dataDir, 'keys');
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });

    // As is, Airlock refuses them: that is why the init container exists.
    const refused = await runCli(['init', '--data-dir', join(root, 'refused')], { cwd: root, env: { AIRLOCK_AUDIT_KEY_FILE: join(secretDir, 'audit-ed25519.pem') } });
    expect(refused.stderr).toContain('key_insecure');

    const command = podSpec(api).initContainers?.[0]?.command ?? [];
    expect(command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    const script = (command[2] as string).replaceAll('/keys-secret', secretDir).replaceAll('/var/lib/airlock/keys', keysDir);
    execFileSync('/bin/sh', ['-c', script]);
    for (const name of names) {
      expect(statSync(join(keysDir, name)).mode & 0o777, name).toBe(0o600);
      expect(statSync(join(keysDir, name)).isFile()).toBe(true);
      expect(readFileSync(join(keysDir, name), 'utf8')).toBe(readFileSync(join(stamped, name), 'utf8'));
    }
    expect(readdirSync(keysDir).sort()).toEqual([...names].sort());

    // Airlock takes them as they are (it replaces none of them) and derives the public halves.
    const init = await runCli(['init', '--data-dir', dataDir], { cwd: root, env: { AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: 'Test-Root-Password-Strong-1' } });
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/audit key: .* \(existing, key id /);
    for (const name of names) expect(readFileSync(join(keysDir, name), 'utf8')).toBe(readFileSync(join(stamped, name), 'utf8'));
    expect(readdirSync(keysDir)).toEqual(expect.arrayContaining(['token-ed25519.pub.pem', 'receipt-ed25519.pub.pem']));
  });
});

describe('deploy/kubernetes: Services and PodDisruptionBudgets', () => {
  it('each Service selects exactly its role\'s pods, on the named port', () => {
    for (const [name, workload, other] of [['airlock-api', api, gateway], ['airlock-gateway', gateway, api]] as const) {
      const service = find<Doc & { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] } }>('Service', name);
      expect(selects(service.spec.selector, podLabels(workload))).toBe(true);
      expect(selects(service.spec.selector, podLabels(other))).toBe(false);
      expect(service.spec.ports).toEqual([expect.objectContaining({ port: 5002, targetPort: 'http' })]);
    }
  });

  it('each Deployment has a PodDisruptionBudget with its selector that leaves room to drain a node', () => {
    for (const workload of [api, gateway]) {
      const pdb = find<Doc & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget', workload.metadata.name);
      expect(pdb.spec.selector.matchLabels).toEqual(workload.spec.selector?.matchLabels);
      expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
      expect(pdb.spec.minAvailable).toBeLessThan(workload.spec.replicas as number);
    }
  });
});

describe('deploy/kubernetes: NetworkPolicies', () => {
  type Rule = { from?: INetworkPolicyPeer[]; to?: INetworkPolicyPeer[]; ports?: { protocol?: string; port?: number }[] };
  type Policy = Doc & { spec: { podSelector: { matchLabels?: Record<string, string> }; policyTypes: string[]; ingress?: Rule[]; egress?: Rule[] } };
  const policies = docs.filter((doc) => doc.kind === 'NetworkPolicy' && doc.file === 'networkpolicy.yaml') as unknown as Policy[];
  const policy = (name: string): Policy => find<Policy>('NetworkPolicy', name);
  const ports = (rules: Rule[] | undefined): number[] => [...new Set((rules ?? []).flatMap((rule) => (rule.ports ?? []).map((port) => port.port as number)))].sort((a, b) => a - b);
  const peerSelects = (peer: INetworkPolicyPeer, workload: Workload): boolean => peer.namespaceSelector === undefined && selects(peer.podSelector?.matchLabels, podLabels(workload));

  it('denies everything by default, in and out', () => {
    const deny = policy('airlock-default-deny');
    expect(deny.spec.podSelector).toEqual({});
    expect(deny.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(deny.spec.ingress).toBeUndefined();
    expect(deny.spec.egress).toBeUndefined();
  });

  it('each policy selects real pods: the api\'s, the gateway\'s, the Job\'s', () => {
    for (const [name, workload] of [['airlock-api', api], ['airlock-gateway', gateway], ['airlock-migrate', migrate]] as const) {
      expect(selects(policy(name).spec.podSelector.matchLabels, podLabels(workload)), name).toBe(true);
      expect(policy(name).spec.policyTypes).toEqual(['Ingress', 'Egress']);
    }
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(['airlock-api', 'airlock-default-deny', 'airlock-gateway', 'airlock-migrate']);
  });

  it('the API is reached on 5002 from the ingress controller and the gateways only', () => {
    const ingress = policy('airlock-api').spec.ingress ?? [];
    expect(ports(ingress)).toEqual([5002]);
    const peers = ingress.flatMap((rule) => rule.from ?? []);
    expect(peers).toHaveLength(2);
    expect(peers.some((peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'ingress-nginx' && peer.podSelector === undefined)).toBe(true);
    expect(peers.some((peer) => peerSelects(peer, gateway))).toBe(true);
  });

  it('the gateway is reached on 5002 only from the api pods and pods labelled as agents', () => {
    const ingress = policy('airlock-gateway').spec.ingress ?? [];
    expect(ports(ingress)).toEqual([5002]);
    const peers = ingress.flatMap((rule) => rule.from ?? []);
    expect(peers).toHaveLength(2);
    expect(peers.some((peer) => peerSelects(peer, api))).toBe(true);
    expect(peers.some((peer) => peer.podSelector?.matchLabels?.['airlock-agent'] === 'true')).toBe(true);
    for (const peer of peers) expect(peer.ipBlock).toBeUndefined();
  });

  it('the API reaches only DNS, PostgreSQL, Redis and the gateways', () => {
    const egress = policy('airlock-api').spec.egress ?? [];
    expect(ports(egress)).toEqual([53, 5002, 5432, 6379]);
    const to5002 = egress.filter((rule) => (rule.ports ?? []).some((port) => port.port === 5002));
    expect(to5002.flatMap((rule) => rule.to ?? []).every((peer) => peerSelects(peer, gateway))).toBe(true);
    const dns = egress.filter((rule) => (rule.ports ?? []).some((port) => port.port === 53));
    expect(dns.flatMap((rule) => rule.to ?? [])).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }]);
  });

  it('the gateway reaches DNS, PostgreSQL, Redis, the API\'s JWKS and SSH; the Job only DNS and PostgreSQL', () => {
    const egress = policy('airlock-gateway').spec.egress ?? [];
    expect(ports(egress)).toEqual([22, 53, 5002, 5432, 6379]);
    const to5002 = egress.filter((rule) => (rule.ports ?? []).some((port) => port.port === 5002));
    expect(to5002.flatMap((rule) => rule.to ?? []).every((peer) => peerSelects(peer, api))).toBe(true);
    expect(ports(policy('airlock-migrate').spec.egress)).toEqual([53, 5432]);
    expect(policy('airlock-migrate').spec.ingress).toBeUndefined();
  });
});
