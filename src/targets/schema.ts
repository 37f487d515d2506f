import { z } from 'zod';

/**
 * What a target may be asked to do. `exec` runs command lines; the rest are the reference control
 * plane's capabilities, needed by the typed operations.
 */
export const CAPABILITIES = ['exec', 'system:read', 'system:write', 'container:read', 'container:control', 'network:read', 'stack:deploy'] as const;
export const CapabilitySchema = z.enum(CAPABILITIES);
export type Capability = z.infer<typeof CapabilitySchema>;

export const SUDO_POLICIES = ['none', 'limited', 'full'] as const;

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be 1-64 letters, digits, ".", "_" or "-"' });
const environment = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'must be an environment name' });
/** A path to a secret, or ${VARIABLE} naming one: never the secret itself. */
const secretPath = z
  .string()
  .min(1)
  .refine((value) => !value.includes('-----BEGIN') && !value.includes('\n'), { error: 'must be a file path or ${VARIABLE}, never the key itself' });
const seconds = z.number().int().min(1).max(86_400);

const SshConnection = z.strictObject({
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65_535).default(22),
  username: z.string().min(1).max(64),
  key_path: secretPath,
  /** The pinned host key, as `ssh-keygen -lf` prints it: SHA256:… */
  host_key: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, { error: 'must be a SHA256:… fingerprint as ssh-keygen -lf prints it' }),
  keepalive_seconds: z.number().int().min(1).max(3600).default(15),
});

const DockerConnection = z
  .strictObject({
    socket_path: z.string().min(1).optional(),
    url: z.string().regex(/^(tcp|http|https):\/\/[^\s/]+(:\d+)?\/?$/, { error: 'must be tcp://host:port' }).optional(),
    /** The container `exec` runs in; typed container operations name their own. */
    container: z.string().min(1).max(128).optional(),
  })
  .refine((c) => (c.socket_path === undefined) !== (c.url === undefined), { error: 'give exactly one of socket_path or url' });

/** A workspace (src/workspaces) as a target: commands run in it, through the gate like any other. */
const WorkspaceConnection = z.strictObject({
  /** The workspace's id, as `airlock workspaces create` printed it. */
  workspace: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, { error: 'must be a workspace id (as `airlock workspaces create` prints it)' }),
});

/** A user or group id (uid_t/gid_t; 4294967295 is -1, "no change"). */
const posixId = z.number().int().min(0).max(4_294_967_294);

const LocalConnection = z
  .strictObject({
    work_dir: z.string().min(1).optional(),
    /** The user and group commands run as (Airlock's own when absent); another needs Airlock to run as root. */
    uid: posixId.optional(),
    gid: posixId.optional(),
  })
  // With a uid alone the command would keep Airlock's own group (root's, when it switches users).
  .refine((c) => c.uid === undefined || c.gid !== undefined, { path: ['gid'], error: 'give gid together with uid' });

const Constraints = z
  .strictObject({
    timeout: seconds.optional(),
    concurrency: z.number().int().min(1).max(1000).default(4),
    output_cap: z.number().int().min(1024).max(64 * 1024 * 1024).optional(),
    /** Commands that need a shell (pipes, redirections, …) may run here. Off unless said. */
    shell: z.boolean().default(false),
    sudo_policy: z.enum(SUDO_POLICIES).default('none'),
    /** With sudo_policy limited: the commands sudo may run (program, or program and arguments as a prefix). */
    sudo_allow: z.array(z.string().min(1)).default([]),
  })
  .prefault({})
  .superRefine((c, ctx) => {
    if (c.sudo_policy === 'limited' && c.sudo_allow.length === 0) ctx.addIssue({ code: 'custom', path: ['sudo_allow'], message: 'sudo_policy limited needs the commands it allows' });
  });

const common = {
  id: id.optional(),
  /** The reference's informational `type` (local | remote). */
  type: z.enum(['local', 'remote']).optional(),
  description: z.string().max(500).optional(),
  environments: z.array(environment).min(1).optional(),
  capabilities: z.array(CapabilitySchema).min(1),
  constraints: Constraints,
  segment: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/).optional(),
  /** shadow: the policy gate records what it would deny, and lets it through (for rolling out rules). */
  mode: z.enum(['enforce', 'shadow']).default('enforce'),
};

export const TargetSchema = z.discriminatedUnion('executor', [
  z.strictObject({ ...common, executor: z.literal('local'), connection: LocalConnection.prefault({}) }),
  z.strictObject({ ...common, executor: z.literal('ssh'), connection: SshConnection }),
  z.strictObject({ ...common, executor: z.literal('docker'), connection: DockerConnection }),
  z.strictObject({ ...common, executor: z.literal('workspace'), connection: WorkspaceConnection }),
]);
export type TargetSpec = z.infer<typeof TargetSchema>;

export const TargetsFileSchema = z
  .strictObject({
    version: z.union([z.string(), z.number()]).transform(String).default('1.0'),
    targets: z.record(id, TargetSchema),
  })
  .superRefine((file, ctx) => {
    for (const [key, target] of Object.entries(file.targets)) {
      if (target.id !== undefined && target.id !== key) ctx.addIssue({ code: 'custom', path: ['targets', key, 'id'], message: `must equal its key "${key}"` });
    }
  });
export type TargetsFile = z.infer<typeof TargetsFileSchema>;
