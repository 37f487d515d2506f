export { Tokens, CapabilityClaimsSchema, type CapabilityClaims, type MintInput, type MintResult, type TokenSettings } from './service.js';
