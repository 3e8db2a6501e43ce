// oidc-provider for the issuance comparison (BENCHMARKS.md): client_credentials, private_key_jwt
// client authentication (RS256), RS256 JWT access tokens via resource indicators.
// Usage: PORT=… CLIENT_JWK='{"kty":"RSA","n":…,"e":…}' [WORKERS=n] node server.mjs
//
// WORKERS=n (default 1) runs n processes with node:cluster sharing the port: Node runs JavaScript
// on one thread per process, so this is how the peer uses more than one core. Every worker signs
// with the same key; each keeps its own in-memory store (the default adapter), so a client
// assertion's jti is remembered only by the worker that saw it.
// Prints one JSON line once every process listens: {url, token_endpoint, pids}.
import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 0);
const workers = Number(process.env.WORKERS || 1);
if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
  console.error(`WORKERS must be a whole number from 1 to 64, got ${process.env.WORKERS}`);
  process.exit(2);
}
if (workers > 1 && !port) {
  console.error('WORKERS above 1 needs a fixed PORT: every process must agree on the issuer URL');
  process.exit(2);
}

function signingJwk() {
  if (process.env.SIGNING_JWK) return JSON.parse(process.env.SIGNING_JWK);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'server' };
}

function startLine(actualPort, pids) {
  const url = `http://127.0.0.1:${actualPort}`;
  console.log(JSON.stringify({ url, token_endpoint: `${url}/token`, pids }));
}

if (workers > 1 && cluster.isPrimary) {
  const env = { SIGNING_JWK: JSON.stringify(signingJwk()) };
  let listening = 0;
  const pids = [process.pid];
  for (let i = 0; i < workers; i++) {
    const w = cluster.fork(env);
    pids.push(w.process.pid);
    w.on('listening', () => {
      listening += 1;
      if (listening === workers) startLine(port, pids);
    });
    w.on('exit', (code) => {
      console.error(`oidc-provider worker ${w.process.pid} exited with ${code}`);
      process.exit(1);
    });
  }
} else {
  const clientJwk = JSON.parse(process.env.CLIENT_JWK);
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
    jwks: { keys: [signingJwk()] },
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
    if (cluster.isPrimary) startLine(server.address().port, [process.pid]);
  });
}
