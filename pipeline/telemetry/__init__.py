"""caro's opt-in, anonymous usage telemetry: declared on the DAG, validated, stored locally.

Telemetry stays on the user's machine, in a SQLite file under CARO_HOME. Events hold closed
categories, numbers, flags, a random session id and a UTC time; every row is validated, and
searched for the request's sensitive context, before it is stored.

Modules: `declare` (@emits and the stage timer), `builders` (stage values to event drafts),
`events`, `schemas` and `privacy` (pandera validation), `migrations` and `store` (sqlite-utils),
`consent`, `recorder` (one flush per request). This package imports none of them itself:
the pipeline imports `declare` on every request, and pandera or sqlite-utils only load when
telemetry is on.
"""
