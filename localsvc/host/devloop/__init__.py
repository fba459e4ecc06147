"""The developer loop: project image builds, file sync, watching, the foreground `up`."""
