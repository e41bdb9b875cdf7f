"""The local control channel: the CLI (and scripts) talking to the running app.

protocol.py  the request/reply language (pure: stdlib + core)
server.py    `ControlServer`, the app's side: a Unix socket in the per-user runtime dir
client.py    `send()`, the CLI's side; raises `NotRunning` when nothing listens

Windows gap: CPython has no AF_UNIX there, so `ControlServer.start()` raises
`server.ControlUnavailable` and `client.send()` raises `client.ControlUnavailable` (the CLI
prints one line, exit 1). The planned equivalent is a per-user named pipe
(\\\\.\\pipe\\psoas-break-<user SID>) carrying the same JSON lines; the modules import there.
"""
