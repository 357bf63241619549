"""The simulated RAS host: profiles, registry discovery, export resolution, the lifecycle engine, traces."""
