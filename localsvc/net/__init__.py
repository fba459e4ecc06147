"""Network pieces that run in the node: the service proxy (kernel NAT via nftables, or an
asyncio userspace fallback) and the glue that programs them. The DNS server lives here too."""
