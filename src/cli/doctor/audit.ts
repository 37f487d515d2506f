import type { ResolvedConfig } from '../../config/index.js';
import { messageOf } from '../../errors.js';
import { verifyConfiguredChain } from '../audit-verify.js';
import { fail, ok, type Finding } from './finding.js';

/** The whole audit chain verifies, as `airlock audit verify` checks it. */
export async function auditFinding(config: ResolvedConfig): Promise<Finding> {
  try {
    const report = await verifyConfiguredChain(config);
    if (report.ok) return ok('audit', `the chain verifies: ${report.count} events, ${report.checkpoints} signed checkpoint(s), head ${report.headSeq}`);
    return fail(
      'audit',
      `the chain is BROKEN at seq ${report.problem?.seq}: ${report.problem?.reason}`,
      '`airlock audit verify` shows the first bad event; find out what changed it, restore the last good backup (`airlock restore`) and record an incident (`airlock incidents add`)',
    );
  } catch (error) {
    return fail('audit', `cannot verify the chain: ${messageOf(error)}`, '`airlock audit verify` shows the same error; a missing public key can be given with --public-key');
  }
}
