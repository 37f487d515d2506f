// No imports: the web console bundles this file as it is.
/** The 10-point instruction framework of the reference deployments, in its order. */
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
