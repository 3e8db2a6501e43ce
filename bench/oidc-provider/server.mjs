// oidc-provider for the issuance comparison (BENCHMARKS.md): client_credentials, private_key_jwt
// client authentication (RS256), RS256 JWT access tokens via resource indicators.
// Usage: PORT=… CLIENT_JWK='{"kty":"RSA","n":…,"e":…}' node server.mjs
import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';

const port = Number(process.env.PORT || 0);
const clientJwk = JSON.parse(process.env.CLIENT_JWK);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signing = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'server' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'bench',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'RS256',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    jwks: { keys: [{ ...clientJwk, use: 'sig', alg: 'RS256' }] },
  }],
  jwks: { keys: [signing] },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:openhybrid:bench',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: '', audience: 'urn:openhybrid:bench', accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
  },
});
if (process.env.DEBUG_BENCH) {
  provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_detail));
}
const server = provider.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}`, token_endpoint: `http://127.0.0.1:${server.address().port}/token` }));
});
