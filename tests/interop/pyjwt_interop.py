"""PyJWT side of the s2s-proto interop test.

verify <cert.pem> <token> <audience> <issuer>: verify an RS256 actor token with the certificate's
public key (PyJWT, strict: algorithms=[RS256], aud, iss, exp, nbf required) and print its claims.
sign <key.pem> <x5t> <claims.json>: sign claims with RS256 under a header carrying x5t and kid.
"""
import json
import sys

import jwt
from cryptography import x509


def main() -> int:
    cmd = sys.argv[1]
    if cmd == "verify":
        cert = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
        claims = jwt.decode(
            sys.argv[3],
            cert.public_key(),
            algorithms=["RS256"],
            audience=sys.argv[4],
            issuer=sys.argv[5],
            options={"require": ["exp", "nbf", "iss", "aud"]},
            leeway=300,
        )
        header = jwt.get_unverified_header(sys.argv[3])
        print(json.dumps({"header": header, "claims": claims}))
        return 0
    if cmd == "sign":
        key = open(sys.argv[2], "rb").read()
        claims = json.load(open(sys.argv[4]))
        token = jwt.encode(claims, key, algorithm="RS256", headers={"x5t": sys.argv[3], "kid": sys.argv[3]})
        print(token)
        return 0
    print(f"unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
