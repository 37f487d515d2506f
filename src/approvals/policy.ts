import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { AirlockError } from '../errors.js';
import { RiskLevelSchema, type RiskLevel } from './levels.js';

function regex(label: string) {
  return z.string().min(1).superRefine((source, ctx) => {
    try {
      new RegExp(source, 'i');
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `${label} is not a valid regular expression: ${(error as Error).message}` });
    }
  });
}

const RuleMatchSchema = z
  .strictObject({
    /** The program's name (basename of argv[0], or the first word of a shell script). */
    program: z.array(z.string().min(1)).min(1).optional(),
    /** A regular expression (case-insensitive) on the whole command line. */
    command: regex('command').optional(),
    /** A regular expression (case-insensitive) on the instruction text. */
    instruction: regex('instruction').optional(),
    /** true: only commands that need a shell; false: only plain argv. */
    shell: z.boolean().optional(),
    environments: z.array(z.string().min(1)).min(1).optional(),
    targets: z.array(z.string().min(1)).min(1).optional(),
  })
  .refine((match) => Object.keys(match).length > 0, { message: 'a rule must match on something' });

export const RuleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { error: 'must be lower-case letters, digits, ".", "_" or "-"' }),
  level: RiskLevelSchema,
  reason: z.string().min(1).max(300),
  /** Stop evaluating further rules when this one matches (for deliberate overrides). */
  final: z.boolean().default(false),
  match: RuleMatchSchema,
});
export type Rule = z.infer<typeof RuleSchema>;

export const DEFAULT_SENSITIVE_PATHS = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/sudoers',
  '/etc/sudoers.d/**',
  '/etc/ssh/ssh_host_*_key',
  '**/.ssh/id_*',
  '**/.ssh/authorized_keys',
  '**/*.key',
  '**/.gnupg/**',
] as const;

export const EnvironmentPolicySchema = z.strictObject({
  /** Levels above LOW are raised this many steps (production is stricter). */
  raise: z.number().int().min(0).max(3).default(0),
  /** Levels approved without a human. */
  autoApprove: z.array(RiskLevelSchema).default(['LOW']),
  /** Requests whose instruction scores below this are refused (422). */
  minScore: z.number().int().min(0).max(100).default(0),
  /** A pending request expires after this many minutes. */
  pendingMinutes: z.number().int().min(1).max(7 * 24 * 60).default(60),
  /** Levels whose every approval needs a fresh TOTP code (or an approved challenge) of the approver. */
  stepUp: z.array(RiskLevelSchema).default(['HIGH', 'CRITICAL']),
  /** How many distinct people must approve a request of each level (k of n); 1 where not named. */
  approvers: z.partialRecord(RiskLevelSchema, z.number().int().min(1).max(10)).default({ CRITICAL: 2 }),
});
export type EnvironmentPolicy = z.infer<typeof EnvironmentPolicySchema>;

export const PolicySchema = z.strictObject({
  /** Evaluate the built-in rules after the file's own (default true). */
  builtins: z.boolean().default(true),
  /** The level of a command no rule knows. */
  defaultLevel: RiskLevelSchema.default('MEDIUM'),
  rules: z.array(RuleSchema).default([]),
  environments: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/), EnvironmentPolicySchema.partial()).default({}),
  /**
   * Globs of paths whose reading or writing needs a TOTP step-up even when the level alone would be
   * approved automatically (the runbook's sensitive reads).
   */
  sensitivePaths: z.array(z.string().min(1).max(500)).max(500).default([...DEFAULT_SENSITIVE_PATHS]),
});
export type Policy = z.infer<typeof PolicySchema>;

const READ_ONLY_PROGRAMS = [
  'echo', 'printf', 'true', 'false', 'ls', 'cat', 'head', 'tail', 'grep', 'egrep', 'fgrep', 'wc', 'df', 'du', 'free', 'uptime',
  'whoami', 'id', 'hostname', 'date', 'uname', 'ps', 'pwd', 'stat', 'which', 'sleep', 'test', 'seq', 'sort', 'uniq', 'cut', 'tr',
  'diff', 'md5sum', 'sha256sum', 'file', 'lsblk', 'lscpu', 'nproc', 'journalctl', 'ss', 'netstat', 'basename', 'dirname', 'realpath',
];

/** The built-in rules: sensible defaults that policy.yaml can extend, override (final) or switch off. */
export const BUILTIN_RULES: readonly Rule[] = [
  { id: 'read-only', level: 'LOW', final: false, reason: 'a read-only command', match: { program: READ_ONLY_PROGRAMS, shell: false } },
  { id: 'read-only-docker', level: 'LOW', final: false, reason: 'reads container state', match: { command: '^docker\\s+(ps|logs|inspect|images|version|info)\\b', shell: false } },
  { id: 'read-only-systemctl', level: 'LOW', final: false, reason: 'reads service state', match: { command: '^systemctl\\s+(status|is-active|is-enabled|list-units|list-timers|show)\\b', shell: false } },
  { id: 'service-control', level: 'MEDIUM', final: false, reason: 'starts, stops or restarts a service', match: { command: '\\b(systemctl|service)\\s+(\\S+\\s+)?(restart|reload|start|stop|try-restart)\\b' } },
  { id: 'container-control', level: 'MEDIUM', final: false, reason: 'starts, stops or restarts containers', match: { command: '\\bdocker(\\s+compose|-compose)?\\s+(restart|start|stop|up|down|kill|rm|pause|unpause)\\b' } },
  { id: 'process-signal', level: 'MEDIUM', final: false, reason: 'signals processes', match: { program: ['kill', 'pkill', 'killall'] } },
  { id: 'instruction-restart', level: 'MEDIUM', final: false, reason: 'the instruction describes a restart or redeploy', match: { instruction: '\\b(restart|reload|redeploy)\\w*' } },
  { id: 'privilege', level: 'HIGH', final: false, reason: 'runs with raised privileges', match: { command: '(^|[\\s;&|(])(sudo|su|doas|pkexec)(\\s|$)' } },
  { id: 'package-change', level: 'HIGH', final: false, reason: 'installs, removes or upgrades packages', match: { command: '\\b(apt|apt-get|yum|dnf|zypper|apk|pip3?|npm|gem|cargo|brew|snap)\\s+(install|remove|purge|upgrade|update|uninstall|dist-upgrade|add|del)\\b' } },
  { id: 'etc-write', level: 'HIGH', final: false, reason: 'writes under /etc', match: { command: '(\\b(tee|cp|mv|install|ln|chmod|chown|truncate|rm|dd|rsync|touch)\\b.*\\s/etc/|\\bsed\\s+(-\\S*\\s+)*-i.*\\s/etc/|>\\s*/etc/)' } },
  { id: 'system-admin', level: 'HIGH', final: false, reason: 'changes users, firewall, mounts, kernel or schedules', match: { program: ['iptables', 'ip6tables', 'nft', 'ufw', 'useradd', 'userdel', 'usermod', 'groupadd', 'passwd', 'visudo', 'mount', 'umount', 'modprobe', 'sysctl', 'crontab', 'chattr'] } },
  { id: 'recursive-permissions', level: 'HIGH', final: false, reason: 'changes permissions or owners recursively', match: { command: '\\b(chmod|chown|chgrp)\\s+(-\\S*\\s+)*-\\S*R' } },
  { id: 'delete-root', level: 'CRITICAL', final: false, reason: 'deletes the root filesystem', match: { command: '^(?=.*\\brm\\b)(?=.*\\s-[a-z]*r)(?=.*\\s/\\*?(\\s|$))' } },
  { id: 'format-disk', level: 'CRITICAL', final: false, reason: 'formats or partitions a disk', match: { command: '\\b(mkfs(\\.\\w+)?|wipefs|fdisk|sfdisk|parted|mkswap)\\b' } },
  { id: 'write-device', level: 'CRITICAL', final: false, reason: 'writes to a block device', match: { command: '(\\bdd\\b.*\\bof=/dev/|>\\s*/dev/(sd|hd|vd|xvd|nvme|mmcblk))' } },
  { id: 'power', level: 'CRITICAL', final: false, reason: 'shuts down or reboots the machine', match: { command: '(^|[\\s;&|(])(shutdown|reboot|halt|poweroff)(\\s|$)|\\binit\\s+[06]\\b|\\bsystemctl\\s+(poweroff|reboot|halt|kexec)\\b' } },
  { id: 'pipe-to-shell', level: 'CRITICAL', final: false, reason: 'pipes a download into a shell', match: { command: '\\b(curl|wget|fetch)\\b[^|]*\\|\\s*(sudo\\s+)?(ba|z|da|k|fi)?sh\\b' } },
  { id: 'fork-bomb', level: 'CRITICAL', final: false, reason: 'a fork bomb', match: { command: ':\\(\\)\\s*\\{\\s*:\\s*\\|\\s*:\\s*&\\s*\\}' } },
  { id: 'world-writable-root', level: 'CRITICAL', final: false, reason: 'makes the whole filesystem world-writable', match: { command: '\\bchmod\\s+(-\\S+\\s+)*0?777\\s+/(\\s|$)' } },
];

/**
 * Built-in rules for `workspace` targets, evaluated after the others: reading a repository there is
 * routine (LOW), but naming a path that may be outside the workspace is for a person to judge (as
 * are options that follow symbolic links: see `assessRisk`).
 */
export const WORKSPACE_RULES: readonly Rule[] = [
  {
    id: 'workspace-read-only-git',
    level: 'LOW',
    final: false,
    reason: 'reads the repository in the workspace',
    match: { command: '^git\\s+(status|log|diff|show|ls-files|rev-parse|blame|shortlog|describe|grep)\\b(?!.*(\\s|=)(--output|--ext-diff|--textconv|--no-index|--open-files-in-pager|-O))', shell: false },
  },
  {
    id: 'workspace-git-branch-list',
    level: 'LOW',
    final: false,
    reason: 'lists the branches of the repository in the workspace',
    match: { command: '^git\\s+branch(\\s+(--list|-a|--all|-r|--remotes|-v|-vv|--verbose|--show-current|--no-color))*\\s*$', shell: false },
  },
  {
    id: 'workspace-outside-path',
    level: 'MEDIUM',
    final: false,
    reason: 'names a path that may be outside the workspace (absolute, ~ or ..)',
    match: { command: "(^|\\s)'?(~|/)|=/|(^|[\\s=/'])\\.\\.(/|'|\\s|$)" },
  },
];

/** Per-environment defaults: production raises levels and asks for a decent instruction. */
export const BUILTIN_ENVIRONMENTS: Readonly<Record<string, Partial<EnvironmentPolicy>>> = {
  dev: { minScore: 0 },
  test: { minScore: 0 },
  stg: { minScore: 40 },
  prd: { raise: 1, minScore: 60, pendingMinutes: 30 },
};

export const DEFAULT_POLICY: Policy = PolicySchema.parse({});

/** Loads policy.yaml; every problem is listed, with its path in the file. */
export function loadPolicy(file: string | undefined): Policy {
  return readPolicyFile(file).policy;
}

/** A policy as read from its file: what it says, where from, and the sha256 of the file's bytes. */
export interface PolicyState {
  /** The file, or `built-in` without one. */
  readonly source: string;
  /** sha256 of the file's bytes (null for the built-in policy): what each reload audits. */
  readonly sha256: string | null;
  readonly loadedAt: string;
  readonly policy: Policy;
}

/** Reads and checks policy.yaml (the built-in policy without a file); throws `policy_invalid` listing every problem. */
export function readPolicyFile(file: string | undefined): PolicyState {
  const loadedAt = new Date().toISOString();
  if (!file) return { source: 'built-in', sha256: null, loadedAt, policy: DEFAULT_POLICY };
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new AirlockError('policy_invalid', `cannot read the policy file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const document = parseDocument(bytes.toString('utf8'), { uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new AirlockError('policy_invalid', `the policy file ${file} is malformed YAML: ${document.errors[0]?.message.split('\n')[0]}`);
  }
  const parsed = PolicySchema.safeParse(document.toJS() ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new AirlockError('policy_invalid', `the policy file ${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { details: { problems } });
  }
  return { source: file, sha256: createHash('sha256').update(bytes).digest('hex'), loadedAt, policy: parsed.data };
}

/** Where the policy in force is read from at the moment it is used (never a copy taken earlier). */
export interface PolicySource {
  current(): Policy;
}

/**
 * The policy this instance judges requests by. A reload reads and checks the file first (`read`),
 * and only then replaces the whole policy at once (`swap`); every use asks for `current()`.
 */
export class PolicyHolder implements PolicySource {
  private loaded: PolicyState;

  /** The first load must succeed: an invalid policy refuses to start (fail closed). */
  constructor(readonly file: string | undefined) {
    this.loaded = readPolicyFile(file);
  }

  current(): Policy {
    return this.loaded.policy;
  }

  state(): PolicyState {
    return this.loaded;
  }

  /** Reads and checks the file again without changing what is in force. */
  read(): PolicyState {
    return readPolicyFile(this.file);
  }

  swap(next: PolicyState): void {
    this.loaded = next;
  }
}

export function environmentPolicy(policy: Policy, environment: string): EnvironmentPolicy {
  return EnvironmentPolicySchema.parse({ ...BUILTIN_ENVIRONMENTS[environment], ...policy.environments[environment] });
}

export type { RiskLevel };
