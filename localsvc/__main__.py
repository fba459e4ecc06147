import sys

if sys.argv[1:2] == ["node"]:
    # The node container's command: straight to the node, without the host's command line
    # (argparse and every command module), which the node never uses.
    from localsvc.node.boot import main as node_main

    raise SystemExit(node_main())

from localsvc.host.cli import main

raise SystemExit(main())
