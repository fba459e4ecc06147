from localsvc.host.cli import main

raise SystemExit(main())
