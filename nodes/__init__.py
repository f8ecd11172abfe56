"""Hamilton node modules, one per stage of a request: parse, static match, generate, refine, safety, emit."""
