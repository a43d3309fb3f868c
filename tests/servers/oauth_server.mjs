// A real OAuth 2 authorization server for the tests: oauth2-mock-server (npm) on 127.0.0.1:PORT.
//
//   node oauth_server.mjs PORT
//
// It signs JWTs with real keys and serves /jwks, /.well-known/openid-configuration, /authorize
// (authorization code with PKCE) and /token (client_credentials, authorization_code, ...). Two
// hooks make it behave as the MCP authorization spec expects of a real server:
//   - RFC 8707: the `resource` of the authorization or token request becomes the token's `aud`;
//   - the scope granted at /authorize is the token's `scope`; a client_credentials token's `sub`
//     is its client id.
// Test-only routes (the tests' handle on the server, never used by the gateway):
//   POST /test/mint   {"claims": {...}, "kid"?: "...", "expiresIn"?: seconds}  -> {"token": "..."}
//   POST /test/keys   {"kid": "...", "alg"?: "RS256"}  -> the new public key (added to /jwks)
//   GET  /test/stats  -> {"jwksFetches": N}
import http from "node:http";
import { Events, OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

const port = Number(process.argv[2]);
const issuer = new OAuth2Issuer();
issuer.url = `http://127.0.0.1:${port}`;
await issuer.keys.generate("RS256", { kid: "key-1" });
const service = new OAuth2Service(issuer);

const grants = new Map(); // authorization code -> {scope, resource} asked for at /authorize
let jwksFetches = 0;

service.on(Events.BeforeAuthorizeRedirect, (redirect, req) => {
  const code = redirect.url.searchParams.get("code");
  if (code) grants.set(code, { scope: req.query.scope, resource: req.query.resource });
});

service.on(Events.BeforeTokenSigning, (token, req) => {
  const body = req.body ?? {};
  const grant = body.code !== undefined ? grants.get(body.code) : undefined;
  if (grant?.scope !== undefined) token.payload.scope = grant.scope;
  const resource = body.resource ?? grant?.resource;
  if (resource !== undefined) token.payload.aud = resource;
  if (body.grant_type === "client_credentials") token.payload.sub = clientId(req, body);
});

service.on(Events.BeforeResponse, (response, req) => {
  const body = req.body ?? {};
  const grant = body.code !== undefined ? grants.get(body.code) : undefined;
  if (grant?.scope !== undefined) response.body.scope = grant.scope;
});

function clientId(req, body) {
  const basic = req.headers.authorization ?? "";
  if (basic.startsWith("Basic ")) {
    const decoded = Buffer.from(basic.slice(6), "base64").toString("utf8");
    return decodeURIComponent(decoded.split(":")[0]);
  }
  return body.client_id;
}

function json(res, body, status = 200) {
  const content = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(content) });
  res.end(content);
}

service.addRoute("POST", "/test/mint", async (req, res) => {
  const { claims = {}, kid, expiresIn } = req.body ?? {};
  const token = await issuer.buildToken({
    kid,
    expiresIn,
    scopesOrTransform: (_header, payload) => Object.assign(payload, claims),
  });
  json(res, { token });
});

service.addRoute("POST", "/test/keys", async (req, res) => {
  const { kid, alg = "RS256" } = req.body ?? {};
  const key = await issuer.keys.generate(alg, { kid });
  json(res, issuer.keys.toJSON().find((k) => k.kid === key.kid));
});

service.addRoute("GET", "/test/stats", (_req, res) => json(res, { jwksFetches }));

const server = http.createServer((req, res) => {
  if ((req.url ?? "").split("?")[0] === "/jwks") jwksFetches += 1;
  service.requestHandler(req, res);
});
server.listen(port, "127.0.0.1", () => console.log(`oauth server on ${issuer.url}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
