import { LEVELS, type RiskLevel } from './levels.js';
import { SECTIONS } from './sections.js';

export { SECTIONS };

export type Section = (typeof SECTIONS)[number];

/** The reference acceptance instruction (deployment guide, Test C), verbatim: every section, and the command on its own line. */
export const REFERENCE_INSTRUCTION =
  'DELIVERABLES: Test command\nSUCCESS_CRITERIA: Exit 0\nBOUNDARIES: Read-only\nDEPENDENCIES: None\nMITIGATION: None\nTEST_PROCESS: Run echo\nTEST_RESULTS_FORMAT: stdout\nRESOURCE_REQUIREMENTS: None\nRISK_ASSESSMENT: Low\nQUALITY_METRICS: Success\n\nCommand: echo test';

export interface Finding {
  readonly section: Section;
  readonly problem: 'missing' | 'empty' | 'placeholder' | 'thin' | 'understated_risk' | 'no_mitigation';
  readonly message: string;
}

export interface ParsedInstruction {
  readonly sections: Partial<Record<Section, string>>;
  /** The `Command:` line, if there is one. */
  readonly command: string | undefined;
}

export interface InstructionScore {
  /** 0-100: ten points a section, less for weak ones. */
  readonly score: number;
  readonly findings: readonly Finding[];
}

const HEADER = new RegExp(`^[\\s>*#-]*(${SECTIONS.map((s) => s.replace(/_/g, '[ _]')).join('|')})\\s*[:=]\\s*(.*)$`, 'i');
const COMMAND_LINE = /^[\s>*#-]*command\s*:\s*(.*)$/i;
const PLACEHOLDER = /^(tbd|tbc|todo|fixme|xxx|n\/?a|placeholder|fill (this |me )?in|lorem ipsum.*|\?+|\.{2,}|-+|<[^>]*>)$/i;
/** "None" is a real answer where nothing is needed; elsewhere it says nothing. */
const NONE_ALLOWED = new Set<Section>(['DEPENDENCIES', 'RESOURCE_REQUIREMENTS', 'MITIGATION']);

/** Splits an instruction into its sections (case-insensitive names, values over several lines) and its Command: line. */
export function parseInstruction(text: string): ParsedInstruction {
  const sections: Partial<Record<Section, string>> = {};
  let command: string | undefined;
  let current: Section | undefined;
  for (const line of text.split(/\r?\n/)) {
    const header = HEADER.exec(line);
    if (header) {
      current = (header[1] as string).toUpperCase().replace(/ /g, '_') as Section;
      sections[current] = (header[2] as string).trim();
      continue;
    }
    const commandLine = COMMAND_LINE.exec(line);
    if (commandLine) {
      command = (commandLine[1] as string).trim() || undefined;
      current = undefined;
      continue;
    }
    if (current && line.trim() !== '') sections[current] = `${sections[current] ?? ''}\n${line.trim()}`.trim();
  }
  return { sections, command };
}

/**
 * Scores completeness and quality: each section is worth 10 points; a missing one 0, an empty or
 * placeholder one 0, a thin one 5. A declared risk below the computed one costs the risk section, and
 * "no mitigation" for anything above LOW costs the mitigation section.
 */
export function scoreInstruction(parsed: ParsedInstruction, computedRisk: RiskLevel): InstructionScore {
  const findings: Finding[] = [];
  let score = 0;
  for (const section of SECTIONS) {
    const value = parsed.sections[section];
    const name = section.toLowerCase().replace(/_/g, ' ');
    if (value === undefined) {
      findings.push({ section, problem: 'missing', message: `${section} is missing` });
      continue;
    }
    if (value === '') {
      findings.push({ section, problem: 'empty', message: `${section} is empty` });
      continue;
    }
    if (PLACEHOLDER.test(value) || (/^none\.?$/i.test(value) && !NONE_ALLOWED.has(section))) {
      findings.push({ section, problem: 'placeholder', message: `${section} is a placeholder ("${value}"): say what the ${name} really are` });
      continue;
    }
    if (section === 'RISK_ASSESSMENT') {
      const declared = declaredLevel(value);
      if (declared && LEVELS.indexOf(declared) < LEVELS.indexOf(computedRisk)) {
        findings.push({ section, problem: 'understated_risk', message: `RISK_ASSESSMENT declares ${declared} but the command is ${computedRisk}` });
        continue;
      }
    }
    if (section === 'MITIGATION' && /^none\.?$/i.test(value) && computedRisk !== 'LOW') {
      findings.push({ section, problem: 'no_mitigation', message: `MITIGATION says none for a ${computedRisk} request: say how a failure is undone` });
      continue;
    }
    if (value.replace(/[^\p{L}\p{N}]/gu, '').length < 2) {
      findings.push({ section, problem: 'thin', message: `${section} says too little ("${value}")` });
      score += 5;
      continue;
    }
    score += 10;
  }
  return { score, findings };
}

function declaredLevel(text: string): RiskLevel | undefined {
  const match = /\b(critical|high|medium|low)\b/i.exec(text);
  return match ? ((match[1] as string).toUpperCase() as RiskLevel) : undefined;
}
