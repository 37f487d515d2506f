export { Tokens, type MintInput, type MintResult, type TokenSettings } from './service.js';
export { CapabilityClaimsSchema, TokenVerifier, configuredKeySet, localKeySet, type CapabilityClaims, type CapabilityVerifier } from './verifier.js';
export { SigningKeyRing, rotateSigningKey, type PublicKey, type Rotation } from './keyring.js';
