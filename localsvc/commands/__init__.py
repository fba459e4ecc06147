"""The commands of the `localsvc` CLI, one module per group; localsvc.cli parses and dispatches."""
