"""The gateway as an OAuth 2.1 resource server (MCP authorization, revision 2025-11-25).

``gate`` decides who a request comes from (static tokens, then access tokens), ``tokens`` checks a
JWT, ``keys`` fetches and caches the issuer's signing keys, ``metadata`` builds the RFC 9728
documents and URLs. Configured by ``mcpProxy.options.oauth`` (``config.oauth``).
"""
