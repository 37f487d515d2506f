export { INCIDENT_ACTION, Incidents, listIncidents } from './service.js';
export { IncidentInput, IncidentQuery, SEVERITIES, Severity, type Incident, type IncidentFilter } from './schema.js';
export { incidentRoutes } from './routes.js';
