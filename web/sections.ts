/** The ten sections of the instruction framework, in order (as the server scores them). */
export const SECTIONS = [
  'DELIVERABLES',
  'SUCCESS_CRITERIA',
  'BOUNDARIES',
  'DEPENDENCIES',
  'MITIGATION',
  'TEST_PROCESS',
  'TEST_RESULTS_FORMAT',
  'RESOURCE_REQUIREMENTS',
  'RISK_ASSESSMENT',
  'QUALITY_METRICS',
] as const;
