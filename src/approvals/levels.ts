import { z } from 'zod';

/** Risk levels, lowest first. */
export const LEVELS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export const RiskLevelSchema = z.enum(LEVELS);
export type RiskLevel = z.infer<typeof RiskLevelSchema>;

export function maxLevel(a: RiskLevel, b: RiskLevel): RiskLevel {
  return LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b;
}

export function raiseLevel(level: RiskLevel, steps: number): RiskLevel {
  return LEVELS[Math.min(LEVELS.length - 1, LEVELS.indexOf(level) + steps)] as RiskLevel;
}
