"""The resident caro service and its light client.

`caro serve` holds what is expensive to make (the Hamilton driver, the tables, the rules, the
loaded model with its prompt prefix evaluated) and answers requests over a Unix socket in the
user's runtime directory; the `caro` client starts it on demand and imports almost nothing.

Modules: `endpoint` (where the socket lives, and the checks on it), `protocol` (framing and
the version handshake), `client` (connect, start on demand, ask), `spawn` (start it detached),
`server` (the socket loop, peer checks, idle exit), `handlers` (the operations), `wire` (the
`Result` across the socket). `endpoint`, `protocol`, `client` and `spawn` are light on purpose:
the request path of `caro` imports them and nothing heavy.
"""
