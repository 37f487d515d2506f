import { describe, expect, it } from 'vitest';
import { parseInstruction, scoreInstruction, SECTIONS } from '../../src/approvals/instruction.js';
import { REFERENCE_INSTRUCTION } from '../../src/approvals/index.js';

describe('the 10-point instruction framework', () => {
  it('parses the reference instruction: every section and the Command: line', () => {
    const parsed = parseInstruction(REFERENCE_INSTRUCTION);
    expect(Object.keys(parsed.sections)).toEqual([...SECTIONS]);
    expect(parsed.sections.BOUNDARIES).toBe('Read-only');
    expect(parsed.command).toBe('echo test');
    expect(scoreInstruction(parsed, 'LOW')).toEqual({ score: 100, findings: [] });
  });

  it('reads names in any case, with spaces, list markers and values over several lines', () => {
    const parsed = parseInstruction('- deliverables: a report\n  with two parts\n## Success Criteria = it exits 0\ncommand:   ls -la\nquality_metrics: fast');
    expect(parsed.sections).toEqual({ DELIVERABLES: 'a report\nwith two parts', SUCCESS_CRITERIA: 'it exits 0', QUALITY_METRICS: 'fast' });
    expect(parsed.command).toBe('ls -la');
  });

  it('names every weak section: missing, empty, placeholder, thin, understated risk, no mitigation', () => {
    const text = 'DELIVERABLES: TBD\nSUCCESS_CRITERIA:\nBOUNDARIES: x\nDEPENDENCIES: None\nMITIGATION: None\nTEST_PROCESS: run it\nTEST_RESULTS_FORMAT: N/A\nRISK_ASSESSMENT: low risk\nQUALITY_METRICS: ...';
    const { score, findings } = scoreInstruction(parseInstruction(text), 'HIGH');
    expect(findings.map((finding) => [finding.section, finding.problem])).toEqual([
      ['DELIVERABLES', 'placeholder'],
      ['SUCCESS_CRITERIA', 'empty'],
      ['BOUNDARIES', 'thin'],
      ['MITIGATION', 'no_mitigation'],
      ['TEST_RESULTS_FORMAT', 'placeholder'],
      ['RESOURCE_REQUIREMENTS', 'missing'],
      ['RISK_ASSESSMENT', 'understated_risk'],
      ['QUALITY_METRICS', 'placeholder'],
    ]);
    // DEPENDENCIES and TEST_PROCESS score 10 each, BOUNDARIES 5.
    expect(score).toBe(25);
    expect(findings.find((finding) => finding.problem === 'understated_risk')?.message).toBe('RISK_ASSESSMENT declares LOW but the command is HIGH');
  });

  it('scores an empty instruction 0 with ten findings', () => {
    expect(scoreInstruction(parseInstruction(''), 'LOW')).toMatchObject({ score: 0, findings: expect.arrayContaining([expect.objectContaining({ problem: 'missing' })]) });
    expect(scoreInstruction(parseInstruction(''), 'LOW').findings).toHaveLength(10);
  });
});
