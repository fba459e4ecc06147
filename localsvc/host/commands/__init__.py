"""The commands of the `localsvc` CLI, one module per group; localsvc.host.cli parses and dispatches."""
